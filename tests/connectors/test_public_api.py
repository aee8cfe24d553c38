"""The public surface of ``connectors`` is pinned; ``import connectors`` loads neither airflow nor
zeep, requests, httpx or SQLAlchemy (the clients load on first use)."""

from __future__ import annotations

import connectors
from tests.exports import check_surface, heavy_imports

ERRORS = (
    "AuthError CircuitOpen ClientFault ConfigurationError ConnectorError FencedOff MalformedResponse "
    "NetworkError PermanentError ResponseTooLarge RetryableError ServerError SoapFault Timeout "
    "TransportError XmlAttack"
)
CLIENTS = (
    "RefusedReply translate Auth CircuitBreaker Deliverer Endpoint ExchangeTableWriter FeedClient "
    "MessageLogWriter OutboxConfig PeerHook PeerRegistry ProvinceSoapClient SoapDeliverer Timing "
    "call_with_retry get_connection load_registry map_row pull_county registry_for"
)


def test_exported_names() -> None:
    check_surface("connectors", f"{ERRORS} {CLIENTS}")
    assert all(issubclass(getattr(connectors, name), connectors.ConnectorError) for name in ERRORS.split())


def test_importing_connectors_is_light() -> None:
    banned = ("airflow", "zeep", "requests", "httpx", "sqlalchemy", "lxml", "pydantic")
    assert heavy_imports("connectors", banned) == []
