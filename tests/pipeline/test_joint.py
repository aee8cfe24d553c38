"""Joint cases (联办件) through the issue flow: members arrive out of order and finish one by one;
their licenses are held until every member of the theme has finished, then issued in one run and
listed in one result record, each license verifying; a refused member (不予许可) ends the joint
case with the reason and the other members' results; overdue joint cases are flagged once; a member
naming another theme than its joint case is refused with the record and field named."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from contracts.catalog import load_catalog
from contracts.models import DepartmentApproval
from contracts.validators import make_resident_id, make_uscc
from core.casestore import AcceptedRow, CaseStore
from core.jointcases import GRANTED, OPEN, OVERDUE, REFUSED, JointCase, JointMember
from core.runtime import open_database
from core.sealing import seal_value
from core.settings import Settings
from licenses import verify_license
from licenses.pki import Pki
from migrations import runner
from pipeline import FlowContext, issue, joint, sla
from pipeline.errors import JointCaseError
from pipeline.models import Approval, CaseLicense

PASSPHRASE = "joint-test-passphrase"
BUSINESS, HOUSING = "T5101290002", "T5101290001"
HOLDER_ID = make_resident_id("510129", datetime(1990, 1, 1).date(), 123)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowContext]:
    data = tmp_path_factory.mktemp("joint") / "var"
    settings = Settings(data_dir=data, keys={"passphrase": PASSPHRASE})
    settings.data_path.mkdir(parents=True, exist_ok=True)
    runner.upgrade(settings.db_url)
    db = open_database(settings)
    Pki(settings, db=db).init()
    with FlowContext(settings, database=db) as c:
        yield c
    db.dispose()


def _land(ctx: FlowContext, *rows: tuple[str, str, dict[str, Any]]) -> None:
    with ctx.db.session() as s:
        CaseStore().add_accepted(
            s,
            [
                AcceptedRow(uuid.uuid4().hex, table, pno, None, "I", "b" * 64, None, json.dumps(data))
                for table, pno, data in rows
            ],
        )


def _accept(
    pno: str, theme: str, joint_no: str, task_code: str, accept: str
) -> tuple[str, str, dict[str, Any]]:
    item = load_catalog().item(task_code)
    return (
        "up_pro_accept",
        pno,
        {
            "project_no": pno,
            "task_code": task_code,
            "task_name": item.name,
            "org_code": item.department,
            "region_code": item.region_code,
            "applyer_type": "1",
            "applyer_name": "王小明",
            "applyer_id_type": "111",
            "applyer_id": HOLDER_ID,
            "accept_date": accept,
            "promise_day": item.promise_day,
            "joint_no": joint_no,
            "theme_code": theme,
        },
    )


def _result(
    pno: str, day: str, result_type: str = "1", cert_no: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    return (
        "up_pro_result",
        pno,
        {"project_no": pno, "result_date": day, "result_type": result_type, "result_cert_no": cert_no},
    )


def _approve(
    ctx: FlowContext, pno: str, task_code: str, day: str, fields: dict[str, str], holders: Any = ()
) -> None:
    item = load_catalog().item(task_code)
    assert item.license is not None
    appr = DepartmentApproval(
        approval_id=f"AP{pno}",
        project_no=pno,
        task_code=task_code,
        type_code=item.license.type_code,
        org_code=item.department,
        approved_date=day,
        sent_at=f"{day}T10:00:00+08:00",
        fields=fields,
        holders=list(holders),
    )
    with ctx.db.session() as s:
        s.add(
            Approval(
                approval_id=appr.approval_id,
                peer="dept-test",
                project_no=pno,
                task_code=task_code,
                type_code=appr.type_code,
                payload=seal_value(s, appr.model_dump_json(), "flow_approvals", "payload", appr.approval_id),
                received_at=f"{day}T02:00:00+00:00",
            )
        )


def _case(ctx: FlowContext, joint_no: str) -> JointCase:
    with ctx.db.session() as s:
        case = s.get(JointCase, joint_no)
        assert case is not None
        s.expunge(case)
        return case


def _license_state(ctx: FlowContext, pno: str) -> str | None:
    with ctx.db.session() as s:
        row = s.scalars(select(CaseLicense).where(CaseLicense.project_no == pno)).first()
        return row.state if row is not None else None


def test_business_members_in_parallel_hold_the_licence_until_all_finish(ctx: FlowContext) -> None:
    cat = load_catalog()
    theme = cat.theme(BUSINESS)
    licence_item, *others = theme.task_codes
    no = "LB5101292026042900001"
    pnos = [f"51012926042900{i}" for i in range(1, 5)]
    # the licence member and one other arrive first; the rest in a later batch
    _land(ctx, _accept(pnos[0], BUSINESS, no, licence_item, "2026-04-29"))
    _land(ctx, _accept(pnos[1], BUSINESS, no, others[0], "2026-04-29"))
    uscc = make_uscc("92", "510129", "MA6CXX01")
    _land(ctx, _result(pnos[0], "2026-05-06", cert_no=uscc))
    _approve(
        ctx,
        pnos[0],
        licence_item,
        "2026-05-06",
        {
            "KZ_MC": "大邑县王记小吃店",
            "KZ_ZCXS": "个人经营",
            "KZ_JYCS": "大邑县晋原街道1号",
            "KZ_JYFW": "小吃服务",
        },
    )
    issue.discover_finished(ctx)
    out = issue.issue_ready(ctx)
    case = _case(ctx, no)
    assert case.state == OPEN and case.promise_date == "2026-05-07"  # hand-computed: test_joint in contracts
    assert (case.joint_days, case.sequential_days) == (3, 6)
    assert out.get("issued", 0) == 0 and _license_state(ctx, pnos[0]) == "awaiting"  # held
    _land(ctx, _accept(pnos[2], BUSINESS, no, others[1], "2026-04-29"))
    _land(ctx, _accept(pnos[3], BUSINESS, no, others[2], "2026-04-29"))
    _land(ctx, *(_result(p, "2026-04-30") for p in pnos[1:3]))
    issue.discover_finished(ctx)
    assert issue.issue_ready(ctx).get("issued", 0) == 0  # one member still working
    _land(ctx, _result(pnos[3], "2026-05-07"))
    issue.discover_finished(ctx)
    out = issue.issue_ready(ctx)
    assert out["issued"] == 1 and out["joint_results"] == 1
    case = _case(ctx, no)
    assert case.state == GRANTED and case.done_date == "2026-05-07"
    result = json.loads(case.result or "{}")
    assert [m["project_no"] for m in result["members"]] == pnos
    assert len(result["licenses"]) == 1
    for lid in result["licenses"]:
        report = verify_license(ctx.licenses.file(lid), trust=ctx.trust, registry=ctx.licenses)
        assert report.valid, report.reasons
    shown = joint.show(ctx, no)
    assert HOLDER_ID not in json.dumps(shown, ensure_ascii=False)  # masked
    assert shown["holder"] == {"name": "王**", "id": HOLDER_ID[:4] + "*" * 10 + HOLDER_ID[-4:]}
    assert shown["days_saved"] == 3
    assert issue.issue_ready(ctx).get("issued", 0) == 0  # idempotent


def test_a_refused_member_ends_the_housing_case_with_the_reason(ctx: FlowContext) -> None:
    cat = load_catalog()
    theme = cat.theme(HOUSING)
    sign, tax, register = theme.task_codes
    no = "LB5101292026092900002"
    pnos = ["510129260929101", "510129260929102", "510129260929103"]
    _land(ctx, _accept(pnos[1], HOUSING, no, tax, "2026-09-29"))  # out of order
    _land(ctx, _accept(pnos[0], HOUSING, no, sign, "2026-09-29"))
    issue.discover_finished(ctx)
    case = _case(ctx, no)
    assert case.promise_date == "2026-10-13"  # across National Day, with the make-up Saturday
    _land(ctx, _result(pnos[0], "2026-09-30"), _result(pnos[1], "2026-10-08", result_type="2"))
    issue.discover_finished(ctx)
    issue.issue_ready(ctx)
    case = _case(ctx, no)
    assert case.state == REFUSED
    assert case.reason == f"存量房交易税费申报缴纳 ({tax}): 不予许可"
    result = json.loads(case.result or "{}")
    assert [(m["task_code"], m["result_type"]) for m in result["members"]] == [
        (sign, "1"),
        (tax, "2"),
        (register, None),
    ]
    assert result["licenses"] == [] and result["reason"] == case.reason


def test_an_open_joint_case_past_its_promise_date_is_flagged_once(ctx: FlowContext) -> None:
    no = "LB5101292026092900003"
    theme = load_catalog().theme(HOUSING)
    _land(ctx, _accept("510129260929201", HOUSING, no, theme.task_codes[0], "2026-09-29"))
    issue.discover_finished(ctx)
    at = datetime(2026, 10, 14, 2, tzinfo=UTC)  # 10:00 in Shanghai, the day after 10-13
    sla.track(ctx, now=at)  # the SLA monitor tracks the joint cases too
    assert sla.flag(ctx, now=at) >= 1
    assert _case(ctx, no).state == OVERDUE
    assert joint.flag(ctx, now=at) == 0


def test_a_member_of_another_theme_is_named(ctx: FlowContext, caplog: pytest.LogCaptureFixture) -> None:
    no = "LB5101292026092900002"  # the housing case above
    newborn = load_catalog().theme("T5101290003")
    _land(ctx, _accept("510129260929301", "T5101290003", no, newborn.task_codes[0], "2026-09-29"))
    _land(
        ctx,
        _accept(
            "510129260929302", "T9999999999", "LB5101292026092900009", newborn.task_codes[0], "2026-09-29"
        ),
    )
    with caplog.at_level(logging.WARNING, logger="pipeline.joint"):
        out = joint.track(ctx)
    assert out["rejected"] == 2 and out["added"] == 0
    assert (
        "up_pro_accept 510129260929301: theme_code T5101290003: joint_no LB5101292026092900002" in caplog.text
    )
    assert "up_pro_accept 510129260929302: theme_code / task_code" in caplog.text
    assert "unknown theme" in caplog.text
    with ctx.db.session() as s:  # neither was registered; the other joint cases go on
        assert s.get(JointMember, "510129260929301") is None
        assert s.get(JointCase, "LB5101292026092900009") is None
    with pytest.raises(JointCaseError, match="no joint case"):
        joint.show(ctx, "LB0000")


def test_cli_shows_a_joint_case_masked(ctx: FlowContext, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tongban.cli import app

    monkeypatch.setenv("TONGBAN_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", PASSPHRASE)
    cli = CliRunner()
    r = cli.invoke(app, ["cases", "joint", "show", "LB5101292026042900001", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["state"] == GRANTED and len(doc["result"]["licenses"]) == 1 and len(doc["members"]) == 4
    text = cli.invoke(app, ["cases", "joint", "show", "LB5101292026042900001"])
    assert text.exit_code == 0 and "开办企业一件事" in text.stdout and "issued together" in text.stdout
    listed = cli.invoke(app, ["cases", "joint", "list", "--state", "refused", "--json"])
    assert [c["joint_no"] for c in json.loads(listed.stdout)["joint_cases"]] == ["LB5101292026092900002"]
    for out in (r.stdout, text.stdout, listed.stdout):
        assert HOLDER_ID not in out
    missing = cli.invoke(app, ["cases", "joint", "show", "LB-NONE"])
    assert missing.exit_code == 1 and "no joint case" in missing.output
