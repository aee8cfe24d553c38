"""Tables of ``connectors`` (Alembic revision ``0004``): outbox, fencing tokens, message log,
pull cursors and the inbound landing table.

- ``connector_outbox``: one row per (peer, idempotency key) — a case row (key = row_guid) or a
  domain event (key = event_id). ``state``: pending → inflight (claimed under a fencing token and
  a lease) → delivered | pending (retry later) | dead (dead-letter, with reason) → released.
- ``connector_fence``: the monotonic fencing token per peer (bumped by every claim).
- ``connector_message_log``: every exchange (each attempt) with correlation id, payload hash,
  response code, timing; bodies only after redaction and a size cap.
- ``connector_pull_cursor`` / ``connector_inbound``: incremental pull state per county and the
  rows landed in the same transaction as the cursor. A landed row keeps its ``payload`` only until
  a raw batch holds it (:func:`connectors.feeds.release_inbound`, revision ``0009``); then the row
  stays as the landing record (peer, row_guid: what makes a re-pull land nothing twice).
- ``connector_event_cursor``: how far core's domain events have been enqueued per peer.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.sealing import unseal_on_load

STATES = ("pending", "inflight", "delivered", "dead", "released")


class OutboxRow(Base):
    __tablename__ = "connector_outbox"
    __table_args__ = (
        UniqueConstraint("peer", "row_guid"),
        Index("ix_connector_outbox_claim", "peer", "state", "id"),
        Index("ix_connector_outbox_case", "peer", "project_no", "cd_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    peer: Mapped[str] = mapped_column(String(80), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # case_row | event
    row_guid: Mapped[str] = mapped_column(String(64), nullable=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    project_no: Mapped[str] = mapped_column(String(200), nullable=False)
    cd_time: Mapped[str] = mapped_column(String(40), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    not_before: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    claim_token: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    receipt: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)
    delivered_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class OutboxFence(Base):
    __tablename__ = "connector_fence"

    peer: Mapped[str] = mapped_column(String(80), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class MessageLog(Base):
    __tablename__ = "connector_message_log"
    __table_args__ = (Index("ix_connector_message_log_peer", "peer", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    correlation_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    peer: Mapped[str] = mapped_column(String(80), nullable=False)
    operation: Mapped[str] = mapped_column(String(80), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[str] = mapped_column(String(40), nullable=False)
    duration_ms: Mapped[float] = mapped_column(Float, nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    payload_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    request_size: Mapped[int] = mapped_column(Integer, nullable=False)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)


class PullCursor(Base):
    __tablename__ = "connector_pull_cursor"

    peer: Mapped[str] = mapped_column(String(80), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(500), nullable=True)
    rows_total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    pages_total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[str] = mapped_column(String(40), nullable=False)


class InboundRow(Base):
    __tablename__ = "connector_inbound"
    __table_args__ = (
        UniqueConstraint("peer", "row_guid"),
        Index("ix_connector_inbound_peer_id", "peer", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    peer: Mapped[str] = mapped_column(String(80), nullable=False)
    row_guid: Mapped[str] = mapped_column(String(64), nullable=False)
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)  # NULL once in a raw batch
    page_cursor: Mapped[str | None] = mapped_column(String(500), nullable=True)
    pulled_at: Mapped[str] = mapped_column(String(40), nullable=False)


class EventCursor(Base):
    __tablename__ = "connector_event_cursor"

    peer: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


# payloads are sealed at rest (core.sealing): loaded rows show them opened
for _model in (OutboxRow, InboundRow):
    unseal_on_load(_model)
