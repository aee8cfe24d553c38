"""Background work of an API process: webhook dispatch and delivery, ledger-head anchoring.

Each loop runs the blocking step in a thread at its interval and logs (never raises) failures, so
a slow TSA or a dead webhook receiver never affects request handling. Both steps are idempotent
and safe with several workers (see :mod:`gateway.webhooks`, :mod:`gateway.anchors`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx

from core.keys.base import Signer
from core.settings import Settings
from core.timestamp import TimestampToken
from gateway import anchors, webhooks
from gateway.services import Services

log = logging.getLogger(__name__)


def timestamper(settings: Settings) -> tuple[Callable[[bytes], TimestampToken], str]:
    """``(stamp_digest, label)`` for the configured TSA: a URL, else the in-process one (said so)."""
    from licenses.pki import timestamp_client

    client = timestamp_client(settings)
    if settings.pki.tsa_url:
        return client.stamp_digest, settings.pki.tsa_url
    return client.stamp_digest, "in-process TSA (embedded default; set TONGBAN_PKI__TSA_URL in production)"


def run_webhooks_once(svc: Services, client: httpx.Client) -> webhooks.DeliveryStats:
    webhooks.enqueue_status_changes(svc.db)
    stats = webhooks.deliver_due(
        svc.db,
        client,
        svc.extra.get("webhook_signer") or _token_signer(svc),
        max_attempts=svc.settings.api.webhook_max_attempts,
        backoff_s=svc.settings.api.webhook_backoff_s,
        allow=svc.settings.api.webhook_allow,
    )
    for name in ("delivered", "retried", "failed"):
        n = getattr(stats, name)
        if n:
            svc.metrics.webhooks.labels(name).inc(n)
    return stats


def _token_signer(svc: Services) -> Callable[[], tuple[str, Signer]]:
    from core.runtime import keystore

    ks = keystore(svc.settings)
    source: Callable[[], tuple[str, Signer]] = ks.token_signer
    return source


async def _webhook_loop(svc: Services) -> None:
    interval = svc.settings.api.webhook_interval_s
    with httpx.Client(timeout=svc.settings.api.webhook_timeout_s, follow_redirects=False) as client:
        while True:
            try:
                await asyncio.to_thread(run_webhooks_once, svc, client)
            except Exception as exc:
                log.warning("webhook worker: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(interval)


async def _anchor_loop(svc: Services) -> None:
    interval = svc.settings.api.anchor_interval_s
    try:
        stamp, label = timestamper(svc.settings)
    except Exception as exc:
        log.warning("ledger anchoring disabled: no timestamp authority (%s: %s)", type(exc).__name__, exc)
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(anchors.anchor_heads, svc.db, stamp, tsa_label=label)
        except Exception as exc:
            log.warning("ledger anchoring failed: %s: %s", type(exc).__name__, exc)


def start_background(svc: Services) -> list[asyncio.Task[None]]:
    tasks = []
    if svc.settings.api.webhook_interval_s > 0:
        tasks.append(asyncio.create_task(_webhook_loop(svc), name="webhooks"))
    if svc.settings.api.anchor_interval_s > 0:
        tasks.append(asyncio.create_task(_anchor_loop(svc), name="anchors"))
    return tasks
