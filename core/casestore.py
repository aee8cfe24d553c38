"""The case store (办件库): accepted rows of every case table, held rows, quarantined rows and the
outcome of every validated batch — the input of every later step (parent lookup, duplicates, push,
issuance, SLA monitoring).

Four tables (Alembic revision ``0003``):

* ``case_rows``        accepted rows (one per ``row_guid``, unique), with table, project_no, state,
                       business date (the table's first date column, else its first timestamp's
                       date), the batch that brought them and the row as JSON.
* ``case_held``        child rows waiting for their accepted parent (``up_pro_accept``), with the
                       hold time; closed as ``released`` (the parent arrived) or ``expired``.
* ``case_quarantine``  rows (or whole files) that failed, with every failed rule and field; the
                       original stays as evidence, a resubmission links to the batch that re-checked it.
* ``case_batches``     one row per batch hash: counts and the stored outcome (re-validating a batch
                       returns it and changes nothing).

Ownership of a ``row_guid`` (DOMAIN.md §5): an accepted row owns it, and so does an open hold
(a held row is accepted when its parent arrives); a quarantined row owns nothing.

Citizen data is sealed (:mod:`core.sealing`): ``case_rows.data`` and ``case_held.data`` under
their row_guid, ``case_quarantine.raw`` under (batch hash, line). Writers here seal, loaded rows
show the opened value, and ``rows_by_project`` opens what it selects.

Writes join the caller's session (one transaction per batch). Bulk writes are one executemany
(through the driver on SQLite, a Core insert elsewhere); the big ``IN (…)`` lookups are driver SQL.

Public API::

    CaseStore()                                       # stateless; every method takes a Session
    .owned_guids(session, guids) -> set[str]          # accepted or held open
    .accepted_parents(session, project_nos) -> dict[str, str]   # project_no -> accept_date
    .rows_by_project(session, table, project_nos) -> dict[str, list[dict]]
    .add_accepted(session, rows: Sequence[AcceptedRow]) -> int
    .add_accepted_values(session, rows: Sequence[AcceptedValues]) -> int   # the same, rows as tuples
    .add_held(session, rows: Sequence[HeldRowIn], *, held_at) -> int
    .open_holds(session, *, project_nos=None, held_before=None) -> list[HeldRow]
    .close_holds(session, ids, *, status, batch_hash, at) -> int
    .add_quarantined(session, rows: Sequence[QuarantineIn], *, at) -> list[int]
    .quarantined(session, *, status=None, batch_hash=None, limit=100, after_id=0) -> list[QuarantinedRow]
    .quarantine_entry(session, qid) -> QuarantinedRow | None
    .mark_resubmitted(session, qid, *, batch_hash, result, at) -> None
    .rows(session, *, table=None, project_no=None, row_guid=None, state=None,
          date_from=None, date_to=None, batch_hash=None, limit=1000, after_id=0) -> list[CaseRow]
    .set_state(session, row_guids, state) -> int
    .batch(session, batch_hash) -> BatchRecord | None
    .save_batch(session, record: BatchRecord) -> None     # raises BatchExists if already stored
    .counts(session) -> dict[str, int]

Why one module of this length: it is the one owner of the SQL of the case store's four tables; the
gate, the push, issuance and the CLI all go through it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Boolean, Index, Integer, String, Table, Text, func, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, utcnow
from core.errors import BatchExists, CaseStoreError  # raised here, drawn in core.errors
from core.sealing import crypt_of, row_key, unseal_on_load

# states of an accepted row; later steps move it on (push, issuance)
STATE_ACCEPTED = "accepted"
HOLD_OPEN, HOLD_RELEASED, HOLD_EXPIRED = "held", "released", "expired"
Q_OPEN, Q_RESUBMITTED = "open", "resubmitted"
Q_KIND_ROW, Q_KIND_FILE, Q_KIND_EXPIRED = "row", "file", "expired"

_CHUNK = 8000  # bound parameters per IN (...) query (SQLite >= 3.32 allows 32766, PostgreSQL 65535)


def iso(ts: datetime) -> str:
    """The one timestamp form of these tables: UTC ISO 8601 with microseconds (sorts as text)."""
    return ts.astimezone(utcnow().tzinfo).isoformat(timespec="microseconds")


class CaseRow(Base):
    __tablename__ = "case_rows"
    __table_args__ = (
        Index("ix_case_rows_project", "project_no", "table_name"),
        Index("ix_case_rows_state", "state", "id"),
        Index("ix_case_rows_date", "business_date"),
        Index("ix_case_rows_batch", "batch_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    row_guid: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    table_name: Mapped[str] = mapped_column(String(40), nullable=False)
    project_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default=STATE_ACCEPTED)
    business_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    cd_operation: Mapped[str | None] = mapped_column(String(1), nullable=True)
    batch_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    flags: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list of flag rule ids
    data: Mapped[str] = mapped_column(Text, nullable=False)  # the row as JSON
    accepted_at: Mapped[str] = mapped_column(String(40), nullable=False)
    state_changed_at: Mapped[str | None] = mapped_column(String(40), nullable=True)

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.data)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "row_guid": self.row_guid,
            "table": self.table_name,
            "project_no": self.project_no,
            "state": self.state,
            "business_date": self.business_date,
            "batch_hash": self.batch_hash,
            "line": self.line,
            "flags": json.loads(self.flags) if self.flags else [],
            "accepted_at": self.accepted_at,
        }


class HeldRow(Base):
    __tablename__ = "case_held"
    __table_args__ = (
        Index("ix_case_held_open", "status", "project_no"),
        Index("ix_case_held_guid", "row_guid"),
        Index("ix_case_held_time", "status", "held_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    row_guid: Mapped[str] = mapped_column(String(64), nullable=False)
    table_name: Mapped[str] = mapped_column(String(40), nullable=False)
    project_no: Mapped[str] = mapped_column(String(64), nullable=False)
    batch_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[str] = mapped_column(Text, nullable=False)
    held_at: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=HOLD_OPEN)
    closed_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # batch hash or "sweep"

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.data)
        return out


class QuarantinedRow(Base):
    __tablename__ = "case_quarantine"
    __table_args__ = (
        Index("ix_case_quarantine_batch", "batch_hash"),
        Index("ix_case_quarantine_status", "status", "id"),
        Index("ix_case_quarantine_guid", "row_guid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default=Q_KIND_ROW)
    batch_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    byte_offset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    row_guid: Mapped[str | None] = mapped_column(String(200), nullable=True)
    table_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    project_no: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reasons: Mapped[str] = mapped_column(Text, nullable=False)  # JSON [{"rule_id","field","detail"}]
    raw: Mapped[str | None] = mapped_column(Text, nullable=True)  # the line as received (evidence)
    quarantined_at: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=Q_OPEN)
    resubmitted_batch: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resubmit_result: Mapped[str | None] = mapped_column(String(20), nullable=True)
    resubmitted_at: Mapped[str | None] = mapped_column(String(40), nullable=True)

    def reason_list(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(self.reasons)
        return out

    def as_dict(self, *, with_raw: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "batch_hash": self.batch_hash,
            "line": self.line,
            "byte_offset": self.byte_offset,
            "row_guid": self.row_guid,
            "table": self.table_name,
            "project_no": self.project_no,
            "reasons": self.reason_list(),
            "quarantined_at": self.quarantined_at,
            "status": self.status,
            "resubmitted_batch": self.resubmitted_batch,
            "resubmit_result": self.resubmit_result,
        }
        if with_raw:
            doc["raw"] = self.raw
        return doc


for _model in (CaseRow, HeldRow, QuarantinedRow):
    unseal_on_load(_model)


class BatchRecord(Base):
    __tablename__ = "case_batches"

    batch_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    validated_at: Mapped[str] = mapped_column(String(40), nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    curated: Mapped[int] = mapped_column(Integer, nullable=False)
    held: Mapped[int] = mapped_column(Integer, nullable=False)
    quarantined: Mapped[int] = mapped_column(Integer, nullable=False)
    released: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    expired: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    file_quarantined: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    suite_version: Mapped[str] = mapped_column(String(40), nullable=False)
    suite_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)  # the compact JWS
    outcome: Mapped[str] = mapped_column(Text, nullable=False)  # JSON of the stored outcome

    def outcome_doc(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.outcome)
        return out


# -- inputs of the bulk writers ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptedRow:
    row_guid: str
    table: str
    project_no: str | None
    business_date: str | None
    cd_operation: str | None
    batch_hash: str
    line: int | None
    data: str  # JSON
    flags: tuple[str, ...] = ()


# row_guid, table, project_no, business_date, cd_operation, batch_hash, line, flags (JSON or None), data
AcceptedValues = tuple[str, str, str | None, str | None, str | None, str, int | None, str | None, str]


@dataclass(frozen=True, slots=True)
class HeldRowIn:
    row_guid: str
    table: str
    project_no: str
    batch_hash: str
    line: int | None
    data: str  # JSON


@dataclass(frozen=True, slots=True)
class QuarantineIn:
    batch_hash: str
    reasons: Sequence[dict[str, Any]]
    kind: str = Q_KIND_ROW
    line: int | None = None
    byte_offset: int | None = None
    row_guid: str | None = None
    table: str | None = None
    project_no: str | None = None
    raw: str | None = None


_BIG_WRITE = 5000  # rows of one bulk write above which the SQLite page cache is enlarged
_ACCEPTED_COLS = (  # AcceptedValues, then state and accepted_at
    "row_guid",
    "table_name",
    "project_no",
    "business_date",
    "cd_operation",
    "batch_hash",
    "line",
    "flags",
    "data",
    "state",
    "accepted_at",
)
_HELD_COLS = ("row_guid", "table_name", "project_no", "batch_hash", "line", "data", "held_at", "status")
_QUARANTINE_COLS = (
    "kind",
    "batch_hash",
    "line",
    "byte_offset",
    "row_guid",
    "table_name",
    "project_no",
    "reasons",
    "raw",
    "quarantined_at",
    "status",
)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _placeholder(session: Session) -> str:
    return "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"


def _select_in(session: Session, sql_head: str, values: Sequence[str]) -> list[tuple[Any, ...]]:
    """``sql_head + " IN (…)"`` over chunks of ``values``, as driver SQL: compiling an IN list of
    thousands of bound parameters through SQLAlchemy costs more than the query itself."""
    mark = _placeholder(session)
    conn = session.connection()
    out: list[tuple[Any, ...]] = []
    for part in _chunks(values):
        sql = f"{sql_head} IN ({', '.join([mark] * len(part))})"
        out.extend(tuple(r) for r in conn.exec_driver_sql(sql, tuple(part)))
    return out


def _bulk_insert(session: Session, table: Table, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """executemany of ``rows`` (tuples in the order of ``cols``); on SQLite straight through the
    driver (no per-row SQLAlchemy parameter processing, no dict per row), elsewhere a Core insert
    (PostgreSQL: batched multi-row VALUES)."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        if len(rows) > _BIG_WRITE:
            # a batch's rows update five B-trees with random keys (row_guid): with SQLite's default
            # 2 MB page cache the pages are evicted and re-read mid-transaction; 64 MB holds them
            conn.exec_driver_sql("PRAGMA cache_size = -65536")
        # table and column names come from our own ORM models, values are bound parameters
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join(['?'] * len(cols))})"  # noqa: S608
        conn.exec_driver_sql(sql, rows)
    else:
        conn.execute(insert(table), [dict(zip(cols, r, strict=True)) for r in rows])


def _text_or_none(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text[:limit]


class CaseStore:
    """Queries and bulk writes of the case store; every method works in the caller's session."""

    # -- ownership and parents -----------------------------------------------------------------
    def owned_guids(self, session: Session, guids: Iterable[str]) -> set[str]:
        """The subset of ``guids`` owned by an accepted row or an open hold."""
        wanted = sorted({g for g in guids if isinstance(g, str)})
        owned = {r[0] for r in _select_in(session, "SELECT row_guid FROM case_rows WHERE row_guid", wanted)}
        owned.update(
            r[0]
            for r in _select_in(
                session, "SELECT row_guid FROM case_held WHERE status = 'held' AND row_guid", wanted
            )
        )
        return owned

    def accepted_parents(self, session: Session, project_nos: Iterable[str]) -> dict[str, str]:
        """``project_no -> accept_date`` of accepted ``up_pro_accept`` rows (the first one accepted)."""
        wanted = sorted({p for p in project_nos if isinstance(p, str)})
        out: dict[str, str] = {}
        rows = _select_in(
            session,
            "SELECT id, project_no, business_date FROM case_rows "
            "WHERE table_name = 'up_pro_accept' AND project_no",
            wanted,
        )
        for _id, project_no, accept_date in sorted(rows):
            if project_no is not None and project_no not in out:
                out[project_no] = accept_date or ""
        return out

    def rows_by_project(
        self, session: Session, table: str, project_nos: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """The accepted rows of ``table`` for these cases, per project_no, in acceptance order."""
        out: dict[str, list[dict[str, Any]]] = {}
        crypt = crypt_of(session)
        for part in _chunks(sorted(set(project_nos))):
            q = (
                select(CaseRow.project_no, CaseRow.row_guid, CaseRow.data)
                .where(CaseRow.table_name == table, CaseRow.project_no.in_(list(part)))
                .order_by(CaseRow.id)
            )
            for project_no, guid, data in session.execute(q):
                plain = crypt.open(data, table="case_rows", column="data", row_key=guid)
                out.setdefault(str(project_no), []).append(json.loads(plain))
        return out

    # -- accepted rows ---------------------------------------------------------------------------
    def add_accepted(
        self, session: Session, rows: Sequence[AcceptedRow], *, at: datetime | None = None
    ) -> int:
        return self.add_accepted_values(
            session,
            [
                (
                    r.row_guid,
                    r.table,
                    r.project_no,
                    r.business_date,
                    r.cd_operation,
                    r.batch_hash,
                    r.line,
                    json.dumps(list(r.flags)) if r.flags else None,
                    r.data,
                )
                for r in rows
            ],
            at=at,
        )

    def add_accepted_values(
        self, session: Session, rows: Sequence[AcceptedValues], *, at: datetime | None = None
    ) -> int:
        """:meth:`add_accepted` for rows already as tuples (the gate's bulk path: no object per row);
        ``flags`` is the JSON list of flag rule ids or None."""
        if not rows:
            return 0
        tail = (STATE_ACCEPTED, iso(at or utcnow()))
        seal = crypt_of(session).seal
        _bulk_insert(
            session,
            cast(Table, CaseRow.__table__),
            _ACCEPTED_COLS,
            [(*r[:8], seal(r[8], table="case_rows", column="data", row_key=r[0]), *tail) for r in rows],
        )
        return len(rows)

    def rows(
        self,
        session: Session,
        *,
        table: str | None = None,
        project_no: str | None = None,
        row_guid: str | None = None,
        state: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        batch_hash: str | None = None,
        limit: int = 1000,
        after_id: int = 0,
    ) -> list[CaseRow]:
        """Accepted rows by any combination of filters, in acceptance order (page with ``after_id``).

        ``date_from`` / ``date_to`` (``YYYY-MM-DD``, both included) filter the business date."""
        q = select(CaseRow).where(CaseRow.id > after_id)
        if table is not None:
            q = q.where(CaseRow.table_name == table)
        if project_no is not None:
            q = q.where(CaseRow.project_no == project_no)
        if row_guid is not None:
            q = q.where(CaseRow.row_guid == row_guid)
        if state is not None:
            q = q.where(CaseRow.state == state)
        if date_from is not None:
            q = q.where(CaseRow.business_date >= date_from)
        if date_to is not None:
            q = q.where(CaseRow.business_date <= date_to)
        if batch_hash is not None:
            q = q.where(CaseRow.batch_hash == batch_hash)
        return list(session.scalars(q.order_by(CaseRow.id).limit(limit)))

    def set_state(
        self, session: Session, row_guids: Sequence[str], state: str, *, at: datetime | None = None
    ) -> int:
        """Move accepted rows to ``state`` (e.g. ``pushed``); returns how many rows changed."""
        stamp = iso(at or utcnow())
        changed = 0
        for part in _chunks(list(row_guids)):
            result = session.execute(
                update(CaseRow)
                .where(CaseRow.row_guid.in_(part))
                .values(state=state, state_changed_at=stamp)
                .execution_options(synchronize_session=False)
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
        return changed

    # -- held rows -------------------------------------------------------------------------------
    def add_held(self, session: Session, rows: Sequence[HeldRowIn], *, at: datetime | None = None) -> int:
        if not rows:
            return 0
        stamp = iso(at or utcnow())
        seal = crypt_of(session).seal
        _bulk_insert(
            session,
            cast(Table, HeldRow.__table__),
            _HELD_COLS,
            [
                (
                    r.row_guid,
                    r.table,
                    r.project_no,
                    r.batch_hash,
                    r.line,
                    seal(r.data, table="case_held", column="data", row_key=r.row_guid),
                    stamp,
                    HOLD_OPEN,
                )
                for r in rows
            ],
        )
        return len(rows)

    def open_holds(
        self,
        session: Session,
        *,
        project_nos: Iterable[str] | None = None,
        held_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[HeldRow]:
        """Open holds, optionally for some parents only, or only those held before a time."""
        base = select(HeldRow).where(HeldRow.status == HOLD_OPEN)
        if held_before is not None:
            base = base.where(HeldRow.held_at <= iso(held_before))
        if project_nos is None:
            q = base.order_by(HeldRow.id)
            return list(session.scalars(q.limit(limit) if limit else q))
        out: list[HeldRow] = []
        for part in _chunks(sorted(set(project_nos))):
            out.extend(session.scalars(base.where(HeldRow.project_no.in_(part))))
        out.sort(key=lambda h: h.id)
        return out

    def close_holds(
        self, session: Session, ids: Sequence[int], *, status: str, closed_by: str, at: datetime | None = None
    ) -> int:
        if status not in (HOLD_RELEASED, HOLD_EXPIRED):
            raise CaseStoreError(f"a hold closes as released or expired, not {status!r}")
        stamp = iso(at or utcnow())
        changed = 0
        for i in range(0, len(ids), _CHUNK):
            result = session.execute(
                update(HeldRow)
                .where(HeldRow.id.in_(ids[i : i + _CHUNK]), HeldRow.status == HOLD_OPEN)
                .values(status=status, closed_at=stamp, closed_by=closed_by)
                .execution_options(synchronize_session=False)
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
        return changed

    # -- quarantine ------------------------------------------------------------------------------
    def add_quarantined(
        self, session: Session, rows: Sequence[QuarantineIn], *, at: datetime | None = None
    ) -> int:
        if not rows:
            return 0
        stamp = iso(at or utcnow())
        seal = crypt_of(session).seal
        _bulk_insert(
            session,
            cast(Table, QuarantinedRow.__table__),
            _QUARANTINE_COLS,
            [
                (
                    r.kind,
                    r.batch_hash,
                    r.line,
                    r.byte_offset,
                    _text_or_none(r.row_guid, 200),
                    _text_or_none(r.table, 80),
                    _text_or_none(r.project_no, 200),
                    json.dumps(list(r.reasons), ensure_ascii=False),
                    None
                    if r.raw is None
                    else seal(
                        r.raw, table="case_quarantine", column="raw", row_key=row_key(r.batch_hash, r.line)
                    ),
                    stamp,
                    Q_OPEN,
                )
                for r in rows
            ],
        )
        return len(rows)

    def quarantined(
        self,
        session: Session,
        *,
        status: str | None = None,
        batch_hash: str | None = None,
        rule_id: str | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> list[QuarantinedRow]:
        q = select(QuarantinedRow).where(QuarantinedRow.id > after_id)
        if status is not None:
            q = q.where(QuarantinedRow.status == status)
        if batch_hash is not None:
            q = q.where(QuarantinedRow.batch_hash == batch_hash)
        if rule_id is not None:
            q = q.where(QuarantinedRow.reasons.contains(f'"rule_id": "{rule_id}"'))
        return list(session.scalars(q.order_by(QuarantinedRow.id).limit(limit)))

    def quarantine_entry(self, session: Session, qid: int) -> QuarantinedRow | None:
        return session.get(QuarantinedRow, qid)

    def mark_resubmitted(
        self, session: Session, qid: int, *, batch_hash: str, result: str, at: datetime | None = None
    ) -> None:
        session.execute(
            update(QuarantinedRow)
            .where(QuarantinedRow.id == qid)
            .values(
                status=Q_RESUBMITTED,
                resubmitted_batch=batch_hash,
                resubmit_result=result,
                resubmitted_at=iso(at or utcnow()),
            )
        )

    # -- batches -----------------------------------------------------------------------------------
    def batch(self, session: Session, batch_hash: str) -> BatchRecord | None:
        return session.get(BatchRecord, batch_hash)

    def save_batch(self, session: Session, record: BatchRecord) -> None:
        """Insert the batch record; :class:`BatchExists` when another transaction stored it first."""
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
        except SAIntegrityError as exc:
            raise BatchExists(f"batch {record.batch_hash} is already stored") from exc

    def counts(self, session: Session) -> dict[str, int]:
        def n(q: Any) -> int:
            return int(session.scalar(q) or 0)

        return {
            "accepted": n(select(func.count()).select_from(CaseRow)),
            "held_open": n(select(func.count()).select_from(HeldRow).where(HeldRow.status == HOLD_OPEN)),
            "quarantined_open": n(
                select(func.count()).select_from(QuarantinedRow).where(QuarantinedRow.status == Q_OPEN)
            ),
            "batches": n(select(func.count()).select_from(BatchRecord)),
        }


__all__ = [
    "HOLD_EXPIRED",
    "HOLD_OPEN",
    "HOLD_RELEASED",
    "Q_KIND_EXPIRED",
    "Q_KIND_FILE",
    "Q_KIND_ROW",
    "Q_OPEN",
    "Q_RESUBMITTED",
    "STATE_ACCEPTED",
    "AcceptedRow",
    "AcceptedValues",
    "BatchExists",
    "BatchRecord",
    "CaseRow",
    "CaseStore",
    "CaseStoreError",
    "HeldRow",
    "HeldRowIn",
    "QuarantineIn",
    "QuarantinedRow",
    "iso",
]
