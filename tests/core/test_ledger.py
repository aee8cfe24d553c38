"""The audit ledger on SQLite and PostgreSQL: chaining, verification, grouping, PII refusal."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from core import ledger
from core.db import Database
from core.errors import LedgerError
from core.ledger import LedgerEntry, LedgerHead
from tests.crypt import sealed_database


def _fill(db: Database, stream: str, n: int) -> None:
    with db.session() as s:
        for i in range(n):
            ledger.append(s, stream, "test.event", {"i": i, "license_id": f"L{i}"})


def test_append_chains_entries_per_stream(db: Database) -> None:
    _fill(db, "a", 3)
    _fill(db, "b", 2)
    with db.session() as s:
        a = ledger.entries(s, "a")
        b = ledger.entries(s, "b")
        assert [e.seq for e in a] == [1, 2, 3]
        assert [e.seq for e in b] == [1, 2]
        assert a[0].prev_hash == ledger.GENESIS
        assert a[1].prev_hash == a[0].entry_hash and a[2].prev_hash == a[1].entry_hash
        reports = ledger.verify_chain(s)
    assert [(r.stream, r.ok, r.entries) for r in reports] == [("a", True, 3), ("b", True, 2)]


def test_editing_one_entry_is_reported_exactly(db: Database) -> None:
    _fill(db, "deliveries", 6)
    with db.session() as s:
        s.execute(
            update(LedgerEntry)
            .where(LedgerEntry.stream == "deliveries", LedgerEntry.seq == 4)
            .values(payload='{"i":400,"license_id":"L3"}')
        )
    with db.session() as s:
        (report,) = ledger.verify_chain(s, "deliveries")
        edited = s.scalars(
            select(LedgerEntry).where(LedgerEntry.stream == "deliveries", LedgerEntry.seq == 4)
        ).one()
    assert not report.ok
    assert report.broken_seq == 4
    assert report.broken_id == edited.id
    assert "edited" in (report.reason or "")


def test_rehashed_edit_is_caught_at_the_next_entry(db: Database) -> None:
    _fill(db, "s", 4)
    with db.session() as s:
        e2 = s.scalars(select(LedgerEntry).where(LedgerEntry.stream == "s", LedgerEntry.seq == 2)).one()
        e2.payload = '{"i":99}'
        e2.entry_hash = ledger.entry_digest(
            e2.stream, e2.seq, e2.kind, e2.created_at, e2.payload, e2.prev_hash
        )
    with db.session() as s:
        (report,) = ledger.verify_chain(s, "s")
    assert (report.ok, report.broken_seq) == (False, 3)


def test_deleting_the_last_entry_breaks_the_head(db: Database) -> None:
    _fill(db, "s", 3)
    with db.session() as s:
        last = s.scalars(select(LedgerEntry).where(LedgerEntry.seq == 3)).one()
        s.delete(last)
    with db.session() as s:
        (report,) = ledger.verify_chain(s, "s")
    assert not report.ok and "head" in (report.reason or "")


def test_grouped_append_is_one_transaction(db: Database) -> None:
    with db.session() as s:
        entries = ledger.append_many(s, "g", [("k", {"n": i}) for i in range(50)])
    assert [e.seq for e in entries] == list(range(1, 51))
    with pytest.raises(RuntimeError), db.session() as s:
        ledger.append_many(s, "g", [("k", {"n": 99})])
        raise RuntimeError("the change failed")
    with db.session() as s:
        assert ledger.head(s, "g")[0] == 50
        assert ledger.verify_chain(s, "g")[0].ok


def test_full_resident_id_is_refused(db: Database) -> None:
    with pytest.raises(LedgerError) as err, db.session() as s:
        ledger.append(s, "use.dept", "search", {"holder": "510129199001011238"})
    assert err.value.code == "LEDGER_PII"
    assert "510129199001011238" not in str(err.value)
    with db.session() as s:  # a masked form and a USCC are fine
        ledger.append(s, "use.dept", "search", {"holder": "5101**********1238", "org": "11510129008589710X"})


@pytest.mark.pg
def test_concurrent_writers_on_one_stream_never_fork_the_chain(pg_url: str) -> None:
    from tests.conftest import _truncate

    _truncate(pg_url)
    db = sealed_database(pg_url)
    errors: list[Exception] = []

    def writer(w: int) -> None:
        try:
            for i in range(25):
                with db.session() as s:
                    ledger.append(s, "shared", "w", {"w": w, "i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        (report,) = ledger.verify_chain(s, "shared")
        assert s.get(LedgerHead, "shared").seq == 100  # type: ignore[union-attr]
    assert report.ok and report.entries == 100
    db.dispose()
