"""The gateway's tables (Alembic revision ``0006``): API clients and their grants, the use index,
webhook subscriptions and deliveries, event cursors and public page hit counters.

No table here holds a citizen identifier: uses are indexed by license identifier, and the ledger
entries (core.ledger, streams ``use.<client_id>``) carry hashes and masked forms only. The use
index itself (:class:`ApiUseIndex`) lives in :mod:`core.uselog` with the entry shape, since flows
write uses too (licenses reused at intake); it is re-exported here.
"""

from __future__ import annotations

import json

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.uselog import ApiUseIndex

__all__ = [
    "ROLES",
    "ROLE_HOLDER_PORTAL",
    "ROLE_QUALITY",
    "ROLE_SHARE",
    "ROLE_STATUS",
    "ApiClient",
    "ApiCursor",
    "ApiGrant",
    "ApiPageHits",
    "ApiSubscription",
    "ApiUseIndex",
    "ApiWebhookDelivery",
]

# roles a grant can give
ROLE_SHARE = "share"  # search, metadata, annotated copies, verification
ROLE_STATUS = "status"  # change the status of licenses the department issued
ROLE_HOLDER_PORTAL = "holder_portal"  # list the uses of a holder's licenses
ROLE_QUALITY = "quality"  # operators: read the data-quality site (/quality/)
ROLES = (ROLE_SHARE, ROLE_STATUS, ROLE_HOLDER_PORTAL, ROLE_QUALITY)


class ApiClient(Base):
    """A registered department client; the secret is stored as a salted scrypt hash only."""

    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dept_code: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    secret_kdf: Mapped[str] = mapped_column(String(80), nullable=False)
    secret_salt: Mapped[str] = mapped_column(String(64), nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class ApiGrant(Base):
    """What a client may do: a role, the license types it may see and the purposes it may state."""

    __tablename__ = "api_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("api_clients.client_id", ondelete="CASCADE"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    type_codes: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    purpose_codes: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)

    @property
    def types(self) -> list[str]:
        value: list[str] = json.loads(self.type_codes)
        return value

    @property
    def purposes(self) -> list[str]:
        value: list[str] = json.loads(self.purpose_codes)
        return value


class ApiSubscription(Base):
    """A department's webhook: told when a license it used changes status."""

    __tablename__ = "api_subscriptions"
    __table_args__ = (UniqueConstraint("client_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("api_clients.client_id", ondelete="CASCADE"), nullable=False
    )
    url: Mapped[str] = mapped_column(String(500), nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class ApiWebhookDelivery(Base):
    """One notification to one subscription, retried with backoff until delivered or given up."""

    __tablename__ = "api_webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_api_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("api_subscriptions.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[str] = mapped_column(String(36), nullable=False)
    license_id: Mapped[str] = mapped_column(String(120), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[str] = mapped_column(String(40), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class ApiCursor(Base):
    """How far a gateway worker has read the domain events (webhook dispatch)."""

    __tablename__ = "api_cursors"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ApiPageHits(Base):
    """Public verify page hits per day and outcome: counted, not chained."""

    __tablename__ = "api_page_hits"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(30), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
