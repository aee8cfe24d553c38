"""The use ledger (用证记录): every search, copy, lookup and verification by a client, chained.

Each client writes to its own stream ``use.<client_id>`` through the shared group-commit writer
(:mod:`core.ledger_writer`), so concurrent requests share transactions and the API does not
serialize on one chain; a response is sent only after its entry is committed. Each entry says who
(client, department), which licenses, the purpose, the use cause (resident ID numbers masked), the
result, the SHA-256 of the response payload and a keyed hash of the holder queried (never the
code itself); ``created_at`` is when. Index rows (:class:`~gateway.models.ApiUseIndex`) commit in
the same transaction, so a holder's portal can list who used their licenses and why. The entry
and index shape is :mod:`core.uselog`'s, shared with the uses flows write (licenses reused at
intake, 电子证照免提交), which the holder's portal lists the same way.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.orm import Session

from core.ledger import LedgerEntry
from core.ledger_writer import GroupCommitWriter, Receipt
from core.uselog import ENTRY_VERSION, USE_INDEX, ApiUseIndex, index_rows, use_entry
from gateway.clients import Principal

__all__ = ["ENTRY_VERSION", "USE_INDEX", "Use", "UseRecorder", "uses_of_licenses"]


@dataclass(frozen=True)
class Use:
    """What one client call did, as it goes on the ledger."""

    op: str  # search | metadata | copy | verify | status | holder_uses
    license_ids: Sequence[str]
    result: str  # ok | not_found | valid | not_valid | refused ...
    payload_sha256: str
    request_id: str
    purpose: str | None = None
    cause: str | None = None
    holder_key: str | None = None  # keyed hash of the holder queried
    extra: dict[str, Any] | None = None


class UseRecorder:
    """Turns :class:`Use` values into committed ledger entries (and index rows)."""

    def __init__(self, writer: GroupCommitWriter, pseudonym_key: bytes) -> None:
        self.writer = writer
        self._key = pseudonym_key

    def holder_key(self, code_type: str, code: str) -> str:
        """A keyed, stable hash of a holder (so entries can be matched without storing the code)."""
        return hmac.new(self._key, f"{code_type}|{code}".encode(), sha256).hexdigest()

    @staticmethod
    def payload_hash(body: bytes) -> str:
        return sha256(body).hexdigest()

    def _entry(self, who: Principal, use: Use) -> dict[str, Any]:
        return use_entry(
            client_id=who.client_id,
            dept=who.dept_code,
            op=use.op,
            license_ids=use.license_ids,
            result=use.result,
            payload_sha256=use.payload_sha256,
            request_id=use.request_id,
            purpose=use.purpose,
            cause=use.cause,
            holder_key=use.holder_key,
            extra=use.extra,
        )

    async def record(self, who: Principal, use: Use) -> Receipt:
        """Append the entry and wait until it is committed."""
        ids = list(dict.fromkeys(use.license_ids))

        def index(entry: LedgerEntry) -> list[tuple[Table, dict[str, Any]]]:
            return index_rows(entry, ids, client_id=who.client_id, dept_code=who.dept_code)

        return await self.writer.append_async(
            who.stream, f"use.{use.op}", self._entry(who, use), after=index if ids else None
        )


def uses_of_licenses(
    session: Session, license_ids: Sequence[str], *, limit: int = 500
) -> list[dict[str, Any]]:
    """Who used these licenses and why, newest first (for the holder portal)."""
    if not license_ids:
        return []
    rows = session.scalars(
        select(ApiUseIndex)
        .where(ApiUseIndex.license_id.in_(list(license_ids)))
        .order_by(ApiUseIndex.id.desc())
        .limit(limit)
    ).all()
    if not rows:
        return []
    keys = {(r.stream, r.seq) for r in rows}
    entries = session.scalars(
        select(LedgerEntry).where(
            or_(*(and_(LedgerEntry.stream == s, LedgerEntry.seq == q) for s, q in keys))
        )
    ).all()
    by_key = {(e.stream, e.seq): e for e in entries}
    out = []
    for r in rows:
        e = by_key.get((r.stream, r.seq))
        doc = json.loads(e.payload) if e is not None else {}
        out.append(
            {
                "license_id": r.license_id,
                "dept_code": r.dept_code,
                "client_id": r.client_id,
                "at": r.created_at,
                "op": doc.get("op", r.kind.removeprefix("use.")),
                "purpose": doc.get("purpose"),
                "cause": doc.get("cause"),
                "result": doc.get("result"),
                "ledger": {"stream": r.stream, "seq": r.seq, "entry_hash": e.entry_hash if e else None},
            }
        )
    return out
