"""Airflow hooks: build connector clients from Airflow Connections.

Inside Airflow, a Connection comes from ``airflow.sdk.BaseHook.get_connection`` (env
``AIRFLOW_CONN_*``, secrets backends or the metadata DB). Outside Airflow (CLI, tests, benchmarks)
:func:`get_connection` reads ``AIRFLOW_CONN_<ID>`` itself, in JSON or URI form. Airflow is imported
lazily, inside the functions, never at import of this module.

Connection fields used: ``host``/``port``/``schema`` (URL), ``login``/``password`` (WS-Security
UsernameToken for SOAP; bearer token in ``password`` for REST with ``extra.auth = "bearer"``; HMAC
key id/secret with ``extra.auth = "hmac"``), ``extra.path``/``extra.endpoint`` (full URL override),
``extra.url`` (SQLAlchemy URL of an exchange database).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from connectors.errors import ConfigurationError
from connectors.exchange import ExchangeTableWriter
from connectors.registry import PeerConfig
from connectors.resilience import Timing
from connectors.rest import Auth, RestClient
from connectors.soap import ProvinceSoapClient, Recorder


@dataclass(frozen=True)
class ConnInfo:
    conn_id: str
    conn_type: str = ""
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def base_url(self, default_scheme: str = "http") -> str:
        if self.extra.get("endpoint"):
            return str(self.extra["endpoint"])
        scheme = self.conn_type if self.conn_type in ("http", "https") else default_scheme
        if not self.host:
            raise ConfigurationError(f"connection {self.conn_id} has no host")
        host = self.host if "://" not in self.host else self.host.split("://", 1)[1]
        port = f":{self.port}" if self.port else ""
        path = f"/{self.schema}" if self.schema else ""
        return f"{scheme}://{host}{port}{path}"


def _from_env(conn_id: str) -> ConnInfo | None:
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        return None
    raw = raw.strip()
    if raw.startswith("{"):
        d = json.loads(raw)
        extra = d.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra)
        return ConnInfo(
            conn_id,
            str(d.get("conn_type", "")),
            d.get("host"),
            int(d["port"]) if d.get("port") else None,
            d.get("schema"),
            d.get("login"),
            d.get("password"),
            dict(extra),
        )
    u = urlsplit(raw)
    extra = dict(parse_qsl(u.query))
    if "__extra__" in extra:
        extra = json.loads(extra["__extra__"])
    return ConnInfo(
        conn_id,
        u.scheme.replace("-", "_"),
        u.hostname,
        u.port,
        unquote(u.path.lstrip("/")) or None,
        unquote(u.username) if u.username else None,
        unquote(u.password) if u.password else None,
        extra,
    )


def _from_airflow(conn_id: str) -> ConnInfo | None:
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
    return ConnInfo(
        conn_id, c.conn_type or "", c.host, c.port, c.schema, c.login, c.password, dict(c.extra_dejson or {})
    )


def get_connection(conn_id: str) -> ConnInfo:
    """The Connection ``conn_id``: the env var first (works everywhere), then Airflow's lookup."""
    info = _from_env(conn_id) or _from_airflow(conn_id)
    if info is None:
        raise ConfigurationError(
            f"no Airflow Connection {conn_id!r}: set AIRFLOW_CONN_{conn_id.upper()} (JSON or URI) "
            "or add it in Airflow (Admin → Connections)"
        )
    return info


class ConnectorHook:
    """Builds the client a registry peer needs, from its Connection (the Airflow hook pattern)."""

    conn_name_attr = "conn_id"

    def __init__(
        self, peer: PeerConfig, *, timing: Timing | None = None, recorder: Recorder | None = None
    ) -> None:
        self.peer = peer
        self.conn_id = peer.conn_id
        self.timing = timing or Timing()
        self.recorder = recorder

    def get_conn(self) -> Any:
        info = get_connection(self.conn_id)
        if self.peer.protocol == "soap":
            return ProvinceSoapClient(
                info.base_url(),
                peer=self.peer.name,
                username=info.login,
                password=info.password,
                timing=self.timing,
                recorder=self.recorder,
            )
        if self.peer.protocol == "exchange":
            url = info.extra.get("url")
            if not url:
                raise ConfigurationError(
                    f"connection {self.conn_id}: extra.url (exchange database URL) is required"
                )
            return ExchangeTableWriter(
                str(url), peer=self.peer.name, timing=self.timing, recorder=self.recorder
            )
        kind = str(info.extra.get("auth", "bearer" if info.password and not info.login else "none"))
        if kind == "hmac":
            auth = Auth("hmac", key_id=info.login, secret=info.password)
        elif kind == "bearer":
            auth = Auth("bearer", token=info.password)
        else:
            auth = Auth()
        return RestClient(
            info.base_url(), peer=self.peer.name, auth=auth, timing=self.timing, recorder=self.recorder
        )

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()
        except Exception as exc:
            return False, str(exc)
        close = getattr(client, "close", None)
        if close:
            close()
        return True, f"{self.peer.protocol} client for {self.peer.name} built"
