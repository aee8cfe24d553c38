"""The audit ledger: append-only, hash-chained entries, one chain per stream.

Each stream (``deliveries``, ``license.lifecycle``, ``use.<client>`` …) has its own head row, so
writers of different streams never wait for each other. An entry's hash covers its stream,
sequence number, kind, time, payload and the previous entry's hash; :func:`verify_chain` recomputes
every hash and names the first entry that does not hold.

Appends join the caller's transaction, so an entry is committed exactly when the change it records
is. Entries hold hashes and identifiers, never a full resident ID number: :func:`append` refuses a
payload that contains one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.canonical import canonical_json, sha256_hex
from core.db import Base, utcnow
from core.errors import LedgerError

GENESIS = "0" * 64
# 6-digit region, birth date 19xx/20xx, 3-digit order, check character
_RESIDENT_ID = re.compile(
    r"(?<![0-9A-Za-z])\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
)


class LedgerHead(Base):
    __tablename__ = "ledger_heads"

    stream: Mapped[str] = mapped_column(String(120), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), nullable=False, default=GENESIS)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("stream", "seq"),
        Index("ix_ledger_entries_kind", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(120), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_hash: Mapped[str] = mapped_column(String(64), nullable=False)


HEADS = cast(Table, LedgerHead.__table__)
ENTRIES = cast(Table, LedgerEntry.__table__)


def entry_digest(stream: str, seq: int, kind: str, created_at: str, payload: str, prev_hash: str) -> str:
    return sha256_hex("\n".join((stream, str(seq), kind, created_at, prev_hash, payload)))


def _check_payload(stream: str, kind: str, text: str) -> None:
    if _RESIDENT_ID.search(text):
        raise LedgerError(
            f"ledger entry {stream}/{kind} contains what looks like a full resident ID number; "
            "store a hash or a masked form (core.masking) instead",
            code="LEDGER_PII",
        )


def check_payload(stream: str, kind: str, text: str) -> None:
    """Raise :class:`LedgerError` (``LEDGER_PII``) when ``text`` holds a full resident ID number."""
    _check_payload(stream, kind, text)


def _lock_head(conn: Connection, stream: str) -> tuple[int, str]:
    """``(seq, head_hash)`` of the stream's head, created if new and row-locked until commit.

    One statement: an upsert whose no-op update takes the row lock (PostgreSQL) and returns the
    head, where a plain ``SELECT … FOR UPDATE`` would need a second round trip to create it.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    heads = HEADS
    stmt = upsert(heads).values(stream=stream, seq=0, head_hash=GENESIS)
    stmt = stmt.on_conflict_do_update(index_elements=["stream"], set_={"seq": heads.c.seq})
    seq, head_hash = conn.execute(stmt.returning(heads.c.seq, heads.c.head_hash)).one()
    return int(seq), str(head_hash)


_MOVE_HEAD = (
    update(HEADS)
    .where(HEADS.c.stream == bindparam("h_stream"))
    .values(seq=bindparam("h_seq"), head_hash=bindparam("h_hash"))
)


def chain_rows(
    stream: str, seq: int, prev: str, items: Sequence[tuple[str, str]], *, created: str
) -> list[dict[str, Any]]:
    """The rows of ``(kind, payload text)`` entries chained after the head ``(seq, prev)``."""
    rows: list[dict[str, Any]] = []
    for kind, text in items:
        seq += 1
        digest = entry_digest(stream, seq, kind, created, text, prev)
        rows.append(
            {
                "stream": stream,
                "seq": seq,
                "kind": kind,
                "created_at": created,
                "payload": text,
                "prev_hash": prev,
                "entry_hash": digest,
            }
        )
        prev = digest
    return rows


def append_rows(
    conn: Connection, entries: Mapping[str, Sequence[tuple[str, str]]], *, created: str
) -> dict[str, list[dict[str, Any]]]:
    """Chain and insert ``{stream: [(kind, canonical payload text), ...]}`` on ``conn``'s transaction.

    Heads are locked in stream order (so two writers never deadlock), every entry goes out in one
    insert and the heads move in one update. Payloads must already be checked (:func:`check_payload`).
    Returns the inserted rows (every column but ``id``) per stream, in the order given.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for stream in sorted(entries):
        seq, prev = _lock_head(conn, stream)
        out[stream] = chain_rows(stream, seq, prev, entries[stream], created=created)
    all_rows = [row for rows in out.values() for row in rows]
    if all_rows:
        conn.execute(ENTRIES.insert(), all_rows)
        conn.execute(
            _MOVE_HEAD,
            [
                {"h_stream": s, "h_seq": rows[-1]["seq"], "h_hash": rows[-1]["entry_hash"]}
                for s, rows in out.items()
                if rows
            ],
        )
    return out


def append_many(
    session: Session,
    stream: str,
    items: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    now: datetime | None = None,
) -> list[LedgerEntry]:
    """Append several ``(kind, payload)`` entries to ``stream`` in the caller's transaction.

    The rows are written with bulk statements (entries are never updated, so the ORM's unit of work
    has nothing to track); the returned :class:`LedgerEntry` objects carry every column but ``id``.
    """
    prepared = [(kind, canonical_json(dict(payload))) for kind, payload in items]
    for kind, text in prepared:
        _check_payload(stream, kind, text)
    if not prepared:
        return []
    created = (now or utcnow()).isoformat(timespec="microseconds")
    session.flush()  # rows the caller added come first, as they would with the unit of work
    rows = append_rows(session.connection(), {stream: prepared}, created=created)[stream]
    loaded = session.identity_map.get(session.identity_key(LedgerHead, stream))
    if loaded is not None:  # a head object this session read earlier is now out of date
        session.expire(loaded)
    return [LedgerEntry(**row) for row in rows]


def append(
    session: Session, stream: str, kind: str, payload: Mapping[str, Any], *, now: datetime | None = None
) -> LedgerEntry:
    """Append one entry to ``stream`` in the caller's transaction and return it."""
    return append_many(session, stream, [(kind, payload)], now=now)[0]


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying one stream."""

    stream: str
    entries: int
    ok: bool
    head_hash: str
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "entries": self.entries,
            "ok": self.ok,
            "head_hash": self.head_hash,
            "broken_seq": self.broken_seq,
            "broken_id": self.broken_id,
            "reason": self.reason,
        }


def streams(session: Session) -> list[str]:
    return list(session.scalars(select(LedgerHead.stream).order_by(LedgerHead.stream)))


def _verify_entries(stream: str, entries: Sequence[LedgerEntry], head: LedgerHead | None) -> ChainReport:
    prev, expected_seq = GENESIS, 1
    for e in entries:

        def broken(reason: str, e: LedgerEntry = e, prev: str = prev) -> ChainReport:
            return ChainReport(stream, len(entries), False, prev, e.seq, e.id, reason)

        if e.seq != expected_seq:
            return broken(f"sequence gap: expected {expected_seq}, found {e.seq}")
        if e.prev_hash != prev:
            return broken("prev_hash does not match the previous entry's hash")
        if entry_digest(e.stream, e.seq, e.kind, e.created_at, e.payload, e.prev_hash) != e.entry_hash:
            return broken("entry content does not match its hash (edited)")
        prev, expected_seq = e.entry_hash, expected_seq + 1
    if head is not None and (head.seq != len(entries) or head.head_hash != prev):
        return ChainReport(
            stream,
            len(entries),
            False,
            prev,
            head.seq,
            None,
            "head does not match the last entry (entries removed or head edited)",
        )
    return ChainReport(stream, len(entries), True, prev)


def verify_chain(session: Session, stream: str | None = None) -> list[ChainReport]:
    """Recompute every hash of one stream (or all) and name the first broken entry of each."""
    names = [stream] if stream is not None else streams(session)
    reports = []
    for name in names:
        entries = list(
            session.scalars(select(LedgerEntry).where(LedgerEntry.stream == name).order_by(LedgerEntry.seq))
        )
        head = session.get(LedgerHead, name)
        reports.append(_verify_entries(name, entries, head))
    return reports


def entries(session: Session, stream: str, *, after_seq: int = 0, limit: int = 1000) -> list[LedgerEntry]:
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.stream == stream, LedgerEntry.seq > after_seq)
            .order_by(LedgerEntry.seq)
            .limit(limit)
        )
    )


def head(session: Session, stream: str) -> tuple[int, str]:
    row = session.get(LedgerHead, stream)
    return (0, GENESIS) if row is None else (row.seq, row.head_hash)
