"""Talking to other systems: SOAP (zeep) and REST (httpx) clients, the exchange-table (前置库)
writer, Airflow hooks, the peer registry and field mappings, the delivery outbox and the message log.

The names in ``__all__`` are the stable surface (pinned by ``tests/connectors/test_public_api.py``):
the error tree is imported here; every other name loads its module on first use, so
``import connectors`` pulls in neither airflow nor zeep, requests, httpx or SQLAlchemy. Public API::

    connectors.errors     ConnectorError tree (RetryableError / PermanentError …), translate(exc, ...)
    connectors.outbox     enqueue_rows(session, peer, rows) -> int
                          enqueue_events(db, peer, kinds=None) -> int
                          claim(db, peer, cfg) -> Batch | None; deliver_batch(db, batch, deliverer, cfg)
                          deliver(db, peer, deliverer, cfg, max_seconds=600) -> DeliveryReport
                          reconcile(db, peer, deliverer, repair=True) -> ReconcileReport
                          list_rows / summary / replay(db, id) / release(db, id, reason)
                          OutboxConfig.from_settings(settings.peers)
    connectors.feeds      FeedClient(base_url, peer=, auth=Auth("bearer"|"hmac", ...)).page(path, cursor, n)
                          pull_county(db, peer, client, mapping, path=, page_size=) -> PullReport
                          inbound_after(db, peer, after_id) ; read_cursor(session, peer)
    connectors.soap       ProvinceSoapClient(endpoint, username=, password=, timing=, recorder=)
                          .submit_rows / .submit_events / .query_counts / .lookup
    connectors.exchange   ExchangeTableWriter(url, peer=, timing=) (a Deliverer)
    connectors.delivery   SoapDeliverer(client) (a Deliverer)
    connectors.peer_registry  load_registry(path) / registry_for(settings) -> PeerRegistry;
                          map_row(row, mapping) ; endpoint_from_env(conn_id) -> Endpoint
    connectors.hooks      get_connection(conn_id) -> Endpoint; ConnectorHook(peer).get_conn()
    connectors.messagelog MessageLogWriter(db, body_cap=) (a recorder for clients); recent(db, peer)
    connectors.resilience Timing.from_settings(settings.peers); CircuitBreaker; call_with_retry
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.errors import (
    AuthError,
    CircuitOpen,
    ClientFault,
    ConfigurationError,
    ConnectorError,
    FencedOff,
    MalformedResponse,
    NetworkError,
    PermanentError,
    RefusedReply,
    ResponseTooLarge,
    RetryableError,
    ServerError,
    SoapFault,
    Timeout,
    TransportError,
    XmlAttack,
    translate,
)
from contracts.lazy import lazy_getattr

if TYPE_CHECKING:
    from connectors.delivery import SoapDeliverer
    from connectors.exchange import ExchangeTableWriter
    from connectors.feeds import Auth, FeedClient, pull_county
    from connectors.hooks import Endpoint, PeerHook, get_connection
    from connectors.messagelog import MessageLogWriter
    from connectors.outbox import Deliverer, OutboxConfig
    from connectors.peer_registry import PeerRegistry, load_registry, map_row, registry_for
    from connectors.resilience import CircuitBreaker, Timing, call_with_retry
    from connectors.soap import ProvinceSoapClient

# name -> the module that defines it (PEP 562: loaded on first use)
_LAZY = {
    "SoapDeliverer": "connectors.delivery",
    "ExchangeTableWriter": "connectors.exchange",
    **dict.fromkeys(("Auth", "FeedClient", "pull_county"), "connectors.feeds"),
    **dict.fromkeys(("Endpoint", "PeerHook", "get_connection"), "connectors.hooks"),
    "MessageLogWriter": "connectors.messagelog",
    **dict.fromkeys(("Deliverer", "OutboxConfig"), "connectors.outbox"),
    **dict.fromkeys(("PeerRegistry", "load_registry", "map_row", "registry_for"), "connectors.peer_registry"),
    **dict.fromkeys(("CircuitBreaker", "Timing", "call_with_retry"), "connectors.resilience"),
    "ProvinceSoapClient": "connectors.soap",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "Auth",
    "AuthError",
    "CircuitBreaker",
    "CircuitOpen",
    "ClientFault",
    "ConfigurationError",
    "ConnectorError",
    "Deliverer",
    "Endpoint",
    "ExchangeTableWriter",
    "FeedClient",
    "FencedOff",
    "MalformedResponse",
    "MessageLogWriter",
    "NetworkError",
    "OutboxConfig",
    "PeerHook",
    "PeerRegistry",
    "PermanentError",
    "ProvinceSoapClient",
    "RefusedReply",
    "ResponseTooLarge",
    "RetryableError",
    "ServerError",
    "SoapDeliverer",
    "SoapFault",
    "Timeout",
    "Timing",
    "TransportError",
    "XmlAttack",
    "call_with_retry",
    "get_connection",
    "load_registry",
    "map_row",
    "pull_county",
    "registry_for",
    "translate",
]
