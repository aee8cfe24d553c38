"""Airflow hooks: build connector clients from Airflow Connections.

Inside Airflow, a Connection comes from ``airflow.sdk.BaseHook.get_connection`` (env
``AIRFLOW_CONN_*``, secrets backends or the metadata DB). Outside Airflow (CLI, tests, benchmarks)
:func:`get_connection` reads ``AIRFLOW_CONN_<ID>`` itself, in JSON or URI form
(:func:`connectors.peer_registry.endpoint_from_env`). Airflow is imported lazily, inside the
functions, never at import of this module.

Connection fields used: ``host``/``port``/``schema`` (URL), ``login``/``password`` (WS-Security
UsernameToken for SOAP; for REST the bearer token in ``password`` or ``extra.token``, or the HMAC
key id and secret in ``login``/``password`` with ``extra.auth = "hmac"``), ``extra.url``
(SQLAlchemy URL of an exchange database).

Public API::

    get_connection(conn_id) -> Endpoint
    rest_auth(endpoint) -> Auth
    ConnectorHook(peer: PeerEntry, timing=None, recorder=None).get_conn() -> client ; .test_connection()
"""

from __future__ import annotations

import os
from typing import Any

from connectors.errors import ConfigurationError
from connectors.exchange import ExchangeTableWriter
from connectors.feeds import Auth, FeedClient
from connectors.peer_registry import Endpoint, PeerEntry, endpoint_from_env, endpoint_from_parts
from connectors.resilience import Timing
from connectors.soap import ProvinceSoapClient, Recorder


def _from_airflow(conn_id: str) -> Endpoint | None:
    if not (os.environ.get("AIRFLOW_HOME") or os.environ.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL")):
        return None
    try:
        from airflow.sdk import BaseHook
    except ImportError:
        return None
    try:
        c = BaseHook.get_connection(conn_id)
    except Exception:
        return None
    return endpoint_from_parts(
        c.conn_type, c.host, c.port, c.schema, c.login, c.password, dict(c.extra_dejson or {})
    )


def get_connection(conn_id: str) -> Endpoint:
    """The Connection ``conn_id``: the env var first (works everywhere), then Airflow's lookup."""
    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return endpoint_from_env(conn_id)
    found = _from_airflow(conn_id)
    if found is None:
        raise ConfigurationError(
            f"no Airflow Connection {conn_id!r}: set AIRFLOW_CONN_{conn_id.upper()} (JSON or URI) "
            "or add it in Airflow (Admin → Connections)",
            peer=conn_id,
        )
    return found


def rest_auth(endpoint: Endpoint) -> Auth:
    """How to authenticate to a REST peer, from its Connection (see the module docstring)."""
    kind = str(endpoint.extra.get("auth") or ("bearer" if endpoint.token else "none"))
    if kind == "hmac":
        return Auth("hmac", key_id=endpoint.login, secret=endpoint.password)
    if kind == "bearer":
        return Auth("bearer", token=endpoint.token)
    return Auth(kind)


class ConnectorHook:
    """Builds the client a registry peer needs, from its Connection (the Airflow hook pattern)."""

    conn_name_attr = "conn_id"

    def __init__(
        self, peer: PeerEntry, *, timing: Timing | None = None, recorder: Recorder | None = None
    ) -> None:
        self.peer = peer
        self.conn_id = peer.conn_id
        self.timing = timing or Timing()
        self.recorder = recorder

    def get_conn(self) -> Any:
        endpoint = get_connection(self.conn_id)
        if self.peer.protocol == "soap":
            return ProvinceSoapClient(
                endpoint.url,
                peer=self.peer.id,
                username=endpoint.login,
                password=endpoint.password,
                timing=self.timing,
                recorder=self.recorder,
            )
        if self.peer.protocol == "exchange_table":
            url = endpoint.extra.get("url")
            if not url:
                raise ConfigurationError(
                    f"connection {self.conn_id}: extra.url (exchange database URL) is required",
                    peer=self.peer.id,
                )
            return ExchangeTableWriter(
                str(url), peer=self.peer.id, timing=self.timing, recorder=self.recorder
            )
        return FeedClient(
            endpoint.url,
            peer=self.peer.id,
            auth=rest_auth(endpoint),
            timing=self.timing,
            recorder=self.recorder,
        )

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()
        except Exception as exc:
            return False, str(exc)
        close = getattr(client, "close", None)
        if close:
            close()
        return True, f"{self.peer.protocol} client for {self.peer.id} built"
