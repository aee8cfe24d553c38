"""Issue 18, items 3 and 4 (pipeline/materials.py, README "容缺受理 and 免提交"):

* 容缺: a finished case with a material accepted as missing is not issued until the material is
  supplied; a missed supply date is flagged once (re-running the monitor does not flag again) and
  stops the case's clock; a late supply extends the deadline by the days past the supply date.
* 免提交: a valid reference to the applicant's own license is verified and recorded once in the use
  ledger — visible through the holder's uses — however often the flow runs; an unknown, expired,
  suspended, revoked or another holder's license each holds the case with its own reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from contracts import rules as R
from contracts.models import DepartmentApproval
from contracts.validators import make_license_id
from core import ledger
from core.casematerials import HELD, MISSING, SUPPLIED, VERIFIED, CaseMaterial
from core.casestore import AcceptedRow, CaseStore
from core.sealing import seal_value
from core.uselog import ApiUseIndex
from gateway.uses import uses_of_licenses
from licenses import LicenseRegistry
from pipeline import FlowContext, issue, materials, sla
from pipeline.context import FLOW_STREAM
from pipeline.models import AWAITING, ISSUED, Approval, CaseDeadline, CaseLicense
from sandbox.generator import approvals_path, write_case_files
from tests.licenses.conftest import LicEnv, business_request, make_env

Row = dict[str, Any]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LicEnv]:
    e = make_env(tmp_path_factory.mktemp("materials") / "var")
    yield e
    e.db.dispose()


@pytest.fixture(scope="module")
def ctx(env: LicEnv) -> Iterator[FlowContext]:
    c = FlowContext(env.settings, database=env.db)
    yield c
    c.close()


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Row], list[Row]]:
    out = tmp_path_factory.mktemp("day") / "cases.jsonl"
    write_case_files(out, 400, seed=18, bad_ratio=0.0)
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    approvals = [json.loads(x) for x in approvals_path(out).read_text(encoding="utf-8").splitlines() if x]
    return rows, approvals


def _land(ctx: FlowContext, rows: list[Row]) -> None:
    """Rows in the case store as the quality gate leaves them."""
    with ctx.db.session() as s:
        CaseStore().add_accepted(
            s,
            [
                AcceptedRow(
                    r["row_guid"], r["table"], r["project_no"], None, "I", "c" * 64, None, json.dumps(r)
                )
                for r in rows
            ],
        )


def _material(pno: str, name: str, **kw: Any) -> Row:
    return {
        "table": "up_pro_material",
        "project_no": pno,
        "material_name": name,
        "material_type": "3",
        "row_guid": uuid.uuid4().hex,
        "cd_batch": "t",
        "cd_operation": "I",
        "cd_time": "2026-03-02T09:00:00+08:00",
        "data_source": "test",
        **kw,
    }


def _at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T02:00:00+00:00").astimezone(UTC)  # 10:00 in Shanghai


def _material_row(ctx: FlowContext, guid: str) -> CaseMaterial:
    with ctx.db.session() as s:
        m = s.get(CaseMaterial, guid)
        assert m is not None
        s.expunge(m)
    return m


# --- 容缺 --------------------------------------------------------------------------------------------


def test_a_license_is_issued_only_after_the_missing_material_is_supplied(
    ctx: FlowContext, day: tuple[list[Row], list[Row]]
) -> None:
    rows, approvals = day
    appr = next(a for a in approvals if a["type_code"] == "11100000YL0000012P001")  # a 营业执照 case
    pno = appr["project_no"]
    case = [r for r in rows if r["project_no"] == pno and r["table"] in ("up_pro_accept", "up_pro_result")]
    accept = next(r for r in case if r["table"] == "up_pro_accept")
    deferred = _material(pno, "经营场所使用证明", material_state="2", supply_by=accept["accept_date"])
    _land(ctx, [*case, deferred])
    with ctx.db.session() as s:
        record = DepartmentApproval.model_validate({k: v for k, v in appr.items() if k != "late"})
        s.add(
            Approval(
                approval_id=record.approval_id,
                peer="department_test",
                project_no=pno,
                task_code=record.task_code,
                type_code=record.type_code,
                payload=seal_value(
                    s, record.model_dump_json(), "flow_approvals", "payload", record.approval_id
                ),
                received_at=datetime.now(UTC).isoformat(),
            )
        )

    assert materials.run(ctx)["deferred"] == 1
    issue.discover_finished(ctx)
    issue.issue_ready(ctx)
    with ctx.db.session() as s:
        waiting = s.get(CaseLicense, (pno, appr["type_code"]))
        assert (
            waiting is not None and waiting.state == AWAITING
        )  # approval data is there: the material is not
    assert _material_row(ctx, deferred["row_guid"]).state == MISSING

    supply = _material(
        pno,
        "经营场所使用证明",
        material_state="3",
        supplied_date=accept["accept_date"],
        cd_operation="U",
    )
    _land(ctx, [supply])
    assert materials.run(ctx)["supplied"] == 1
    assert materials.run(ctx)["supplied"] == 0  # already matched
    m = _material_row(ctx, deferred["row_guid"])
    assert (m.state, m.supplied_guid, m.supplied_date) == (
        SUPPLIED,
        supply["row_guid"],
        accept["accept_date"],
    )
    issue.issue_ready(ctx)
    with ctx.db.session() as s:
        issued = s.get(CaseLicense, (pno, appr["type_code"]))
        assert issued is not None and issued.state == ISSUED and issued.license_id


def test_a_missed_supply_date_is_flagged_once_and_stops_the_clock(ctx: FlowContext) -> None:
    accept = {
        "table": "up_pro_accept",
        "project_no": "MISSED-1",
        "task_code": "11510129008589710X001",
        "org_code": "11510129008589710X",
        "region_code": "510129",
        "accept_date": "2026-03-02",
        "promise_date": "2026-03-05",
        "row_guid": uuid.uuid4().hex,
    }
    deferred = _material("MISSED-1", "食品安全管理制度", material_state="2", supply_by="2026-03-03")
    _land(ctx, [accept, deferred])
    materials.run(ctx)
    sla.track(ctx)

    assert sla.flag_missed(ctx, now=_at("2026-03-03")) == 0  # the supply date itself is still in time
    assert sla.flag_missed(ctx, now=_at("2026-03-04")) == 1
    assert sla.flag_missed(ctx, now=_at("2026-03-04")) == 0  # once
    assert sla.flag_missed(ctx, now=_at("2026-03-20")) == 0  # and once only, however late
    with ctx.db.session() as s:
        missed = [
            json.loads(e.payload)
            for e in ledger.entries(s, FLOW_STREAM)
            if e.kind == "material.supply_missed" and json.loads(e.payload)["project_no"] == "MISSED-1"
        ]
    assert [(e["material_row_guid"], e["supply_by"]) for e in missed] == [
        (deferred["row_guid"], "2026-03-03")
    ]
    assert _material_row(ctx, deferred["row_guid"]).missed_at is not None

    # its clock is stopped: past the promise date, but not flagged overdue
    sla.flag(ctx, now=_at("2026-03-20"))
    with ctx.db.session() as s:
        d = s.get(CaseDeadline, "MISSED-1")
        assert d is not None and d.state == "open" and d.deadline == "2026-03-05"

    # supplied late (2026-03-10): 03-04 .. 03-10 are five working days added to the deadline
    _land(
        ctx,
        [
            _material(
                "MISSED-1",
                "食品安全管理制度",
                material_state="3",
                supplied_date="2026-03-10",
                cd_operation="U",
            )
        ],
    )
    materials.run(ctx)
    sla.track(ctx)
    with ctx.db.session() as s:
        d = s.get(CaseDeadline, "MISSED-1")
        assert d is not None and d.deadline == "2026-03-12" and d.procedures == 1
    assert sla.flag(ctx, now=_at("2026-03-12")) == 0
    assert sla.flag(ctx, now=_at("2026-03-13")) >= 1  # the clock runs again
    with ctx.db.session() as s:
        d = s.get(CaseDeadline, "MISSED-1")
        assert d is not None and d.state == "overdue"


# --- 免提交 ------------------------------------------------------------------------------------------


def _food_case(pno: str, holder_code: str) -> Row:
    return {
        "table": "up_pro_accept",
        "project_no": pno,
        "task_code": "11510129008589710X4000120002000",
        "org_code": "11510129008589710X",
        "region_code": "510129",
        "applyer_type": "6",
        "applyer_id_type": "001",
        "applyer_id": holder_code,
        "accept_date": "2026-03-02",
        "promise_date": "2026-03-09",
        "row_guid": uuid.uuid4().hex,
    }


def _reference(pno: str, license_id: str) -> Row:
    return _material(
        pno, "营业执照(电子证照免提交)", material_type="4", material_state="4", license_ref=license_id
    )


def _uses(ctx: FlowContext, license_id: str) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        return [u for u in uses_of_licenses(s, [license_id]) if u["op"] == "intake"]


def test_a_valid_reuse_is_recorded_once_and_the_holder_sees_it(env: LicEnv, ctx: FlowContext) -> None:
    lic = env.registry.issue(business_request())
    holder = lic_holder(env, lic.license_id)
    ref = _reference("REUSE-OK", lic.license_id)
    _land(ctx, [_food_case("REUSE-OK", holder), ref])

    first = materials.run(ctx)
    assert (first["verified"], first["uses_recorded"]) == (1, 1)
    for _ in range(2):  # the flow re-runs: nothing new
        again = materials.run(ctx)
        assert (again["references"], again["verified"], again["uses_recorded"]) == (0, 0, 0)
    m = _material_row(ctx, ref["row_guid"])
    assert m.state == VERIFIED and m.use_stream == materials.INTAKE_STREAM and m.use_seq

    # the holder's uses route: their licenses (blind-index look-up), then the uses of those
    mine = [v.license_id for v in env.registry.find_by_holder(holder, "001")]
    assert lic.license_id in mine
    with ctx.db.session() as s:
        listed = [u for u in uses_of_licenses(s, mine) if u["op"] == "intake"]
        indexed = s.scalar(
            select(func.count()).select_from(ApiUseIndex).where(ApiUseIndex.license_id == lic.license_id)
        )
    assert len(listed) == 1 and indexed == 1
    use = listed[0]
    assert use["purpose"] == "办事" and use["cause"] == "REUSE-OK"
    assert use["dept_code"] == "11510129008589710X" and use["result"] == "verified"
    assert use["ledger"]["stream"] == materials.INTAKE_STREAM and use["ledger"]["entry_hash"]
    with ctx.db.session() as s:
        assert all(r.ok for r in ledger.verify_chain(s, materials.INTAKE_STREAM))


def lic_holder(env: LicEnv, license_id: str) -> str:
    view = env.registry.get(license_id, history=False)
    return str(view.holders[0].code)


def test_each_bad_reference_holds_its_case_with_its_own_reason(env: LicEnv, ctx: FlowContext) -> None:
    reg = env.registry
    someone = reg.issue(business_request())
    suspended = reg.issue(business_request())
    reg.transition(suspended.license_id, "suspend", reason="测试暂扣", actor="test")
    revoked = reg.issue(business_request())
    reg.transition(revoked.license_id, "revoke", reason="测试吊销", actor="test")
    old = LicenseRegistry(reg.db, reg.store, reg.seals, clock=lambda: datetime(2023, 6, 1, 2, tzinfo=UTC))
    expired = old.issue(replace(business_request(), valid_until=date(2024, 1, 1)))
    unknown = make_license_id("11100000YL0000012P001", "11510129008589710X", "2099000001")
    stranger = lic_holder(env, reg.issue(business_request()).license_id)

    cases = {  # case -> (applicant, license referenced, the reason expected)
        "HOLD-UNKNOWN": (stranger, unknown, R.LICENSE_REF_UNKNOWN),
        "HOLD-EXPIRED": (lic_holder(env, expired.license_id), expired.license_id, R.LICENSE_REF_EXPIRED),
        "HOLD-SUSPENDED": (
            lic_holder(env, suspended.license_id),
            suspended.license_id,
            R.LICENSE_REF_SUSPENDED,
        ),
        "HOLD-REVOKED": (lic_holder(env, revoked.license_id), revoked.license_id, R.LICENSE_REF_REVOKED),
        "HOLD-OTHER": (stranger, someone.license_id, R.LICENSE_REF_HOLDER_MISMATCH),
    }
    refs = {}
    for pno, (applicant, lid, _) in cases.items():
        refs[pno] = _reference(pno, lid)
        _land(ctx, [_food_case(pno, applicant), refs[pno]])
    ran = materials.run(ctx)
    assert ran["held"] == len(cases) and ran["verified"] == 0
    got = {pno: _material_row(ctx, refs[pno]["row_guid"]) for pno in cases}
    assert {p: (m.state, m.reason) for p, m in got.items()} == {p: (HELD, c[2]) for p, c in cases.items()}
    assert len({m.reason for m in got.values()}) == len(cases)  # distinct reasons
    assert all(m.detail for m in got.values())
    for _, lid, _ in cases.values():
        assert _uses(ctx, lid) == []  # nothing recorded for a reference that did not pass
    assert materials.run(ctx)["held"] == 0  # judged once; the hold stays with its reason
    with ctx.db.session() as s:
        from core.casematerials import blocking

        assert set(blocking(s, list(cases))) == set(cases)  # each case is held from issuance


def test_held_cases_are_shown_on_the_dq_site_and_by_the_cli(
    env: LicEnv, ctx: FlowContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the tests above: the held references (each reason) and the missed supply date are on the
    data-quality site's holds page and in ``tongban cases materials``."""
    from typer.testing import CliRunner

    from quality.site import QualitySite
    from tongban.cli import app

    page = QualitySite(env.settings, database=env.db).page("holds.html")
    assert page is not None
    html = page.decode()
    for rid in (
        R.LICENSE_REF_UNKNOWN,
        R.LICENSE_REF_EXPIRED,
        R.LICENSE_REF_REVOKED,
        R.LICENSE_REF_HOLDER_MISMATCH,
    ):
        assert f"data-reason='{rid}'" in html
    assert "HOLD-OTHER" in html and "REUSE-OK" not in html  # a verified reference holds nothing
    assert "MISSED-1" not in html  # supplied late: no longer held

    monkeypatch.setenv("TONGBAN_DATA_DIR", str(env.settings.data_path))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", env.settings.keys.passphrase.get_secret_value())  # type: ignore[union-attr]
    out = CliRunner().invoke(app, ["cases", "materials", "--state", "held", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    reasons = {m["project_no"]: m["reason"] for m in doc["materials"]}
    assert (
        reasons["HOLD-REVOKED"] == R.LICENSE_REF_REVOKED and reasons["HOLD-UNKNOWN"] == R.LICENSE_REF_UNKNOWN
    )
    assert doc["counts"]["licenses_reused"] == 1 and doc["counts"]["deferred_missed"] == 1
