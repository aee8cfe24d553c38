"""Provider information for Airflow (the ``apache_airflow_provider`` entry point of the
``tongban`` distribution): the ``tongban`` connection type, its hook, and its form fields
declared as data (``conn-fields`` / ``ui-field-behaviour``, the Airflow 3.2+ way), so the UI
offers the type without importing the hook. No Airflow import here."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from connectors.hooks import CONN_TYPE, PROTOCOLS


def _version() -> str:
    try:
        return metadata.version("tongban")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "0.0.0"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "tongban",
        "name": "tongban (通办)",
        "description": "County e-government data integration and e-license exchange: peers of the gateway.",
        "versions": [_version()],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "connectors.airflow_hook.TongbanPeerHook",
                "hook-name": "tongban peer (county / department / province)",
                "conn-fields": {
                    "protocol": {
                        "label": "Protocol",
                        "description": "rest (county or department feed), soap (provincial platform) "
                        "or exchange_table (前置库); the peer registry's when empty",
                        "schema": {"type": ["string", "null"], "enum": [*PROTOCOLS, None]},
                    },
                    "auth": {
                        "label": "REST authentication",
                        "description": "bearer (token in Password or Token) or hmac (key id in Login, "
                        "secret in Password)",
                        "schema": {"type": ["string", "null"], "enum": ["none", "bearer", "hmac", None]},
                    },
                    "token": {
                        "label": "Bearer token",
                        "description": "REST bearer token (else the Password is used)",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "endpoint": {
                        "label": "Endpoint URL",
                        "description": "a full URL, when host / port / schema cannot say it",
                        "schema": {"type": ["string", "null"]},
                    },
                    "url": {
                        "label": "Exchange database URL",
                        "description": "SQLAlchemy URL of the province's exchange tables (前置库)",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {
                        "login": "Login (WS-Security user, or HMAC key id)",
                        "password": "Password (WS-Security, bearer token or HMAC secret)",
                        "schema": "Path",
                    },
                    "placeholders": {
                        "host": "county-window.example.gov.cn",
                        "port": "443",
                        "protocol": "rest",
                    },
                },
            }
        ],
    }
