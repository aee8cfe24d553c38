"""Exchange-table (前置库) writer on SQLAlchemy: idempotent by row_guid, even after the ETL empties them.

The province reads and empties its exchange tables, so a unique constraint there cannot remember
what we wrote. The writer therefore keeps its own journal in the exchange database,
``tongban_delivery_journal`` (row_guid primary key, batch, fencing token), written **in the same
transaction** as the rows: a row is inserted only when its journal entry is new, so a resend after a
lost commit acknowledgement becomes a ``duplicate`` receipt, not a second row. Rows are inserted in
the order given (the outbox's per-case ``cd_time`` order). A row the database refuses (too long,
bad type) is found with savepoints and answered ``rejected``; the later rows of its case in the same
batch are ``skipped`` — the same promise the SOAP service makes.

``lookup`` and ``counts`` read the journal: what the peer database committed from us.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError

from connectors.errors import translate
from connectors.resilience import CircuitBreaker, Timing, breaker_for, call_with_retry
from connectors.soap import Exchange, Receipt, Recorder
from contracts.fields import CASE_TABLES, TABLES, FieldSpec

JOURNAL = "tongban_delivery_journal"


def _column(f: FieldSpec) -> Column[Any]:
    if f.type == "integer":
        return Column(f.name, Integer, nullable=not f.required)
    length = {"date": 10, "timestamp": 32}.get(f.type, f.length or 4000)
    return Column(f.name, String(length), nullable=not f.required)


def exchange_metadata() -> tuple[MetaData, dict[str, Table]]:
    """SQLAlchemy tables matching ``contracts/wire/exchange_tables.sql`` (for inserts)."""
    md = MetaData()
    tables = {name: Table(name, md, *(_column(f) for f in TABLES[name].fields)) for name in CASE_TABLES}
    return md, tables


_JOURNAL_DDL = (
    f"CREATE TABLE IF NOT EXISTS {JOURNAL} (row_guid VARCHAR(64) PRIMARY KEY, "
    "table_name VARCHAR(64) NOT NULL, "
    "project_no VARCHAR(200) NOT NULL, cd_time VARCHAR(40) NOT NULL, batch_id VARCHAR(100) NOT NULL, "
    "token BIGINT NOT NULL, written_at VARCHAR(40) NOT NULL)"
)
_JOURNAL_INSERT = text(
    f"INSERT INTO {JOURNAL} (row_guid, table_name, project_no, cd_time, batch_id, token, written_at) "  # noqa: S608
    "VALUES (:row_guid, :table_name, :project_no, :cd_time, :batch_id, :token, :written_at) "
    "ON CONFLICT (row_guid) DO NOTHING"
)
_JOURNAL_HAVE = text(f"SELECT row_guid FROM {JOURNAL} WHERE row_guid IN :keys").bindparams(  # noqa: S608
    bindparam("keys", expanding=True)
)


class ExchangeTableWriter:
    """Writes case rows into the province's exchange tables (a Deliverer for the outbox)."""

    def __init__(
        self,
        url: str,
        *,
        peer: str = "province-exchange",
        timing: Timing | None = None,
        recorder: Recorder | None = None,
        engine: Engine | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.peer = peer
        self.timing = timing or Timing()
        self.recorder = recorder
        connect_args: dict[str, Any] = {}
        if url.startswith("postgresql"):
            t = self.timing
            connect_args = {
                "connect_timeout": max(1, int(t.connect_timeout_s + 0.999)),
                "options": f"-c statement_timeout={max(1, int(t.read_timeout_s * 1000))}",
                "sslmode": "disable",
            }
        self.engine = engine or create_engine(url, pool_pre_ping=True, pool_size=4, connect_args=connect_args)
        self.breaker = breaker or breaker_for(f"{peer}:{self.engine.url.render_as_string()}", self.timing)
        _, self.tables = exchange_metadata()
        self._journal_ready = False

    def close(self) -> None:
        self.engine.dispose()

    def ensure_journal(self) -> None:
        if not self._journal_ready:
            self._call("EnsureJournal", 0, b"", self._exec_ddl)
            self._journal_ready = True

    def _exec_ddl(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(_JOURNAL_DDL))

    def _call(self, operation: str, rows: int, body: bytes, fn: Any, *, idempotent: bool = False) -> Any:
        correlation = uuid.uuid4().hex

        def attempt(n: int) -> Any:
            ex = Exchange(
                correlation, self.peer, operation, n, dt.datetime.now(dt.UTC), rows=rows, request_bytes=body
            )
            t0 = time.perf_counter()
            try:
                out = fn()
                ex.response_code = 0
                return out
            except Exception as exc:
                err = translate(exc, peer=self.peer, operation=operation, attempt=n)
                ex.error_code, ex.error = err.code, err.message
                raise err from exc
            finally:
                ex.duration_ms = (time.perf_counter() - t0) * 1000
                if self.recorder is not None:
                    self.recorder(ex)

        return call_with_retry(
            attempt,
            timing=self.timing,
            breaker=self.breaker,
            peer=self.peer,
            operation=operation,
            idempotent=idempotent,
        )

    # --- Deliverer ---
    def send_rows(
        self, batch_id: str, rows: Sequence[tuple[str, dict[str, Any]]], token: int
    ) -> list[Receipt]:
        self.ensure_journal()
        body = json.dumps([r for _, r in rows], ensure_ascii=False, default=str).encode()
        return list(
            self._call("WriteExchangeRows", len(rows), body, lambda: self._write(batch_id, rows, token))
        )

    def send_events(self, batch_id: str, events: Sequence[dict[str, str]], token: int) -> list[Receipt]:
        raise translate(
            ValueError("the exchange tables carry case rows only; deliver catalog events over SOAP"),
            peer=self.peer,
            operation="send_events",
        )

    def lookup(self, keys: Sequence[str], kind: str) -> set[str]:
        self.ensure_journal()

        def q() -> set[str]:
            with self.engine.connect() as conn:
                return {str(g) for (g,) in conn.execute(_JOURNAL_HAVE, {"keys": list(keys)})}

        return set(self._call("LookupJournal", len(keys), b"", q, idempotent=True)) if keys else set()

    def counts(self, day_from: str, day_to: str) -> dict[tuple[str, str], int]:
        self.ensure_journal()

        def q() -> dict[tuple[str, str], int]:
            with self.engine.connect() as conn:
                res = conn.execute(
                    text(
                        f"SELECT table_name, substr(cd_time, 1, 10), COUNT(*) FROM {JOURNAL} "  # noqa: S608
                        "WHERE substr(cd_time, 1, 10) BETWEEN :lo AND :hi GROUP BY 1, 2"
                    ),
                    {"lo": day_from, "hi": day_to},
                )
                return {(str(t), str(d)): int(n) for t, d, n in res}

        return dict(self._call("CountJournal", 0, b"", q, idempotent=True))

    # --- the write ---
    def _write(self, batch_id: str, rows: Sequence[tuple[str, dict[str, Any]]], token: int) -> list[Receipt]:
        try:
            with self.engine.begin() as conn:
                return self._write_rows(conn, batch_id, rows, token, savepoints=False)
        except (DataError, IntegrityError):
            # some row is refused by the database: find it row by row with savepoints
            with self.engine.begin() as conn:
                return self._write_rows(conn, batch_id, rows, token, savepoints=True)

    def _write_rows(
        self,
        conn: Connection,
        batch_id: str,
        rows: Sequence[tuple[str, dict[str, Any]]],
        token: int,
        *,
        savepoints: bool,
    ) -> list[Receipt]:
        guids = [str(r["row_guid"]) for _, r in rows]
        have = {str(g) for (g,) in conn.execute(_JOURNAL_HAVE, {"keys": guids})} if guids else set()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        out: list[Receipt] = []
        refused: set[str] = set()
        for table, row in rows:
            guid = str(row["row_guid"])
            case = str(row.get("project_no", ""))
            if case in refused:
                out.append(Receipt(guid, "skipped", "an earlier row of this case was rejected"))
                continue
            if guid in have:
                out.append(Receipt(guid, "duplicate"))
                continue
            tbl = self.tables.get(table)
            if tbl is None:
                refused.add(case)
                out.append(Receipt(guid, "rejected", f"unknown table {table}"))
                continue
            values = {c.name: row.get(c.name) for c in tbl.columns}
            journal = {
                "row_guid": guid,
                "table_name": table,
                "project_no": case,
                "cd_time": str(row.get("cd_time", "")),
                "batch_id": batch_id,
                "token": token,
                "written_at": now,
            }
            if savepoints:
                sp = conn.begin_nested()
                try:
                    conn.execute(_JOURNAL_INSERT, journal)
                    conn.execute(tbl.insert(), values)
                    sp.commit()
                except (DataError, IntegrityError) as exc:
                    sp.rollback()
                    refused.add(case)
                    reason = str(getattr(exc, "orig", exc)).splitlines()[0][:300]
                    out.append(Receipt(guid, "rejected", reason))
                    continue
            else:
                conn.execute(_JOURNAL_INSERT, journal)
                conn.execute(tbl.insert(), values)
            have.add(guid)
            out.append(Receipt(guid, "stored"))
        return out


def payload_hash(rows: Sequence[tuple[str, dict[str, Any]]]) -> str:
    return hashlib.sha256(json.dumps([r for _, r in rows], sort_keys=True, default=str).encode()).hexdigest()
