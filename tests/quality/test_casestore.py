"""The case store (core/casestore.py) on SQLite and PostgreSQL: accepted rows by project_no,
row_guid, state and date; ownership of row_guids; parents; holds; quarantine; batch records."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.casestore import (
    HOLD_EXPIRED,
    HOLD_RELEASED,
    AcceptedRow,
    BatchExists,
    BatchRecord,
    CaseStore,
    HeldRowIn,
    QuarantineIn,
    iso,
)
from core.db import Database, utcnow


def _accepted(
    i: int, table: str = "up_pro_accept", *, project: str | None = None, day: str = "2026-03-0"
) -> AcceptedRow:
    return AcceptedRow(
        row_guid=f"g-{table}-{i}",
        table=table,
        project_no=project or f"P{i:04d}",
        business_date=f"{day}{i % 9 + 1}",
        cd_operation="I",
        batch_hash="a" * 64,
        line=i + 1,
        data=json.dumps({"table": table, "row_guid": f"g-{table}-{i}"}),
    )


def test_accepted_rows_are_queryable(db: Database) -> None:
    cs = CaseStore()
    with db.session() as s:
        assert cs.add_accepted(s, [_accepted(i) for i in range(20)]) == 20
        cs.add_accepted(s, [_accepted(i, "up_pro_process", project="P0003") for i in range(3)])
    with db.session() as s:
        assert len(cs.rows(s, project_no="P0003")) == 4
        assert [r.table_name for r in cs.rows(s, project_no="P0003", table="up_pro_process")] == [
            "up_pro_process"
        ] * 3
        one = cs.rows(s, row_guid="g-up_pro_accept-5")
        assert len(one) == 1 and one[0].row()["row_guid"] == "g-up_pro_accept-5"
        by_date = cs.rows(s, date_from="2026-03-02", date_to="2026-03-03", table="up_pro_accept")
        assert {r.business_date for r in by_date} == {"2026-03-02", "2026-03-03"}
        page1 = cs.rows(s, limit=10)
        page2 = cs.rows(s, limit=10, after_id=page1[-1].id)
        assert len(page1) == 10 and page2[0].id > page1[-1].id
        assert cs.set_state(s, ["g-up_pro_accept-1", "g-up_pro_accept-2"], "pushed") == 2
    with db.session() as s:
        assert {r.row_guid for r in cs.rows(s, state="pushed")} == {"g-up_pro_accept-1", "g-up_pro_accept-2"}
        assert len(cs.rows(s, state="accepted")) == 21
        assert cs.accepted_parents(s, ["P0001", "P0003", "nope"]) == {
            "P0001": "2026-03-02",
            "P0003": "2026-03-04",
        }


def test_row_guid_is_unique_among_accepted_rows(db: Database) -> None:
    cs = CaseStore()
    with db.session() as s:
        cs.add_accepted(s, [_accepted(1)])
    with pytest.raises(Exception), db.session() as s:
        cs.add_accepted(s, [_accepted(1)])


def test_ownership_holds_and_quarantine(db: Database) -> None:
    cs = CaseStore()
    now = utcnow()
    with db.session() as s:
        cs.add_accepted(s, [_accepted(1)])
        cs.add_held(
            s,
            [HeldRowIn(f"h{i}", "up_pro_result", f"P9{i}", "b" * 64, i, "{}") for i in range(3)],
            at=now - timedelta(hours=5),
        )
        cs.add_quarantined(
            s,
            [
                QuarantineIn(
                    "b" * 64,
                    [{"rule_id": "accept.region_code", "field": "region_code"}],
                    row_guid="q1",
                    line=7,
                )
            ],
        )
    with db.session() as s:
        # accepted rows and open holds own their guid; a quarantined row owns nothing
        assert cs.owned_guids(s, ["g-up_pro_accept-1", "h0", "q1", "free"]) == {"g-up_pro_accept-1", "h0"}
        assert [h.row_guid for h in cs.open_holds(s, project_nos=["P91"])] == ["h1"]
        old = cs.open_holds(s, held_before=now - timedelta(hours=1))
        assert len(old) == 3
        assert cs.close_holds(s, [old[0].id], status=HOLD_RELEASED, closed_by="c" * 64) == 1
        assert cs.close_holds(s, [old[1].id], status=HOLD_EXPIRED, closed_by="sweep") == 1
    with db.session() as s:
        assert [h.row_guid for h in cs.open_holds(s)] == ["h2"]
        assert cs.owned_guids(s, ["h0", "h1", "h2"]) == {"h2"}
        q = cs.quarantined(s)
        assert len(q) == 1 and q[0].reason_list()[0]["rule_id"] == "accept.region_code"
        assert cs.quarantined(s, rule_id="accept.region_code")[0].id == q[0].id
        assert cs.quarantined(s, rule_id="field.required") == []
        cs.mark_resubmitted(s, q[0].id, batch_hash="d" * 64, result="curated")
    with db.session() as s:
        assert cs.quarantined(s, status="open") == []
        entry = cs.quarantine_entry(s, q[0].id)
        assert entry is not None and entry.status == "resubmitted" and entry.resubmit_result == "curated"
        counts = cs.counts(s)
        assert counts["accepted"] == 1 and counts["held_open"] == 1


def test_batch_record_is_stored_once(db: Database) -> None:
    cs = CaseStore()

    def record() -> BatchRecord:
        return BatchRecord(
            batch_hash="e" * 64,
            name="x.jsonl",
            validated_at=iso(utcnow()),
            rows=3,
            curated=1,
            held=1,
            quarantined=1,
            released=0,
            expired=0,
            file_quarantined=False,
            suite_version="1",
            suite_hash="f" * 64,
            receipt="a.b.c",
            outcome=json.dumps({"rows": 3}),
        )

    with db.session() as s:
        cs.save_batch(s, record())
    with db.session() as s, pytest.raises(BatchExists):
        cs.save_batch(s, record())
    with db.session() as s:
        rec = cs.batch(s, "e" * 64)
        assert rec is not None and rec.outcome_doc() == {"rows": 3} and rec.receipt == "a.b.c"
