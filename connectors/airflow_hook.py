"""The Airflow face of :mod:`connectors.hooks`: ``TongbanPeerHook``, a ``BaseHook`` for the
connection type ``tongban``, registered through the ``apache_airflow_provider`` entry point
(:mod:`connectors.provider`) so the Airflow UI and ``airflow connections add --conn-type
tongban`` know it.

This module imports Airflow at import time (a ``BaseHook`` subclass must); nothing else in
``connectors`` does. The flows build their clients with :class:`connectors.hooks.PeerHook`, which
reads the same Connections; this hook is what Airflow's provider machinery loads, and what a DAG
author may use directly (``TongbanPeerHook("tongban_county_510129").get_conn()``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from connectors.hooks import CONN_TYPE, Client, client_for, get_connection
from connectors.resilience import Timing


class TongbanPeerHook(BaseHook):  # type: ignore[misc]
    """A peer of the gateway (county window feed, department system, provincial platform)."""

    conn_name_attr = "tongban_conn_id"
    default_conn_name = "tongban_default"
    conn_type = CONN_TYPE
    hook_name = "tongban peer (county / department / province)"

    def __init__(
        self,
        tongban_conn_id: str = default_conn_name,
        *,
        protocol: str = "rest",
        timing: Timing | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tongban_conn_id = tongban_conn_id
        self.protocol = protocol
        self.timing = timing

    def get_conn(self) -> Client:
        """A new client, from the Connection as :func:`connectors.hooks.get_connection` reads it
        (the one reader: in a task through the Task SDK, elsewhere Airflow core or the env)."""
        endpoint = get_connection(self.tongban_conn_id)
        return client_for(self.tongban_conn_id, self.protocol, endpoint, timing=self.timing)

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()
        except Exception as exc:
            return False, str(exc)
        client.close()
        return True, f"tongban peer {self.tongban_conn_id}: {type(client).__name__} built"
