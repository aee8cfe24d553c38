"""The flows' glue without Airflow: feed pull by position (duplicates and broken rows kept, crash
resume), the vendor mapping, the approval gate, overdue flags, failure records and the webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.feeds import FeedClient, pull_county
from connectors.models import InboundRow
from connectors.peer_registry import load_registry, map_row
from connectors.resilience import Timing
from core import failpoints, ledger
from core.db import Database, utcnow
from core.errors import FailpointHit
from core.settings import Settings
from gateway.flows import FlowContext
from gateway.flows.alerts import FAILURE_STREAM, record_task_failure
from gateway.flows.context import FLOW_STREAM
from gateway.flows.inbound import check_approval
from gateway.flows.issue import flag_overdue
from gateway.flows.models import AWAITING, CaseLicense
from migrations import runner
from sandbox.countyfeed import CountyFeed, to_vendor_b
from sandbox.server import RunningServer, start

FAST = Timing(connect_timeout_s=0.5, read_timeout_s=1.0, backoff_s=0.001, max_backoff_s=0.01, attempts=3)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 't.db'}"
    runner.upgrade(url)
    db = Database(url)
    yield db
    db.dispose()


def _rows(n: int) -> list[dict[str, Any]]:
    rows = [
        {
            "table": "up_pro_material",
            "project_no": f"P{i // 3}",
            "row_guid": f"g{i}",
            "material_name": "申请书",
        }
        for i in range(n)
    ]
    if n > 8:
        rows[5] = dict(rows[2])  # the county sends a row_guid again (a duplicate the gate must see)
        del rows[7]["row_guid"]  # and a row without one (quarantined by the gate, not lost here)
    return rows


@pytest.fixture
def feed() -> Iterator[tuple[CountyFeed, RunningServer]]:
    f = CountyFeed("511825", _rows(25), layout="vendor_b", token="t0k")
    srv = start(f)
    yield f, srv
    srv.close()


def test_pull_lands_every_row_by_feed_position_and_resumes_after_a_crash(
    database: Database, feed: tuple[CountyFeed, RunningServer]
) -> None:
    f, srv = feed
    reg = load_registry()
    mapping = reg.mapping_for("county_511825")
    client = FeedClient(srv.url, peer="county_511825", token="t0k", timing=FAST)
    failpoints.enable("pull.after_fetch", "3*raise")  # the third page is fetched, then we "crash"
    try:
        with pytest.raises(FailpointHit):
            pull_county(database, "county_511825", client, mapping, page_size=4)
    finally:
        failpoints.disable()
    f.append(_rows(3))  # the window system keeps recording
    rep = pull_county(database, "county_511825", client, mapping, page_size=4)
    client.close()
    with database.session() as s:
        landed = list(s.scalars(select(InboundRow).order_by(InboundRow.id)))
    assert [r.row_guid for r in landed] == [f"seq:{i}" for i in range(28)]  # no gap, no duplicate
    rows = [json.loads(r.payload) for r in landed]
    assert rows[:25] == _rows(25)  # mapped back to the contract exactly, defects included
    assert rep.cursor == "28"


def test_vendor_mapping_round_trips_every_contract_column() -> None:
    from contracts.fields import CASE_TABLES, TABLES

    mapping = load_registry().mapping_for("county_511825")
    for table in CASE_TABLES:
        row = {"table": table, **{c: f"v-{c}" for c in TABLES[table].columns}}
        got_table, got = map_row(to_vendor_b(row), mapping)
        assert got_table == table and got == row


def _approval(**over: Any) -> dict[str, Any]:
    from contracts.catalog import load_catalog

    item = next(
        i
        for i in load_catalog().items
        if i.license and i.region_code == "510129" and "holders" not in i.approval_keys
    )
    assert item.license is not None
    doc = {
        "approval_id": "AP-1",
        "project_no": "51012926010100000001",
        "task_code": item.task_code,
        "type_code": item.license.type_code,
        "org_code": item.department,
        "approved_date": "2026-01-05",
        "sent_at": "2026-01-05T10:00:00+08:00",
        "fields": {k: "某值" for k in item.approval_keys},
    }
    doc.update(over)
    return doc


def test_approval_gate_names_every_reason() -> None:
    ok, reasons = check_approval(_approval())
    assert ok is not None and reasons == []
    _, reasons = check_approval(_approval(type_code="11100000YL0000020J001", fields={}))
    rules = {r["rule_id"] for r in reasons}
    assert rules == {"approval.type_mismatch", "approval.missing_field"}
    _, reasons = check_approval(_approval(task_code="NOSUCHITEM"))
    assert [r["rule_id"] for r in reasons] == ["approval.unknown_item"]
    _, reasons = check_approval(_approval(approved_date="2026/01/05"))
    assert reasons and reasons[0]["rule_id"] == "approval.schema" and reasons[0]["field"] == "approved_date"


def test_department_feed_reasons_are_contract_rule_ids() -> None:
    """Every reason the inbound flow gives is a rule of contracts.rules (never a free string), with a
    description for the quarantine report; none collides with a case-table rule."""
    from contracts.rules import INBOUND_RULES, RULES
    from gateway.flows.inbound import check_status_change

    given = {r["rule_id"] for r in check_approval(_approval(type_code="11100000YL0000020J001", fields={}))[1]}
    given |= {r["rule_id"] for r in check_approval(_approval(task_code="NOSUCHITEM"))[1]}
    given |= {r["rule_id"] for r in check_status_change({"action": "explode"})}
    # the status-change gate is the contract model the department OpenAPI document is made from
    good = {
        "change_id": "SC-1",
        "type_code": "11100000YL0000012P001",
        "license_no": "NO-1",
        "project_no": "510129000000000003",
        "action": "suspend",
        "reason": "经营场所与登记不符",
        "changed_at": "2026-11-20T10:00:00+08:00",
    }
    assert check_status_change(good) == []
    for bad, field in (({"changed_at": "yesterday"}, "changed_at"), ({"action": "explode"}, "action")):
        reasons = check_status_change({**good, **bad})
        assert [(r["rule_id"], r["field"]) for r in reasons] == [("status.schema", field)], reasons
    assert given and given <= set(INBOUND_RULES)
    assert not set(INBOUND_RULES) & set(RULES)
    assert all(r.description and r.severity == "quarantine" for r in INBOUND_RULES.values())
    assert {r.tables for r in INBOUND_RULES.values()} == {
        ("department_approval",),
        ("department_status_change",),
    }


def test_overdue_cases_are_flagged_once(database: Database, settings: Settings) -> None:
    ctx = FlowContext(settings, database=database)
    now = utcnow()
    with database.session() as s:
        for i, age in enumerate((100, 10)):
            stamp = (now - timedelta(hours=age)).isoformat(timespec="microseconds")
            s.add(
                CaseLicense(
                    project_no=f"P{i}",
                    type_code="T" * 21,
                    task_code="x",
                    state=AWAITING,
                    since=stamp,
                    updated_at=stamp,
                )
            )
    assert flag_overdue(ctx, now=now) == 1
    assert flag_overdue(ctx, now=now) == 0
    assert flag_overdue(ctx, now=now + timedelta(hours=80)) == 1
    with database.session() as s:
        entries = ledger.entries(s, FLOW_STREAM)
    assert [json.loads(e.payload)["project_no"] for e in entries] == ["P0", "P1"]


def test_task_failure_goes_to_the_ledger_and_the_webhook(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    done = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        received.append(json.loads(environ["wsgi.input"].read(size)))
        done.set()
        start_response("204 No Content", [])
        return [b""]

    srv = start(app)
    try:
        settings = Settings(data_dir=tmp_path / "var", failure_webhook_url=srv.url + "/hook")
        settings.data_path.mkdir(parents=True)
        runner.upgrade(settings.db_url)
        err = RuntimeError("province said no for 510129199001011238")
        doc = record_task_failure(settings, dag_id="d", task_id="t", run_id="r", try_number=2, error=err)
        assert done.wait(5)
    finally:
        srv.close()
    assert doc["webhook"] == "sent"
    assert received[0]["event"] == "tongban.task_failed" and received[0]["task_id"] == "t"
    assert "510129199001011238" not in json.dumps(received[0])  # resident IDs masked
    db = Database(settings.db_url)
    with db.session() as s:
        entries = ledger.entries(s, FAILURE_STREAM)
        assert len(entries) == 1 and ledger.verify_chain(s, FAILURE_STREAM)[0].ok
    db.dispose()


def test_feed_errors_are_translated_and_retried(feed: tuple[CountyFeed, RunningServer]) -> None:
    from connectors.errors import AuthError, ServerError
    from sandbox.faults import FaultInjector, FaultPlan

    f, srv = feed
    client = FeedClient(srv.url, peer="county_511825", token="wrong", timing=FAST)
    with pytest.raises(AuthError):
        client.page("/v1/changes", None, 5)
    client.close()
    flaky = start(FaultInjector(f, FaultPlan(error=1.0), soap=False))
    try:
        client = FeedClient(flaky.url, peer="county_511825", token="t0k", timing=FAST)
        with pytest.raises(ServerError) as info:
            client.page("/v1/changes", None, 5)
        assert info.value.attempt == FAST.attempts  # retried, then given up
        client.close()
    finally:
        flaky.close()
