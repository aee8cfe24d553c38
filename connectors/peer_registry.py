"""The peer registry: which counties, departments and provincial platforms the gateway talks to.

A JSON file (``settings.peers.registry_file``; default: the demo registry shipped in
``connectors/registry_data/peers.json``) lists each peer with its kind (``county``, ``department``,
``province``), region, protocol, the **Airflow Connection id** that holds its endpoint and
secrets, and the name of a field mapping when its vendor's layout differs from the contract.
Adding a county = one registry entry + one Connection (+ a mapping if its vendor differs).
Airflow's Task SDK cannot list Connections, so this registry is what DAGs fan out over.

Mappings are declarative and checked at load: ``table_key`` (the vendor's record-type field),
``tables`` (vendor record type → contract table) and ``fields`` (vendor field → contract column);
every target must be a column of the contract's field table. :func:`map_row` applies one.

The registry names Connections; it never reads them: :mod:`connectors.hooks` is the one reader
(inside Airflow through ``BaseHook.get_connection``, elsewhere ``AIRFLOW_CONN_<ID>``).

Public API::

    PeerEntry, FieldMapping, PeerRegistry ; Endpoint(url, login, password, extra)
    load_registry(path=None) -> PeerRegistry      # validated; RegistryError (ConfigurationError) if not
    registry_for(settings) -> PeerRegistry
    PeerRegistry.peers(kind=None) ; .get(peer_id) ; .mapping_for(peer_id) -> FieldMapping | None
    map_row(row, mapping) -> tuple[str | None, dict]   # (contract table, contract-layout row)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.errors import ConfigurationError
from contracts.fields import CASE_TABLES, TABLES
from core.settings import Settings

DEFAULT_REGISTRY = Path(__file__).resolve().parent / "registry_data" / "peers.json"
PeerKind = Literal["county", "department", "province"]


class FieldMapping(BaseModel):
    """A vendor layout → the contract (declarative; see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    table_key: str = "table"
    tables: Mapping[str, str] = Field(default_factory=dict)
    fields: Mapping[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _targets(self) -> FieldMapping:
        bad_tables = sorted(t for t in self.tables.values() if t not in CASE_TABLES)
        if bad_tables:
            raise ValueError(f"mapping names unknown tables {bad_tables}")
        columns = {c for t in CASE_TABLES for c in TABLES[t].columns}
        bad = sorted(c for c in self.fields.values() if c not in columns)
        if bad:
            raise ValueError(f"mapping targets {bad} are not contract columns")
        if len(set(self.fields.values())) != len(self.fields):
            raise ValueError("two vendor fields map to the same contract column")
        return self


class PeerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9_]+$")
    kind: PeerKind
    name: str = ""
    region_code: str = Field(min_length=6, max_length=6)
    conn_id: str = Field(min_length=1, max_length=250)
    protocol: Literal["rest", "soap", "exchange_table"]
    mapping: str | None = None
    enabled: bool = True


class _RegistryDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = 1
    description: str = ""
    peers: list[PeerEntry]
    mappings: dict[str, FieldMapping] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _refs(self) -> _RegistryDoc:
        ids = [p.id for p in self.peers]
        if len(set(ids)) != len(ids):
            raise ValueError("peer ids repeat")
        for p in self.peers:
            if p.mapping is not None and p.mapping not in self.mappings:
                raise ValueError(f"peer {p.id}: unknown mapping {p.mapping!r}")
        return self


@dataclass(frozen=True)
class PeerRegistry:
    entries: tuple[PeerEntry, ...]
    mappings: Mapping[str, FieldMapping] = field(default_factory=dict)
    source: str = ""

    def peers(self, kind: PeerKind | None = None) -> list[PeerEntry]:
        """Enabled peers (of one kind), in registry order."""
        return [p for p in self.entries if p.enabled and (kind is None or p.kind == kind)]

    def get(self, peer_id: str) -> PeerEntry:
        for p in self.entries:
            if p.id == peer_id:
                return p
        raise ConfigurationError(f"peer {peer_id!r} is not in the peer registry {self.source}", peer=peer_id)

    def mapping_for(self, peer_id: str) -> FieldMapping | None:
        p = self.get(peer_id)
        return self.mappings[p.mapping] if p.mapping else None


def load_registry(path: str | Path | None = None) -> PeerRegistry:
    p = Path(path) if path is not None else DEFAULT_REGISTRY
    try:
        doc = _RegistryDoc.model_validate(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigurationError(f"peer registry {p} is invalid: {exc}") from exc
    return PeerRegistry(tuple(doc.peers), dict(doc.mappings), str(p))


def registry_for(settings: Settings) -> PeerRegistry:
    return load_registry(settings.peers.registry_file)


def map_row(row: Mapping[str, Any], mapping: FieldMapping | None) -> tuple[str | None, dict[str, Any]]:
    """The contract table and contract-layout row of a vendor row (values untouched: whatever is
    wrong in them stays for the quality gate). Unknown vendor fields pass through by name."""
    if mapping is None:
        tagged = row.get("table")
        return (tagged if isinstance(tagged, str) else None), dict(row)
    out: dict[str, Any] = {}
    table: str | None = None
    for key, value in row.items():
        if key == mapping.table_key:
            table = mapping.tables.get(str(value), str(value))
            out["table"] = table
        else:
            out[mapping.fields.get(key, key)] = value
    return table, out
