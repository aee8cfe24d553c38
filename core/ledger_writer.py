"""Group commit for the audit ledger: many callers' entries, one transaction, nobody acknowledged early.

A :class:`GroupCommitWriter` owns one background thread. Callers :meth:`~GroupCommitWriter.submit`
``(stream, kind, payload)`` and get a :class:`concurrent.futures.Future`; the thread takes every
entry queued while the previous commit was running (up to ``max_batch``), appends them with
:func:`core.ledger.append_rows` (one insert for the whole batch, streams locked in order, submission
order kept within a stream), inserts the rows each entry's optional ``after`` hook returns (an index
that must commit with the entry), and commits once — on the writer's own connection, with Core
statements only (on PostgreSQL in two round trips: :mod:`core.ledger_pgbatch`). Only then are the
futures resolved with a :class:`Receipt`. If the batch transaction fails, every entry is retried
alone, so one bad entry fails only its own caller; if the database is down every caller gets the
error. A caller therefore never sees success for evidence that is not durably committed.

Payloads are checked for full resident ID numbers at submit time (the ledger refuses them), so a
caller learns at once. On SQLite the writer's connections run with ``synchronous=FULL`` so a commit
survives power loss, not only a process crash; on PostgreSQL ``synchronous_commit`` is the server's.

Use :meth:`append` from threads and :meth:`append_async` from asyncio code.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table

from core import ledger
from core.canonical import canonical_json
from core.db import Database, is_sqlite, utcnow
from core.errors import LedgerError
from core.ledger import LedgerEntry
from core.ledger_pgbatch import write_batch

log = logging.getLogger(__name__)

# rows that must commit with an entry (an index of it, say): (table, values) pairs
AfterHook = Callable[[LedgerEntry], Iterable[tuple[Table, Mapping[str, Any]]]]


@dataclass(frozen=True)
class Receipt:
    """Where a committed entry landed."""

    stream: str
    seq: int
    entry_hash: str
    created_at: str


@dataclass
class _Item:
    stream: str
    kind: str
    text: str  # canonical JSON of the payload, checked for resident IDs at submit
    after: AfterHook | None
    future: Future[Receipt] = field(default_factory=Future)


@dataclass
class WriterStats:
    """Counters for metrics: entries committed, transactions, failures, the largest batch."""

    entries: int = 0
    batches: int = 0
    failed: int = 0
    max_batch: int = 0


_STOP = object()


class GroupCommitWriter:
    """A background thread that commits ledger entries in groups (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 500,
        linger_s: float = 0.0,
        name: str = "ledger-writer",
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.stats = WriterStats()
        self._name = name
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._conn: Connection | None = None
        self._fast = False  # PostgreSQL through psycopg2: two round trips per batch (core.ledger_pgbatch)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> GroupCommitWriter:
        with self._lock:
            if self._closed:
                raise LedgerError("the ledger writer is closed", code="LEDGER_WRITER_CLOSED")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def __enter__(self) -> GroupCommitWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submitting -----------------------------------------------------------------------------
    def submit(
        self, stream: str, kind: str, payload: Mapping[str, Any], *, after: AfterHook | None = None
    ) -> Future[Receipt]:
        """Queue one entry; the future resolves once it is committed (or fails with the reason)."""
        if self._closed:
            raise LedgerError("the ledger writer is closed", code="LEDGER_WRITER_CLOSED")
        if self._thread is None:
            self.start()
        text = canonical_json(dict(payload))
        ledger.check_payload(stream, kind, text)
        item = _Item(stream, kind, text, after)
        self._queue.put(item)
        return item.future

    def append(
        self,
        stream: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        after: AfterHook | None = None,
        timeout: float | None = 30.0,
    ) -> Receipt:
        """Submit and wait for the commit (threads)."""
        return self.submit(stream, kind, payload, after=after).result(timeout)

    async def append_async(
        self, stream: str, kind: str, payload: Mapping[str, Any], *, after: AfterHook | None = None
    ) -> Receipt:
        """Submit and await the commit (asyncio); the event loop is never blocked."""
        return await asyncio.wrap_future(self.submit(stream, kind, payload, after=after))

    # -- the writer thread ----------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Item] = [first]  # type: ignore[list-item]
            deadline = time.monotonic() + self.linger_s
            while len(batch) < self.max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)  # type: ignore[arg-type]
            self._commit_batch(batch)
        # drain whatever arrived with or after the stop marker
        rest: list[_Item] = []
        while True:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is not _STOP:
                rest.append(nxt)  # type: ignore[arg-type]
        if rest:
            self._commit_batch(rest)
        self._drop_connection(broken=False)

    def _connection(self) -> Connection:
        """The writer thread's own connection, kept between batches (no pool checkout and ping)."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            conn = self.db.engine.connect()
            if is_sqlite(self.db.url):
                conn.exec_driver_sql("PRAGMA synchronous=FULL")
                conn.commit()
            elif conn.dialect.driver == "psycopg2":
                conn.commit()
                raw = conn.connection.dbapi_connection
                if raw is not None:
                    raw.autocommit = True  # the fast path sends its own BEGIN … COMMIT
                    self._fast = True
            self._conn = conn
        return self._conn

    def _drop_connection(self, *, broken: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if broken or self._fast:
                    conn.invalidate()  # never hand a possibly broken (or autocommit) connection back
                conn.close()
            except Exception:  # already gone
                log.debug("ledger writer: closing a failed connection", exc_info=True)
        self._fast = False

    @staticmethod
    def _derive(
        items: list[_Item], landed: dict[int, dict[str, Any]]
    ) -> dict[Table, list[Mapping[str, Any]]]:
        derived: dict[Table, list[Mapping[str, Any]]] = {}
        for i, item in enumerate(items):
            if item.after is not None:
                for table, values in item.after(LedgerEntry(**landed[i])):
                    derived.setdefault(table, []).append(values)
        return derived

    def _transaction(self, items: list[_Item]) -> list[Receipt]:
        conn = self._connection()
        created = utcnow().isoformat(timespec="microseconds")
        by_stream: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            by_stream.setdefault(item.stream, []).append(i)
        entries = {st: [(items[i].kind, items[i].text) for i in idxs] for st, idxs in by_stream.items()}
        landed: dict[int, dict[str, Any]] = {}

        def place(rows: Mapping[str, list[dict[str, Any]]]) -> dict[Table, list[Mapping[str, Any]]]:
            for st, idxs in by_stream.items():
                landed.update(zip(idxs, rows[st], strict=True))
            return self._derive(items, landed)

        try:
            if self._fast:
                write_batch(conn.connection.dbapi_connection, entries, place, created=created)
            else:
                with conn.begin():
                    derived = place(ledger.append_rows(conn, entries, created=created))
                    for table, values_list in derived.items():
                        conn.execute(table.insert(), values_list)
        except Exception:
            self._drop_connection()
            raise
        return [
            Receipt(r["stream"], r["seq"], r["entry_hash"], r["created_at"])
            for r in (landed[i] for i in range(len(items)))
        ]

    def _commit_batch(self, batch: list[_Item]) -> None:
        try:
            receipts = self._transaction(batch)
        except Exception as exc:
            if len(batch) == 1:
                self._fail(batch[0], exc)
                return
            log.warning("ledger group commit of %d entries failed (%s); retrying one by one", len(batch), exc)
            for item in batch:
                try:
                    (receipt,) = self._transaction([item])
                except Exception as one_exc:
                    self._fail(item, one_exc)
                else:
                    self._done([item], [receipt])
            return
        self._done(batch, receipts)

    def _done(self, items: list[_Item], receipts: list[Receipt]) -> None:
        self.stats.entries += len(items)
        self.stats.batches += 1
        self.stats.max_batch = max(self.stats.max_batch, len(items))
        for item, receipt in zip(items, receipts, strict=True):
            if not item.future.cancelled():
                item.future.set_result(receipt)

    def _fail(self, item: _Item, exc: BaseException) -> None:
        self.stats.failed += 1
        err = (
            exc
            if isinstance(exc, LedgerError)
            else LedgerError(
                f"ledger entry {item.stream}/{item.kind} was not committed: {type(exc).__name__}: {exc}",
                code="LEDGER_WRITE_FAILED",
            )
        )
        if err is not exc:
            err.__cause__ = exc
        if not item.future.cancelled():
            item.future.set_exception(err)
