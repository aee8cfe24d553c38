"""The simulated provincial platform (省一体化平台): a real SOAP 1.1 document/literal service.

Built on spyne and served by waitress (keep-alive). Its message types are derived from the field
table in :mod:`contracts.fields` exactly as ``contracts/wire/province.wsdl`` is, so our zeep client
built from the contract's WSDL talks to it (a test pins both to the field table).

What it does with what it receives (its own SQLite database, not our migrations):

- ``SubmitCaseRows``: rows in message order; each row validated against the field table
  (required, length, code list, integer range); stored once per ``row_guid`` (a repeat is answered
  ``duplicate``); a rejected row makes the later rows of the same ``project_no`` *in the same
  request* ``skipped`` (not stored), so a peer-side rejection can never let a later row of a case
  overtake an earlier one. Every first store is appended to the commit log (``seq``), which is
  how tests check per-case ``cd_time`` order. One request = one transaction.
- ``SubmitCatalogEvents``: license catalog entries and status changes, de-duplicated by event_id.
- ``QueryCounts`` (rows per table and ``cd_time`` day) and ``LookupRows`` (by row_guid): what
  reconciliation asks.

Why one module of this length: it is one simulated service: its message types, its operations and
its store.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spyne import (
    Application,
    Array,
    Boolean,
    ComplexModel,
    Integer32,
    Integer64,
    ServiceBase,
    Unicode,
    rpc,
)
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from contracts.codes import CODE_LISTS
from contracts.fields import CASE_TABLES, TABLES, FieldSpec, TableSpec

NAMESPACE = "urn:tongban:province:v1"
SERVICE_NAME = "ProvinceExchange"


def _spyne_type(f: FieldSpec) -> Any:
    min_occurs = 1 if f.required else 0
    if f.type == "integer":
        return Integer32(min_occurs=min_occurs, nillable=not f.required)
    return Unicode(min_occurs=min_occurs, nillable=not f.required)


def _table_model(spec: TableSpec) -> type[ComplexModel]:
    attrs: dict[str, Any] = {"__namespace__": NAMESPACE, "__type_name__": spec.name}
    attrs["_type_info"] = [(f.name, _spyne_type(f)) for f in spec.fields]
    return type(spec.name, (ComplexModel,), attrs)


TABLE_MODELS: dict[str, type[ComplexModel]] = {name: _table_model(TABLES[name]) for name in CASE_TABLES}


class CaseRow(ComplexModel):  # type: ignore[misc]
    """One row: exactly one of the table elements is present."""

    __namespace__ = NAMESPACE
    _type_info = [(name, TABLE_MODELS[name].customize(min_occurs=0)) for name in CASE_TABLES]  # noqa: RUF012


class RowReceipt(ComplexModel):  # type: ignore[misc]
    __namespace__ = NAMESPACE
    _type_info = [  # noqa: RUF012
        ("row_guid", Unicode(min_occurs=1)),
        ("status", Unicode(min_occurs=1)),  # stored | duplicate | rejected | skipped
        ("reason", Unicode(min_occurs=0)),
    ]


class CatalogEvent(ComplexModel):  # type: ignore[misc]
    __namespace__ = NAMESPACE
    _type_info = [  # noqa: RUF012
        ("event_id", Unicode(min_occurs=1)),
        ("kind", Unicode(min_occurs=1)),
        ("aggregate_id", Unicode(min_occurs=1)),
        ("occurred_at", Unicode(min_occurs=1)),
        ("payload", Unicode(min_occurs=1)),
    ]


class DayCount(ComplexModel):  # type: ignore[misc]
    __namespace__ = NAMESPACE
    _type_info = [  # noqa: RUF012
        ("table", Unicode(min_occurs=1)),
        ("day", Unicode(min_occurs=1)),
        ("count", Integer64(min_occurs=1)),
    ]


class RowPresence(ComplexModel):  # type: ignore[misc]
    __namespace__ = NAMESPACE
    _type_info = [  # noqa: RUF012
        ("row_guid", Unicode(min_occurs=1)),
        ("found", Boolean(min_occurs=1)),
        ("table", Unicode(min_occurs=0)),
        ("seq", Integer64(min_occurs=0)),
    ]


# --- validation against the field table -------------------------------------------------------


def row_problem(spec: TableSpec, row: dict[str, Any]) -> str | None:
    """The first reason the province refuses a row (None: acceptable)."""
    for f in spec.fields:
        v = row.get(f.name)
        if v is None or v == "":
            if f.required:
                return f"{f.name}: required"
            continue
        if f.type == "integer":
            if not isinstance(v, int):
                return f"{f.name}: not an integer"
            if (f.minimum is not None and v < f.minimum) or (f.maximum is not None and v > f.maximum):
                return f"{f.name}: out of range"
        elif f.length is not None and len(str(v)) > f.length:
            return f"{f.name}: longer than {f.length}"
        if f.code_list and not CODE_LISTS[f.code_list].contains(v):
            return f"{f.name}: {v!r} not in code list {f.code_list}"
    return None


# --- storage -----------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    row_guid TEXT PRIMARY KEY, table_name TEXT NOT NULL, project_no TEXT NOT NULL,
    cd_time TEXT NOT NULL, cd_day TEXT NOT NULL, batch_id TEXT, seq INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, row_guid TEXT NOT NULL, table_name TEXT NOT NULL,
    project_no TEXT NOT NULL, cd_time TEXT NOT NULL, batch_id TEXT);
CREATE INDEX IF NOT EXISTS ix_received_day ON received (table_name, cd_day);
CREATE TABLE IF NOT EXISTS catalog_events (
    event_id TEXT PRIMARY KEY, kind TEXT NOT NULL, aggregate_id TEXT NOT NULL, occurred_at TEXT NOT NULL,
    payload TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT, batch_id TEXT, rows INTEGER, stored INTEGER,
    duplicates INTEGER, rejected INTEGER);
"""


class ProvinceStore:
    """The province's own database (SQLite, one writer at a time)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._write = threading.Lock()
        self._local = threading.local()
        with self._conn() as c:
            c.executescript(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        yield conn

    def submit_rows(
        self, batch_id: str, rows: Iterable[tuple[str, dict[str, Any]]]
    ) -> list[tuple[str, str, str]]:
        """Store rows in order; returns (row_guid, status, reason) per row."""
        out: list[tuple[str, str, str]] = []
        rejected_cases: set[str] = set()
        stored = dups = rejected = 0
        with self._write, self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                for table, row in rows:
                    guid = str(row.get("row_guid") or "")
                    project = str(row.get("project_no") or "")
                    if project in rejected_cases:
                        out.append((guid, "skipped", "an earlier row of this case was rejected"))
                        continue
                    problem = row_problem(TABLES[table], row) if table in TABLES else f"unknown table {table}"
                    if problem:
                        rejected_cases.add(project)
                        rejected += 1
                        out.append((guid, "rejected", problem))
                        continue
                    cur = c.execute(
                        "INSERT INTO commit_log (row_guid, table_name, project_no, cd_time, batch_id) "
                        "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM received WHERE row_guid = ?)",
                        (guid, table, project, row["cd_time"], batch_id, guid),
                    )
                    if cur.rowcount == 0:
                        dups += 1
                        out.append((guid, "duplicate", ""))
                        continue
                    c.execute(
                        "INSERT INTO received VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            guid,
                            table,
                            project,
                            row["cd_time"],
                            str(row["cd_time"])[:10],
                            batch_id,
                            cur.lastrowid,
                            json.dumps(row, ensure_ascii=False),
                        ),
                    )
                    stored += 1
                    out.append((guid, "stored", ""))
                c.execute(
                    "INSERT INTO requests (operation, batch_id, rows, stored, duplicates, rejected) "
                    "VALUES ('SubmitCaseRows', ?, ?, ?, ?, ?)",
                    (batch_id, len(out), stored, dups, rejected),
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return out

    def submit_events(self, events: Iterable[dict[str, str]]) -> list[tuple[str, str, str]]:
        out: list[tuple[str, str, str]] = []
        with self._write, self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                for ev in events:
                    n = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM catalog_events").fetchone()[0]
                    cur = c.execute(
                        "INSERT OR IGNORE INTO catalog_events VALUES (?, ?, ?, ?, ?, ?)",
                        (ev["event_id"], ev["kind"], ev["aggregate_id"], ev["occurred_at"], ev["payload"], n),
                    )
                    out.append((ev["event_id"], "stored" if cur.rowcount else "duplicate", ""))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return out

    def counts(
        self, table: str | None, day_from: str | None, day_to: str | None
    ) -> list[tuple[str, str, int]]:
        q = "SELECT table_name, cd_day, COUNT(*) FROM received WHERE 1=1"
        args: list[Any] = []
        if table:
            q += " AND table_name = ?"
            args.append(table)
        if day_from:
            q += " AND cd_day >= ?"
            args.append(day_from)
        if day_to:
            q += " AND cd_day <= ?"
            args.append(day_to)
        with self._conn() as c:
            return [
                (t, d, int(n))
                for t, d, n in c.execute(q + " GROUP BY table_name, cd_day ORDER BY 1, 2", args)
            ]

    def lookup(self, guids: list[str]) -> list[tuple[str, bool, str | None, int | None]]:
        found: dict[str, tuple[str, int]] = {}
        with self._conn() as c:
            for i in range(0, len(guids), 500):
                part = guids[i : i + 500]
                marks = ",".join("?" * len(part))
                for g, t, s in c.execute(
                    f"SELECT row_guid, table_name, seq FROM received WHERE row_guid IN ({marks}) "  # noqa: S608
                    "UNION ALL SELECT event_id, 'catalog_event', seq FROM catalog_events "
                    f"WHERE event_id IN ({marks})",
                    part + part,
                ):
                    found[g] = (t, int(s))
        return [(g, g in found, found.get(g, (None, None))[0], found.get(g, (None, None))[1]) for g in guids]

    # --- for tests and the sandbox CLI ---
    def commit_log(self) -> list[tuple[int, str, str, str, str]]:
        """(seq, row_guid, table, project_no, cd_time) in commit order."""
        with self._conn() as c:
            return [
                (int(s), g, t, p, ct)
                for s, g, t, p, ct in c.execute(
                    "SELECT seq, row_guid, table_name, project_no, cd_time FROM commit_log ORDER BY seq"
                )
            ]

    def lose_rows(self, row_guids: Iterable[str]) -> int:
        """The province loses rows it had acknowledged (a backup restored, an ETL that misfired):
        they leave ``received``; the commit log keeps its history. Returns how many went."""
        guids = list(row_guids)
        with self._conn() as c:
            n = 0
            for i in range(0, len(guids), 500):
                part = guids[i : i + 500]
                cur = c.execute(
                    f"DELETE FROM received WHERE row_guid IN ({','.join('?' * len(part))})",  # noqa: S608
                    part,
                )
                n += cur.rowcount
            return n

    def distinct_rows(self) -> int:
        with self._conn() as c:
            return int(c.execute("SELECT COUNT(*) FROM received").fetchone()[0])

    def row_guids(self) -> set[str]:
        with self._conn() as c:
            return {g for (g,) in c.execute("SELECT row_guid FROM received")}

    def events(self) -> list[dict[str, Any]]:
        with self._conn() as c:
            cols = ("event_id", "kind", "aggregate_id", "occurred_at", "payload", "seq")
            return [
                dict(zip(cols, r, strict=True))
                for r in c.execute("SELECT * FROM catalog_events ORDER BY seq")
            ]

    def request_stats(self) -> dict[str, int]:
        with self._conn() as c:
            n, rows = c.execute("SELECT COUNT(*), COALESCE(SUM(rows), 0) FROM requests").fetchone()
        return {"requests": int(n), "rows": int(rows)}


# --- the SOAP service --------------------------------------------------------------------------


def _row_dict(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in obj.as_dict().items() if v is not None} if obj is not None else {}


def build_service(store: ProvinceStore) -> type[ServiceBase]:
    class ProvinceExchange(ServiceBase):  # type: ignore[misc]
        @rpc(  # type: ignore[untyped-decorator]
            Unicode(min_occurs=1),
            Unicode(min_occurs=1),
            Array(CaseRow, min_occurs=1),
            _returns=Array(RowReceipt),
            _in_message_name="SubmitCaseRows",
        )
        def SubmitCaseRows(ctx: Any, batch_id: str, sender: str, rows: list[Any]) -> list[RowReceipt]:
            items: list[tuple[str, dict[str, Any]]] = []
            for r in rows or []:
                present = [
                    (name, getattr(r, name)) for name in CASE_TABLES if getattr(r, name, None) is not None
                ]
                if len(present) != 1:
                    raise Fault("Client.BadRow", "each CaseRow must carry exactly one table element")
                items.append((present[0][0], _row_dict(present[0][1])))
            result = store.submit_rows(batch_id, items)
            return [RowReceipt(row_guid=g, status=s, reason=reason or None) for g, s, reason in result]

        @rpc(  # type: ignore[untyped-decorator]
            Unicode(min_occurs=1),
            Unicode(min_occurs=1),
            Array(CatalogEvent, min_occurs=1),
            _returns=Array(RowReceipt),
        )
        def SubmitCatalogEvents(ctx: Any, batch_id: str, sender: str, events: list[Any]) -> list[RowReceipt]:
            result = store.submit_events([_row_dict(e) for e in events or []])
            return [RowReceipt(row_guid=g, status=s, reason=None) for g, s, _ in result]

        @rpc(Unicode(min_occurs=0), Unicode(min_occurs=0), Unicode(min_occurs=0), _returns=Array(DayCount))  # type: ignore[untyped-decorator]
        def QueryCounts(
            ctx: Any, table: str | None, day_from: str | None, day_to: str | None
        ) -> list[DayCount]:
            return [DayCount(table=t, day=d, count=n) for t, d, n in store.counts(table, day_from, day_to)]

        @rpc(Array(Unicode, min_occurs=1), _returns=Array(RowPresence))  # type: ignore[untyped-decorator]
        def LookupRows(ctx: Any, row_guids: list[str]) -> list[RowPresence]:
            return [
                RowPresence(row_guid=g, found=f, table=t, seq=s)
                for g, f, t, s in store.lookup(list(row_guids or []))
            ]

    return ProvinceExchange


WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


def check_wsse(headers: Any, users: dict[str, str], seen_nonces: set[str], max_skew_s: int = 300) -> None:
    """Verify a UsernameToken (password digest, fresh nonce, recent Created) and a wsu:Timestamp."""
    import base64
    import datetime as dt
    import hashlib

    def fault(msg: str) -> Fault:
        return Fault("Client.Authentication", f"WS-Security: {msg}")

    sec = None
    for h in headers or []:
        if getattr(h, "tag", None) == f"{{{WSSE}}}Security":
            sec = h
        elif hasattr(h, "find"):
            sec = sec if sec is not None else h.find(f".//{{{WSSE}}}Security")
    if sec is None:
        raise fault("no Security header")
    user = sec.findtext(f".//{{{WSSE}}}Username")
    pw = sec.find(f".//{{{WSSE}}}Password")
    nonce = sec.findtext(f".//{{{WSSE}}}Nonce") or ""
    created = sec.findtext(f".//{{{WSSE}}}UsernameToken/{{{WSU}}}Created") or ""
    expires = sec.findtext(f".//{{{WSU}}}Timestamp/{{{WSU}}}Expires")
    if not user or user not in users or pw is None:
        raise fault("unknown user")
    expected = base64.b64encode(
        hashlib.sha1(base64.b64decode(nonce) + created.encode() + users[user].encode()).digest()  # noqa: S324 - WSS digest
    ).decode()
    if pw.text != expected:
        raise fault("bad password digest")
    now = dt.datetime.now(dt.UTC)
    when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    if abs((now - when).total_seconds()) > max_skew_s:
        raise fault("Created too old or in the future")
    if expires is None or dt.datetime.fromisoformat(expires.replace("Z", "+00:00")) < now:
        raise fault("missing or expired wsu:Timestamp")
    if nonce in seen_nonces:
        raise fault("nonce replayed")
    seen_nonces.add(nonce)


def make_province_app(store: ProvinceStore, users: dict[str, str] | None = None) -> WsgiApplication:
    """The WSGI application of the province's SOAP service (WSDL at ``?wsdl``).

    With ``users`` (username -> password), every call must carry a valid WS-Security UsernameToken
    (password digest) and wsu:Timestamp; otherwise a ``Client.Authentication`` fault.
    """
    service = build_service(store)
    if users:
        nonces: set[str] = set()
        lock = threading.Lock()

        def _auth(ctx: Any) -> None:
            with lock:
                check_wsse(ctx.in_header_doc, users, nonces)

        service.event_manager.add_listener("method_call", _auth)
    app = Application(
        [service],
        tns=NAMESPACE,
        name=SERVICE_NAME,
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )
    return WsgiApplication(app)
