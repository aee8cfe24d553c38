"""Status-change notifications: a department is told when a license it used changes status.

Two steps, both idempotent and safe to run in several workers:

1. :func:`enqueue_status_changes` reads license status-change domain events after a cursor, finds
   the clients that used each license (:class:`~gateway.models.ApiUseIndex`) and have an active
   subscription, and queues one delivery per (subscription, event) — a unique key, so a second
   worker doing the same adds nothing.
2. :func:`deliver_due` POSTs due deliveries, each signed: header ``Tongban-Signature`` is a compact
   JWS (ES256, ``kid`` from ``/v1/jwks.json``) over ``{"sha256": <body hash>, "delivery": id,
   "event_id": ..., "iat": ...}``. A non-2xx answer or a network error is retried with exponential
   backoff up to ``webhook_max_attempts``, then the delivery is marked ``failed``. Delivery is at
   least once: receivers de-duplicate by ``delivery_id``. A target is checked when subscribed and again
   before each POST (:mod:`gateway.webhook_targets`: no internal address unless an operator allows it).

The API process runs both in its background loop (:mod:`gateway.workers`); a DAG that changes
statuses in bulk — ``license_expiry`` — runs them once itself with :func:`notify_status_changes`,
so departments hear of expiries without waiting for an API worker.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from contracts.codes import CODE_LISTS
from core.db import Database, utcnow
from core.events import events_after
from core.jws import sign_compact
from core.keys.base import Signer
from core.settings import Settings
from gateway.models import ApiCursor, ApiSubscription, ApiUseIndex, ApiWebhookDelivery
from gateway.webhook_targets import Resolver, WebhookTargetRefused, check_target, system_resolver

STATUS_EVENT_KINDS = ("license.status_changed",)
CURSOR = "webhooks"
STATUS_NAMES = CODE_LISTS["license_status"].codes
SIGNATURE_HEADER = "Tongban-Signature"


def _iso(dt: Any) -> str:
    return str(dt.isoformat(timespec="microseconds"))


def enqueue_status_changes(db: Database, *, limit: int = 500) -> int:
    """Queue deliveries for new status-change events; returns how many were queued."""
    queued = 0
    try:
        with db.session() as s:
            cur = s.get(ApiCursor, CURSOR)
            if cur is None:
                cur = ApiCursor(name=CURSOR, last_id=0)
                s.add(cur)
                s.flush()
            evs = events_after(s, cur.last_id, kinds=STATUS_EVENT_KINDS, limit=limit)
            now = _iso(utcnow())
            for ev in evs:
                data = ev.data
                license_id = str(data.get("license_id") or ev.aggregate_id)
                users = set(
                    s.scalars(
                        select(ApiUseIndex.client_id).where(ApiUseIndex.license_id == license_id).distinct()
                    )
                )
                if not users:
                    continue
                subs = s.scalars(
                    select(ApiSubscription).where(
                        ApiSubscription.client_id.in_(sorted(users)), ApiSubscription.active.is_(True)
                    )
                ).all()
                for sub in subs:
                    exists = s.scalars(
                        select(ApiWebhookDelivery.id).where(
                            ApiWebhookDelivery.subscription_id == sub.id,
                            ApiWebhookDelivery.event_id == ev.event_id,
                        )
                    ).first()
                    if exists is not None:
                        continue
                    status = data.get("status") or data.get("to_status")
                    body = {
                        "event_id": ev.event_id,
                        "kind": ev.kind,
                        "license_id": license_id,
                        "status": status,
                        "status_name": data.get("status_name") or STATUS_NAMES.get(str(status)),
                        "previous_status": data.get("previous_status") or data.get("from_status"),
                        "changed_at": data.get("changed_at") or ev.created_at,
                    }
                    s.add(
                        ApiWebhookDelivery(
                            subscription_id=sub.id,
                            event_id=ev.event_id,
                            license_id=license_id,
                            body=json.dumps(body, ensure_ascii=False, sort_keys=True),
                            state="pending",
                            attempts=0,
                            next_attempt_at=now,
                        )
                    )
                    queued += 1
            if evs:
                cur.last_id = evs[-1].id
    except IntegrityError:
        return 0  # another worker queued the same events first
    return queued


@dataclass
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def sign_delivery(signer: Signer, kid: str, body: bytes, delivery_id: int, event_id: str) -> str:
    claims = {
        "sha256": hashlib.sha256(body).hexdigest(),
        "delivery": delivery_id,
        "event_id": event_id,
        "iat": int(time.time()),
    }
    return sign_compact(signer, claims, kid=kid, typ="tongban-webhook+jws")


def deliver_due(
    db: Database,
    client: httpx.Client,
    signer_source: Callable[[], tuple[str, Signer]],
    *,
    max_attempts: int,
    backoff_s: float,
    limit: int = 100,
    allow: Iterable[str] = (),
    resolve: Resolver = system_resolver,
) -> DeliveryStats:
    """POST the due deliveries; a target that now resolves to an internal address (not in ``allow``)
    is not sent to: the attempt fails with the reason (:mod:`gateway.webhook_targets`)."""
    stats = DeliveryStats()
    now = utcnow()
    with db.session() as s:
        q = (
            select(ApiWebhookDelivery, ApiSubscription.url)
            .join(ApiSubscription, ApiSubscription.id == ApiWebhookDelivery.subscription_id)
            .where(ApiWebhookDelivery.state == "pending", ApiWebhookDelivery.next_attempt_at <= _iso(now))
            .order_by(ApiWebhookDelivery.id)
            .limit(limit)
        )
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=ApiWebhookDelivery)
        due = s.execute(q).all()
        for delivery, url in due:
            body = delivery.body.encode()
            body_doc = json.loads(delivery.body)
            body_doc["delivery_id"] = delivery.id
            payload = json.dumps(body_doc, ensure_ascii=False, sort_keys=True).encode()
            kid, signer = signer_source()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign_delivery(signer, kid, payload, delivery.id, delivery.event_id),
                "Tongban-Delivery": str(delivery.id),
            }
            delivery.attempts += 1
            try:
                check_target(url, allow, resolve=resolve)
                resp = client.post(url, content=payload, headers=headers)
                ok, err = 200 <= resp.status_code < 300, f"HTTP {resp.status_code}"
            except WebhookTargetRefused as exc:
                ok, err = False, f"refused: {exc.detail}"[:500]
            except httpx.HTTPError as exc:
                ok, err = False, f"{type(exc).__name__}: {exc}"[:500]
            del body
            if ok:
                delivery.state, delivery.delivered_at, delivery.last_error = "delivered", _iso(utcnow()), None
                stats.delivered += 1
            elif delivery.attempts >= max_attempts:
                delivery.state, delivery.last_error = "failed", err
                stats.failed += 1
            else:
                delay = backoff_s * (2 ** (delivery.attempts - 1))
                delivery.next_attempt_at = _iso(utcnow() + timedelta(seconds=delay))
                delivery.last_error = err
                stats.retried += 1
    return stats


class HasDatabase(Protocol):
    """What :func:`notify_status_changes` needs from its caller (a flow context is one)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...


def notify_status_changes(ctx: HasDatabase) -> dict[str, int]:
    """One pass of both steps — queue deliveries for new status changes, POST the due ones — with
    the settings' timeouts and retry policy and the key store's token key; for a DAG task."""
    from core.runtime import keystore

    api = ctx.settings.api
    queued = enqueue_status_changes(ctx.db)
    ks = keystore(ctx.settings)
    with httpx.Client(timeout=api.webhook_timeout_s, follow_redirects=False) as client:
        stats = deliver_due(
            ctx.db,
            client,
            ks.token_signer,
            max_attempts=api.webhook_max_attempts,
            backoff_s=api.webhook_backoff_s,
            allow=api.webhook_allow,
        )
    return {"queued": queued, "delivered": stats.delivered, "retried": stats.retried, "failed": stats.failed}
