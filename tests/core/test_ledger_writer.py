"""The group-commit ledger writer: grouping, no early acknowledgement, failure isolation, PII refusal."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Table

from core import ledger
from core.db import Database
from core.errors import LedgerError
from core.ledger import LedgerEntry
from core.ledger_writer import GroupCommitWriter


def test_entries_queued_during_a_commit_go_out_in_one_transaction(db: Database) -> None:
    gate = threading.Event()
    entered = threading.Event()

    def hold(_e: LedgerEntry) -> list[tuple[Table, dict[str, object]]]:
        entered.set()
        assert gate.wait(10)
        return []

    with GroupCommitWriter(db) as writer:
        first = writer.submit("use.a", "use.search", {"n": 0}, after=hold)
        assert entered.wait(10)
        futures = [writer.submit(f"use.{'ab'[i % 2]}", "use.search", {"n": i}) for i in range(1, 51)]
        # the first transaction is still open: nobody may be told their entry is written
        assert not first.done()
        assert not any(f.done() for f in futures)
        with db.session() as s:
            assert ledger.head(s, "use.a") == (0, ledger.GENESIS)
        gate.set()
        receipts = [f.result(10) for f in [first, *futures]]
    assert writer.stats.batches == 2
    assert writer.stats.max_batch == 50
    assert writer.stats.entries == 51
    assert sorted(r.seq for r in receipts if r.stream == "use.a") == list(range(1, 27))
    assert sorted(r.seq for r in receipts if r.stream == "use.b") == list(range(1, 26))
    with db.session() as s:
        reports = ledger.verify_chain(s)
        # submission order is kept within a stream
        ns = [int(e.payload.split(":")[1].rstrip("}")) for e in ledger.entries(s, "use.b")]
    assert all(r.ok for r in reports) and {r.stream for r in reports} == {"use.a", "use.b"}
    assert ns == sorted(ns)


def test_many_threads_each_get_their_own_committed_receipt(db: Database) -> None:
    with GroupCommitWriter(db) as writer, ThreadPoolExecutor(16) as pool:
        receipts = list(
            pool.map(lambda i: writer.append(f"use.c{i % 4}", "use.metadata", {"i": i}), range(200))
        )
    assert len({(r.stream, r.seq) for r in receipts}) == 200
    with db.session() as s:
        for r in receipts[:20]:
            (entry,) = [e for e in ledger.entries(s, r.stream) if e.seq == r.seq]
            assert entry.entry_hash == r.entry_hash
        assert all(rep.ok and rep.entries == 50 for rep in ledger.verify_chain(s))


def test_a_failing_entry_fails_only_its_own_caller(db: Database) -> None:
    gate = threading.Event()

    def hold(_e: LedgerEntry) -> list[tuple[Table, dict[str, object]]]:
        assert gate.wait(10)
        return []

    def boom(_e: LedgerEntry) -> list[tuple[Table, dict[str, object]]]:
        raise RuntimeError("index row refused")

    with GroupCommitWriter(db) as writer:
        blocker = writer.submit("s", "k", {"i": 0}, after=hold)
        good1 = writer.submit("s", "k", {"i": 1})
        bad = writer.submit("s", "k", {"i": 2}, after=boom)
        good2 = writer.submit("s", "k", {"i": 3})
        gate.set()
        blocker.result(10)
        assert good1.result(10).seq == 2
        with pytest.raises(LedgerError) as info:
            bad.result(10)
        assert info.value.code == "LEDGER_WRITE_FAILED"
        assert good2.result(10).seq == 3
    with db.session() as s:
        (report,) = ledger.verify_chain(s, "s")
    assert report.ok and report.entries == 3


def test_database_down_means_no_acknowledgement(tmp_path) -> None:
    dead = Database("postgresql+psycopg2://postgres@127.0.0.1:1/none", pool_pre_ping=False)
    with GroupCommitWriter(dead) as writer:
        fut = writer.submit("use.x", "use.search", {"i": 1})
        with pytest.raises(LedgerError) as info:
            fut.result(30)
    assert info.value.code == "LEDGER_WRITE_FAILED"
    assert writer.stats.failed == 1 and writer.stats.entries == 0
    dead.dispose()


def test_full_resident_id_is_refused_at_submit(db: Database) -> None:
    with GroupCommitWriter(db) as writer:
        with pytest.raises(LedgerError) as info:
            writer.submit("use.x", "use.search", {"holder": "510129199001011238"})
        assert info.value.code == "LEDGER_PII"
        assert writer.append("use.x", "use.search", {"holder": "5101**********1238"}).seq == 1


def test_async_callers_await_the_commit(db: Database) -> None:
    async def main(writer: GroupCommitWriter) -> list[int]:
        rs = await asyncio.gather(*(writer.append_async("use.y", "k", {"i": i}) for i in range(30)))
        return sorted(r.seq for r in rs)

    with GroupCommitWriter(db) as writer:
        assert asyncio.run(main(writer)) == list(range(1, 31))


def test_close_commits_what_is_queued_and_refuses_more(db: Database) -> None:
    writer = GroupCommitWriter(db).start()
    futures = [writer.submit("z", "k", {"i": i}) for i in range(10)]
    writer.close()
    assert [f.result(0).seq for f in futures] == list(range(1, 11))
    with pytest.raises(LedgerError):
        writer.submit("z", "k", {"i": 11})


def test_a_batch_refused_by_the_database_commits_nothing_and_the_writer_recovers(db: Database) -> None:
    """A derived row the database refuses (a duplicate key) aborts its whole transaction — on
    PostgreSQL that is the two-round-trip fast path — and the writer carries on with a new connection."""
    gate = threading.Event()

    def hold(_e: LedgerEntry) -> list[tuple[Table, dict[str, object]]]:
        assert gate.wait(10)
        return []

    def duplicate_head(e: LedgerEntry) -> list[tuple[Table, dict[str, object]]]:
        return [(ledger.HEADS, {"stream": e.stream, "seq": 0, "head_hash": ledger.GENESIS})]

    with GroupCommitWriter(db) as writer:
        blocker = writer.submit("d", "k", {"i": 0}, after=hold)
        good = writer.submit("d", "k", {"i": 1})
        bad = writer.submit("d", "k", {"i": 2}, after=duplicate_head)
        gate.set()
        assert blocker.result(10).seq == 1
        assert good.result(10).seq == 2
        with pytest.raises(LedgerError):
            bad.result(10)
        assert writer.append("d", "k", {"i": 3}).seq == 3
        if db.engine.dialect.name == "postgresql":
            assert writer._fast  # a new connection, on the fast path again
    assert writer.stats.failed == 1
    with db.session() as s:
        (report,) = ledger.verify_chain(s, "d")
        assert report.ok and report.entries == 3
        assert [e.payload for e in ledger.entries(s, "d")] == ['{"i":0}', '{"i":1}', '{"i":3}']
