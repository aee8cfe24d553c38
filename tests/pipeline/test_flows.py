"""The flows' glue without Airflow: feed pull by position (duplicates and broken rows kept, crash
resume), the vendor mapping, overdue flags, failure records and the webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.feeds import FeedClient, pull_county, release_inbound
from connectors.models import InboundRow
from connectors.peer_registry import load_registry, map_row
from connectors.resilience import Timing
from core import failpoints, ledger
from core.db import Database, utcnow
from core.errors import FailpointHit
from core.runtime import open_database
from core.settings import Settings
from migrations import runner
from pipeline import FlowContext
from pipeline.alerts import FAILURE_STREAM, record_task_failure
from pipeline.context import FLOW_STREAM
from pipeline.issue import flag_overdue
from pipeline.models import AWAITING, CaseLicense
from sandbox.countyfeed import CountyFeed, to_vendor_b
from sandbox.server import RunningServer, start
from tests.crypt import sealed_database

FAST = Timing(connect_timeout_s=0.5, read_timeout_s=1.0, backoff_s=0.001, max_backoff_s=0.01, attempts=3)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 't.db'}"
    runner.upgrade(url)
    db = sealed_database(url)
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
    rows = [json.loads(r.payload) for r in landed if r.payload is not None]
    assert rows[:25] == _rows(25)  # mapped back to the contract exactly, defects included
    assert rep.cursor == "28"
    # once a raw batch holds rows 1..10, their payloads go (once); the others stay for the next cut
    with database.session() as s:
        assert release_inbound(s, "county_511825", landed[0].id, landed[9].id) == 10
        assert release_inbound(s, "county_511825", landed[0].id, landed[9].id) == 0
        assert release_inbound(s, "county_other", landed[0].id, landed[-1].id) == 0
    with database.session() as s:
        kept = [r.payload is not None for r in s.scalars(select(InboundRow).order_by(InboundRow.id))]
    assert kept == [False] * 10 + [True] * 18


def test_vendor_mapping_round_trips_every_contract_column() -> None:
    from contracts.fields import CASE_TABLES, TABLES

    mapping = load_registry().mapping_for("county_511825")
    for table in CASE_TABLES:
        row = {"table": table, **{c: f"v-{c}" for c in TABLES[table].columns}}
        got_table, got = map_row(to_vendor_b(row), mapping)
        assert got_table == table and got == row


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
    db = open_database(settings)
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
