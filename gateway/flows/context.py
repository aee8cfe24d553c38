"""What every flow step needs, built lazily from the settings: database, object store, peer
registry and endpoints, the quality gate, the license registry and its trust anchors.

Endpoints are resolved through a callable (``conn_id -> Endpoint``): DAG tasks pass one backed by
Airflow Connections, everything else reads ``AIRFLOW_CONN_<ID>`` from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from connectors.peer_registry import Endpoint, PeerRegistry, endpoint_from_env, registry_for
from connectors.resilience import Timing
from core.db import Database
from core.settings import Settings

if TYPE_CHECKING:
    from core.store import ObjectStore
    from licenses import LicenseRegistry, Trust
    from quality.gate import QualityGate

FLOW_STREAM = "pipeline.flows"  # ledger stream of the flows' own decisions (flags, failures)


@dataclass
class FlowContext:
    settings: Settings
    endpoints: Callable[[str], Endpoint] = field(default=endpoint_from_env)
    database: Database | None = None

    @classmethod
    def from_env(cls, **kw: Any) -> FlowContext:
        from core.runtime import current_settings

        return cls(current_settings(), **kw)

    @cached_property
    def db(self) -> Database:
        from core.runtime import shared_database

        return self.database or shared_database(self.settings)

    @cached_property
    def store(self) -> ObjectStore:
        from core.store import open_store

        return open_store(self.settings)

    @cached_property
    def peers(self) -> PeerRegistry:
        return registry_for(self.settings)

    def endpoint(self, peer_id: str) -> Endpoint:
        return self.endpoints(self.peers.get(peer_id).conn_id)

    @cached_property
    def timing(self) -> Timing:
        return Timing.from_settings(self.settings.peers)

    @cached_property
    def gate(self) -> QualityGate:
        from quality.gate import QualityGate

        return QualityGate(self.settings, database=self.db, store=self.store)

    @cached_property
    def licenses(self) -> LicenseRegistry:
        from licenses import open_registry

        return open_registry(self.settings, db=self.db, store=self.store)

    @cached_property
    def trust(self) -> Trust:
        from licenses import trust

        return trust(self.settings, db=self.db)

    def close(self) -> None:
        """Stop what the parts started (the license registry's signing workers and store threads)."""
        registry = self.__dict__.get("licenses")
        if registry is not None:
            registry.close()

    def __enter__(self) -> FlowContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recorder(self) -> Any:
        from connectors.messagelog import MessageLogWriter

        return MessageLogWriter(self.db, body_cap=self.settings.peers.message_body_cap_bytes)
