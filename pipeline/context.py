"""What every flow step needs, built lazily from the settings: database, object store, peer
registry and the clients of its peers, the quality gate, the license registry and its trust anchors.

Clients come from the connector hooks (:class:`connectors.hooks.PeerHook`), which read the
Connection each registry entry names — inside Airflow through its Connection lookup, elsewhere
from ``AIRFLOW_CONN_<ID>``. No flow builds a client by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from connectors.hooks import PeerHook
from connectors.peer_registry import PeerRegistry, registry_for
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

    def hook(self, peer_id: str, *, pool: int = 4) -> PeerHook:
        """The hook of a registry peer (timing from the settings, exchanges to the message log)."""
        return PeerHook(self.peers.get(peer_id), timing=self.timing, recorder=self.recorder(), pool=pool)

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
