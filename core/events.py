"""Domain events: a transactional outbox table in core.

A change (a license issued, a status changed, a ledger anchor) records its event in the same
transaction as the change itself; delivery code in ``connectors`` reads events later by id. This is
how packages that must not import each other hand work on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.canonical import canonical_json
from core.db import Base, utcnow
from core.sealing import seal_value, unseal_on_load


class DomainEvent(Base):
    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_kind_id", "kind", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(80), nullable=False)
    aggregate_type: Mapped[str] = mapped_column(String(40), nullable=False)
    aggregate_id: Mapped[str] = mapped_column(String(200), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)

    @property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.payload)
        return value


unseal_on_load(DomainEvent)  # payload is sealed at rest (it may name a holder: license.issued)


def record_event(
    session: Session, kind: str, aggregate_type: str, aggregate_id: str, payload: Mapping[str, Any]
) -> DomainEvent:
    """Record an event in the caller's transaction (its payload sealed at rest; the returned object
    shows it opened)."""
    from sqlalchemy.orm.attributes import set_committed_value

    event_id = str(uuid.uuid4())
    text = canonical_json(dict(payload))
    ev = DomainEvent(
        event_id=event_id,
        kind=kind,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=seal_value(session, text, "domain_events", "payload", event_id),
        created_at=utcnow().isoformat(timespec="microseconds"),
    )
    session.add(ev)
    session.flush()
    set_committed_value(ev, "payload", text)
    return ev


def events_after(
    session: Session, after_id: int, *, kinds: Sequence[str] | None = None, limit: int = 500
) -> list[DomainEvent]:
    """Events with an id greater than ``after_id`` (oldest first), optionally of some kinds."""
    q = select(DomainEvent).where(DomainEvent.id > after_id)
    if kinds:
        q = q.where(DomainEvent.kind.in_(list(kinds)))
    return list(session.scalars(q.order_by(DomainEvent.id).limit(limit)))
