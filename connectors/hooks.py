"""Airflow hooks: the one place that reads Connections, and the clients built from them.

Every client of another system comes from here (:class:`PeerHook`), built from the Connection its
peer-registry entry names. Inside Airflow a Connection comes from ``airflow.sdk.BaseHook`` (env
``AIRFLOW_CONN_*``, a secrets backend or the metadata DB); outside Airflow (CLI, tests,
benchmarks) :func:`get_connection` reads ``AIRFLOW_CONN_<ID>`` itself, in JSON or URI form.
Airflow is imported lazily, inside the functions, never at import of this module; its UI learns
the connection type from :mod:`connectors.provider` and :mod:`connectors.airflow_hook`.

Connection fields (type ``tongban``; ``http`` works too): ``host``/``port``/``schema`` (URL)
or ``extra.endpoint`` (a full URL); ``login``/``password`` (WS-Security UsernameToken for SOAP;
for REST the bearer token in ``password`` or ``extra.token``, or the HMAC key id and secret with
``extra.auth = "hmac"``); ``extra.url`` (SQLAlchemy URL of an exchange database, 前置库);
``extra.protocol`` (``rest`` | ``soap`` | ``exchange_table``; the registry entry's when absent).

Public API::

    CONN_TYPE = "tongban"
    Endpoint(url, login, password, extra)     # repr never shows a secret
    get_connection(conn_id) -> Endpoint
    endpoint_from_parts(conn_type, host, port, schema, login, password, extra) -> Endpoint
    endpoint_from_env(conn_id, environ=os.environ) -> Endpoint
    rest_auth(endpoint) -> Auth
    client_for(peer_id, protocol, endpoint, *, timing, recorder, pool) -> Client  # REST, SOAP or 前置库
    PeerHook(peer: PeerEntry, timing=None, recorder=None, pool=4).get_conn() ; .test_connection()
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from connectors.errors import ConfigurationError
from connectors.exchange import ExchangeTableWriter
from connectors.feeds import Auth, FeedClient
from connectors.peer_registry import PeerEntry
from connectors.resilience import Timing
from connectors.soap import ProvinceSoapClient, Recorder

CONN_TYPE = "tongban"
PROTOCOLS = ("rest", "soap", "exchange_table")
Client = FeedClient | ProvinceSoapClient | ExchangeTableWriter


@dataclass(frozen=True)
class Endpoint:
    """Where a peer answers and how we authenticate (from an Airflow Connection)."""

    url: str
    login: str | None = None
    password: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def token(self) -> str | None:
        """Bearer token for REST peers: ``extra.token``, else the password."""
        tok = self.extra.get("token")
        return str(tok) if tok else self.password

    def __repr__(self) -> str:  # never print secrets
        return f"Endpoint(url={self.url!r}, login={self.login!r})"


def endpoint_from_parts(
    conn_type: str | None,
    host: str | None,
    port: int | None,
    schema: str | None = None,
    login: str | None = None,
    password: str | None = None,
    extra: Mapping[str, Any] | str | None = None,
) -> Endpoint:
    """An endpoint from a Connection's fields (Airflow ``Connection`` or its env form)."""
    extras: dict[str, Any] = json.loads(extra) if isinstance(extra, str) and extra else dict(extra or {})
    if extras.get("endpoint"):  # a full URL, when host/port/schema cannot say it
        return Endpoint(str(extras["endpoint"]).rstrip("/"), login or None, password or None, extras)
    if not host:
        raise ConfigurationError("connection has no host")
    if "://" in host:
        url = host.rstrip("/")
    else:
        scheme = "https" if (conn_type or "").lower() == "https" else "http"
        url = f"{scheme}://{host}" + (f":{port}" if port else "")
        if schema:
            url += "/" + schema.strip("/")
    return Endpoint(url, login or None, password or None, extras)


def endpoint_from_env(conn_id: str, environ: Mapping[str, str] | None = None) -> Endpoint:
    """Read ``AIRFLOW_CONN_<CONN_ID>`` (URI or JSON) without importing Airflow."""
    env = os.environ if environ is None else environ
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = env.get(name)
    if not raw:
        raise ConfigurationError(
            f"no connection {conn_id!r}: set {name} (or add the Connection in Airflow)", peer=conn_id
        )
    if raw.lstrip().startswith("{"):
        doc = json.loads(raw)
        return endpoint_from_parts(
            doc.get("conn_type"),
            doc.get("host"),
            doc.get("port"),
            doc.get("schema"),
            doc.get("login"),
            doc.get("password"),
            doc.get("extra"),
        )
    parts = urlsplit(raw)
    return endpoint_from_parts(
        parts.scheme,
        parts.hostname,
        parts.port,
        parts.path.lstrip("/") or None,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        None,
    )


def _from_airflow(conn_id: str) -> Endpoint | None:
    """Airflow's lookup: inside a task the Task SDK's (execution API: env, secrets backends, the
    metadata DB); outside a task on an Airflow host (CLI, a script) Airflow core's, which reads the
    same secrets backends and the metadata DB directly."""
    if not (os.environ.get("AIRFLOW_HOME") or os.environ.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL")):
        return None
    c: Any = None
    try:
        from airflow.sdk import BaseHook

        c = BaseHook.get_connection(conn_id)
    except Exception:  # not found by the SDK (no task context), or no Airflow
        try:
            from airflow.models.connection import Connection

            c = Connection.get_connection_from_secrets(conn_id)
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
            f"or add it: airflow connections add {conn_id} --conn-type {CONN_TYPE} --conn-host … "
            "(or in the UI: Admin → Connections)",
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


def client_for(
    peer_id: str,
    protocol: str,
    endpoint: Endpoint,
    *,
    timing: Timing | None = None,
    recorder: Recorder | None = None,
    pool: int = 4,
) -> Client:
    """The client of one peer: SOAP (the province), an exchange database, or a REST feed."""
    protocol = str(endpoint.extra.get("protocol") or protocol)
    if protocol == "soap":
        return ProvinceSoapClient(
            endpoint.url,
            peer=peer_id,
            username=endpoint.login,
            password=endpoint.password,
            timing=timing,
            recorder=recorder,
            pool=pool,
        )
    if protocol == "exchange_table":
        url = endpoint.extra.get("url")
        if not url:
            raise ConfigurationError(
                f"peer {peer_id}: its Connection needs extra.url (the exchange database URL)", peer=peer_id
            )
        return ExchangeTableWriter(str(url), peer=peer_id, timing=timing, recorder=recorder)
    if protocol != "rest":
        raise ConfigurationError(f"peer {peer_id}: unknown protocol {protocol!r} ({', '.join(PROTOCOLS)})")
    return FeedClient(endpoint.url, peer=peer_id, auth=rest_auth(endpoint), timing=timing, recorder=recorder)


class PeerHook:
    """Builds the client a registry peer needs, from its Connection (the Airflow hook pattern:
    the Connection is looked up when :meth:`get_conn` is called, not at construction)."""

    conn_name_attr = "conn_id"

    def __init__(
        self,
        peer: PeerEntry,
        *,
        timing: Timing | None = None,
        recorder: Recorder | None = None,
        pool: int = 4,
    ) -> None:
        self.peer = peer
        self.conn_id = peer.conn_id
        self.timing = timing or Timing()
        self.recorder = recorder
        self.pool = pool

    def endpoint(self) -> Endpoint:
        return get_connection(self.conn_id)

    def get_conn(self) -> Any:
        """A new client (the caller closes it)."""
        return client_for(
            self.peer.id,
            self.peer.protocol,
            self.endpoint(),
            timing=self.timing,
            recorder=self.recorder,
            pool=self.pool,
        )

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()
        except Exception as exc:
            return False, str(exc)
        client.close()
        return True, f"{self.peer.protocol} client for {self.peer.id} built"
