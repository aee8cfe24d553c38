"""The SLA monitor (办件时限监控): deadlines from promise dates and special procedures (DOMAIN.md §6
vector), overdue flagged once with a ledger entry, late and on-time completions told apart,
provisional deadlines across an unknown year, re-runs that change nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core import ledger
from core.casestore import AcceptedRow, CaseStore
from core.runtime import open_database
from core.settings import Settings
from migrations import runner
from pipeline import FlowContext, sla
from pipeline.context import FLOW_STREAM
from pipeline.models import DONE, DONE_LATE, OPEN, OVERDUE, CaseDeadline
from tests.crypt import sealed_database


@pytest.fixture
def ctx(tmp_path: Path, settings: Settings) -> Iterator[FlowContext]:
    url = f"sqlite:///{tmp_path / 'sla.db'}"
    runner.upgrade(url)
    db = sealed_database(url)
    yield FlowContext(settings, database=db)
    db.dispose()


def _land(ctx: FlowContext, *rows: tuple[str, str, dict[str, Any]]) -> None:
    """Accepted rows in the case store, as the quality gate leaves them: (table, project_no, data)."""
    with ctx.db.session() as s:
        CaseStore().add_accepted(
            s,
            [
                AcceptedRow(uuid.uuid4().hex, table, pno, None, "I", "b" * 64, None, json.dumps(data))
                for table, pno, data in rows
            ],
        )


def _accept(pno: str, promise: str, **over: Any) -> tuple[str, str, dict[str, Any]]:
    data = {
        "project_no": pno,
        "task_code": "11510129008589710X001",
        "org_code": "11510129008589710X",
        "region_code": "510129",
        "accept_date": "2026-03-02",
        "promise_date": promise,
        "applyer_id": "510129199001011234",
    }
    data.update(over)
    return ("up_pro_accept", pno, data)


def _at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T02:00:00+00:00").astimezone(UTC)  # 10:00 in Shanghai


def _states(ctx: FlowContext) -> dict[str, CaseDeadline]:
    with ctx.db.session() as s:
        rows = list(s.scalars(select(CaseDeadline)))
        s.expunge_all()
    return {d.project_no: d for d in rows}


def test_special_procedures_extend_the_deadline_by_their_working_days(ctx: FlowContext) -> None:
    # DOMAIN.md §6: promise 2026-03-10, one procedure 2026-03-04..05 (two working days) -> 2026-03-12
    _land(
        ctx,
        _accept("P1", "2026-03-10"),
        ("up_pro_special_procedure", "P1", {"start_date": "2026-03-04", "end_date": "2026-03-05"}),
    )
    assert sla.track(ctx)["added"] == 1
    d = _states(ctx)["P1"]
    assert (d.promise_date, d.deadline, d.procedures, d.provisional) == ("2026-03-10", "2026-03-12", 1, False)
    assert sla.flag(ctx, now=_at("2026-03-11")) == 0  # past the promise date, within the extension
    assert sla.flag(ctx, now=_at("2026-03-12")) == 0  # the deadline day itself is still on time
    assert sla.flag(ctx, now=_at("2026-03-13")) == 1
    assert _states(ctx)["P1"].state == OVERDUE


def test_overdue_is_flagged_once_with_a_ledger_entry_and_no_personal_data(ctx: FlowContext) -> None:
    _land(ctx, _accept("P1", "2026-03-05"), _accept("P2", "2026-03-20"))
    sla.track(ctx)
    assert sla.flag(ctx, now=_at("2026-03-09")) == 1
    assert sla.flag(ctx, now=_at("2026-03-10")) == 0  # once
    assert sla.track(ctx) == {"added": 0, "closed": 0, "watched": 2}  # nothing new: nothing changes
    with ctx.db.session() as s:
        entries = [e for e in ledger.entries(s, FLOW_STREAM) if e.kind == "case.overdue"]
    assert len(entries) == 1
    doc = json.loads(entries[0].payload)
    assert doc["project_no"] == "P1" and doc["deadline"] == "2026-03-05" and doc["as_of"] == "2026-03-09"
    assert "510129199001011234" not in entries[0].payload and "applyer_id" not in doc
    assert sla.counts(ctx) == {OVERDUE: 1, OPEN: 1}


def test_results_close_cases_on_time_or_late(ctx: FlowContext) -> None:
    _land(ctx, _accept("P1", "2026-03-05"), _accept("P2", "2026-03-05"), _accept("P3", "2026-03-05"))
    sla.track(ctx)
    sla.flag(ctx, now=_at("2026-03-09"))  # all three overdue by now
    _land(
        ctx,
        ("up_pro_result", "P1", {"result_date": "2026-03-05"}),  # on the deadline day: on time
        ("up_pro_result", "P2", {"result_date": "2026-03-10"}),  # the result came late
    )
    rep = sla.track(ctx)
    assert rep["closed"] == 2 and rep["watched"] == 1
    st = _states(ctx)
    assert (st["P1"].state, st["P1"].done_date) == (DONE, "2026-03-05")
    assert (st["P2"].state, st["P2"].done_date) == (DONE_LATE, "2026-03-10")
    assert st["P3"].state == OVERDUE
    assert sla.track(ctx)["closed"] == 0  # closed cases are not looked at again


def test_a_deadline_into_an_unknown_year_is_provisional(ctx: FlowContext) -> None:
    _land(
        ctx,
        _accept("P1", "2026-12-31"),
        ("up_pro_special_procedure", "P1", {"start_date": "2026-12-28", "end_date": "2027-01-08"}),
    )
    sla.track(ctx)
    d = _states(ctx)["P1"]
    assert d.provisional is True and d.deadline > "2027-01-08"


def test_a_procedure_recorded_later_moves_the_deadline(ctx: FlowContext) -> None:
    _land(ctx, _accept("P1", "2026-03-10"))
    sla.track(ctx)
    assert _states(ctx)["P1"].deadline == "2026-03-10"
    _land(ctx, ("up_pro_special_procedure", "P1", {"start_date": "2026-03-04", "end_date": "2026-03-05"}))
    sla.track(ctx)
    assert _states(ctx)["P1"].deadline == "2026-03-12"


def test_cli_lists_overdue_cases_after_a_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tongban.cli import app

    data = tmp_path / "var"
    data.mkdir()
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(data))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", "cli-sla-passphrase")
    s = Settings(data_dir=data, keys={"passphrase": "cli-sla-passphrase"})
    runner.upgrade(s.db_url)
    db = open_database(s)
    ctx = FlowContext(s, database=db)
    _land(ctx, _accept("P-OLD", "2026-01-05"), _accept("P-FUTURE", "2099-12-31"))
    cli = CliRunner()
    before = cli.invoke(app, ["cases", "deadlines", "--json"])
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout)["counts"] == {}  # nothing tracked until the monitor runs
    r = cli.invoke(app, ["cases", "deadlines", "--refresh", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["refresh"] == {"added": 2, "closed": 0, "watched": 2, "flagged": 1}
    assert doc["counts"] == {"overdue": 1, "open": 1}
    assert [c["project_no"] for c in doc["cases"]] == ["P-OLD"]
    text = cli.invoke(app, ["cases", "deadlines", "--state", "all"])
    assert text.exit_code == 0 and "P-FUTURE" in text.stdout and "overdue" in text.stdout
    bad = cli.invoke(app, ["cases", "deadlines", "--state", "late"])
    assert bad.exit_code == 2 and "done_late" in bad.output
    db.dispose()
