"""The use ledger's entries (用证记录) and their index: the one shape every use is written in.

A use of a license — a department's call through the sharing API (:mod:`gateway.uses`), or a
license reused at intake instead of a paper document (电子证照免提交, :mod:`pipeline.materials`) —
is one hash-chained entry on the stream ``use.<client_id>`` (:mod:`core.ledger`) plus one
:class:`ApiUseIndex` row per license it touched, committed together, so a holder's portal lists
every use of their licenses the same way whoever wrote it. This module owns that shape:
:func:`use_entry` builds the entry document (the use cause masked), :func:`index_rows` the index
rows of a committed entry. The API writes through its group-commit writer
(:class:`core.ledger_writer.GroupCommitWriter`, ``after=`` hook); a flow writes with
:func:`append_use` inside its own transaction (so the use and the flow's record of it commit
together: a re-run finds the record and writes nothing).

No column or entry holds a citizen identifier: uses are indexed by license identifier; entries
carry hashes and masked forms only.

Public API::

    ENTRY_VERSION ; ApiUseIndex (table api_use_index, Alembic revision 0006) ; USE_INDEX
    use_entry(*, client_id, dept, op, license_ids, result, payload_sha256, request_id,
              purpose=None, cause=None, holder_key=None, extra=None) -> dict
    index_rows(entry, license_ids, *, client_id, dept_code) -> list[(Table, dict)]
    append_use(session, stream, kind, doc, *, client_id, dept_code, now=None) -> LedgerEntry
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Index, Integer, String, Table
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import ledger
from core.db import Base
from core.ledger import LedgerEntry
from core.masking import redact_text

ENTRY_VERSION = 1


class ApiUseIndex(Base):
    """One row per license touched by a ledgered use: finds a license's users and a holder's uses."""

    __tablename__ = "api_use_index"
    __table_args__ = (
        Index("ix_api_use_index_license", "license_id", "id"),
        Index("ix_api_use_index_client_license", "client_id", "license_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_id: Mapped[str] = mapped_column(String(120), nullable=False)
    client_id: Mapped[str] = mapped_column(String(40), nullable=False)
    dept_code: Mapped[str] = mapped_column(String(40), nullable=False)
    stream: Mapped[str] = mapped_column(String(120), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)


USE_INDEX = cast(Table, ApiUseIndex.__table__)


def use_entry(
    *,
    client_id: str,
    dept: str,
    op: str,
    license_ids: Sequence[str],
    result: str,
    payload_sha256: str,
    request_id: str,
    purpose: str | None = None,
    cause: str | None = None,
    holder_key: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ledger document of one use (the use cause with resident IDs masked)."""
    doc: dict[str, Any] = {
        "v": ENTRY_VERSION,
        "client_id": client_id,
        "dept": dept,
        "op": op,
        "license_ids": list(license_ids),
        "purpose": purpose,
        "cause": redact_text(cause) if cause is not None else None,
        "result": result,
        "payload_sha256": payload_sha256,
        "request_id": request_id,
    }
    if holder_key:
        doc["holder_key"] = holder_key
    if extra:
        doc["extra"] = dict(extra)  # server-made values; client text is masked by the caller
    return doc


def index_rows(
    entry: LedgerEntry, license_ids: Sequence[str], *, client_id: str, dept_code: str
) -> list[tuple[Table, dict[str, Any]]]:
    """The index rows of a committed entry: one per distinct license it touched."""
    return [
        (
            USE_INDEX,
            {
                "license_id": lid,
                "client_id": client_id,
                "dept_code": dept_code,
                "stream": entry.stream,
                "seq": entry.seq,
                "kind": entry.kind,
                "created_at": entry.created_at,
            },
        )
        for lid in dict.fromkeys(license_ids)
    ]


def append_use(
    session: Session,
    stream: str,
    kind: str,
    doc: Mapping[str, Any],
    *,
    client_id: str,
    dept_code: str,
    now: datetime | None = None,
) -> LedgerEntry:
    """Append one use entry and its index rows in the caller's transaction."""
    entry = ledger.append(session, stream, kind, doc, now=now)
    rows = index_rows(entry, list(doc.get("license_ids") or ()), client_id=client_id, dept_code=dept_code)
    for table, values in rows:
        session.execute(table.insert().values(**values))
    return entry
