"""Sandbox peers on their own: fault plans, the province's validation and commit log, the CLI entry."""

from __future__ import annotations

import pytest

from contracts.fields import TABLES
from sandbox.data import ROWS_PER_CASE, case_row, case_rows
from sandbox.faults import KINDS, FaultPlan
from sandbox.province import ProvinceStore, row_problem


def test_fault_plan_parse_and_spread() -> None:
    p = FaultPlan.parse("error=0.1,lost=0.2,timeout_s=0.5,attack=dtd,seed=3,cycle=true")
    assert (p.error, p.lost, p.timeout_s, p.attack, p.seed, p.cycle) == (0.1, 0.2, 0.5, "dtd", 3, True)
    assert abs(FaultPlan.spread(0.3).total - 0.3) < 1e-9 and all(
        getattr(FaultPlan.spread(0.7), k) == pytest.approx(0.1) for k in KINDS
    )
    with pytest.raises(ValueError, match="unknown fault"):
        FaultPlan.parse("explode=1")


def test_generated_rows_satisfy_the_field_table() -> None:
    for table, row in case_rows(1, "510129", 60):
        assert row_problem(TABLES[table], row) is None, (table, row)
    assert case_row(1, "510129", 7) == case_row(1, "510129", 7)  # addressable by index
    assert (
        case_row(1, "510129", 0)[1]["project_no"] == case_row(1, "510129", ROWS_PER_CASE - 1)[1]["project_no"]
    )


def test_province_store_dedups_skips_after_rejection_and_logs_commits(tmp_path) -> None:
    store = ProvinceStore(tmp_path / "p.db")
    rows = list(case_rows(2, "510129", 10))
    t, r = rows[2]
    rows[2] = (t, {**r, "node_result": "9"})
    out = store.submit_rows("b1", rows)
    assert [s for _, s, _ in out] == ["stored", "stored", "rejected", "skipped", "skipped"] + ["stored"] * 5
    assert [s for _, s, _ in store.submit_rows("b2", rows[:2])] == ["duplicate", "duplicate"]
    log = store.commit_log()
    assert [g for _, g, _, _, _ in log] == [
        r["row_guid"] for i, (_, r) in enumerate(rows) if i in (0, 1, 5, 6, 7, 8, 9)
    ]
    assert sum(n for _, _, n in store.counts(None, None, None)) == 7
