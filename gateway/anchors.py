"""Anchoring the ledger's chain heads with RFC 3161 timestamps, and checking the anchors.

At intervals :func:`anchor_heads` takes the head ``(stream, seq, entry hash)`` of every ledger chain,
hashes their canonical JSON, asks the configured timestamp authority for a token over that digest
(``TONGBAN_PKI__TSA_URL``: a TSA the operator does not run; the embedded default uses the
in-process TSA and says so in the event) and records a ``ledger.anchored`` domain event holding the
heads and the token. The outbox delivers that event to the province like any other, so a copy of
each anchor leaves the operator's hands.

:func:`verify_anchors` recomputes each anchor's digest, checks the token (signature, imprint) and
that every anchored head is still the entry at that position of its chain: an edit, a removal or a
rewritten tail after an anchor is detected even when the chain was re-hashed consistently.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import events
from core.canonical import canonical_bytes
from core.db import Database
from core.events import DomainEvent
from core.ledger import LedgerEntry, LedgerHead
from core.timestamp import TimestampError, TimestampToken, inspect_token

ANCHOR_EVENT = "ledger.anchored"


@dataclass(frozen=True)
class AnchorCheck:
    event_id: str
    ok: bool
    heads: int
    gen_time: str | None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "ok": self.ok,
            "heads": self.heads,
            "gen_time": self.gen_time,
            "problems": self.problems,
        }


def current_heads(session: Session) -> list[list[Any]]:
    rows = session.scalars(select(LedgerHead).where(LedgerHead.seq > 0).order_by(LedgerHead.stream)).all()
    return [[r.stream, r.seq, r.head_hash] for r in rows]


def heads_digest(heads: list[list[Any]]) -> bytes:
    return hashlib.sha256(canonical_bytes({"heads": heads})).digest()


def _last_anchor(session: Session) -> DomainEvent | None:
    return session.scalars(
        select(DomainEvent).where(DomainEvent.kind == ANCHOR_EVENT).order_by(DomainEvent.id.desc()).limit(1)
    ).first()


def anchor_heads(
    db: Database, stamp_digest: Callable[[bytes], TimestampToken], *, tsa_label: str, force: bool = False
) -> dict[str, Any] | None:
    """Timestamp the current heads and record the anchor event (None when nothing changed)."""
    with db.session() as s:
        heads = current_heads(s)
        last = _last_anchor(s)
    if not heads:
        return None
    if last is not None and not force and json.loads(last.payload).get("heads") == heads:
        return None
    digest = heads_digest(heads)
    token = stamp_digest(digest)  # outside the transaction: the TSA may be slow
    payload = {
        "heads": heads,
        "digest_sha256": digest.hex(),
        "tst": base64.b64encode(token.der).decode(),
        "gen_time": token.gen_time.isoformat(),
        "tsa": tsa_label,
    }
    with db.session() as s:
        ev = events.record_event(s, ANCHOR_EVENT, "ledger", digest.hex(), payload)
        payload["event_id"] = ev.event_id
    return payload


def verify_anchors(session: Session) -> list[AnchorCheck]:
    out = []
    for ev in session.scalars(
        select(DomainEvent).where(DomainEvent.kind == ANCHOR_EVENT).order_by(DomainEvent.id)
    ):
        doc = ev.data
        heads: list[list[Any]] = doc.get("heads", [])
        problems: list[str] = []
        digest = heads_digest(heads)
        if digest.hex() != doc.get("digest_sha256"):
            problems.append("recorded digest does not match the recorded heads")
        gen_time = None
        try:
            token = inspect_token(
                base64.b64decode(doc.get("tst", "")), digest=digest, hash_algorithm="sha256"
            )
            gen_time = token.gen_time.isoformat()
        except (TimestampError, ValueError) as exc:
            problems.append(f"timestamp token does not hold: {exc}")
        for stream, seq, head_hash in heads:
            entry = session.scalars(
                select(LedgerEntry).where(LedgerEntry.stream == stream, LedgerEntry.seq == seq)
            ).first()
            if entry is None:
                problems.append(f"{stream}#{seq}: anchored entry is missing")
            elif entry.entry_hash != head_hash:
                problems.append(f"{stream}#{seq}: entry hash differs from the anchored head")
        out.append(AnchorCheck(ev.event_id, not problems, len(heads), gen_time, problems))
    return out
