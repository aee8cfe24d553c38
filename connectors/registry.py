"""The peer registry: counties, departments and the province, with declarative field mappings.

A JSON file (``TONGBAN_PEERS__REGISTRY_FILE``)::

    {"peers": [
      {"name": "county-510129", "kind": "county", "conn_id": "county_510129", "protocol": "rest",
       "region_code": "510129", "path": "/v1/cases/changes"},
      {"name": "county-511825", "kind": "county", "conn_id": "county_511825", "protocol": "rest",
       "region_code": "511825", "mapping": "vendor_b"},
      {"name": "province", "kind": "province", "conn_id": "province_soap", "protocol": "soap"},
      {"name": "province-exchange", "kind": "province", "conn_id": "province_exchange",
       "protocol": "exchange"}
    ],
     "mappings": {"vendor_b": {
        "table": {"from": "BIAOMING", "codes": {"SL": "up_pro_accept", ...}},
        "columns": {"project_no": "BJBH", "row_guid": "WYBS", "cd_time": "TBSJ", ...},
        "default": "DATA.{NAME}",
        "date_format": "%Y%m%d", "timestamp_format": "%Y-%m-%d %H:%M:%S", "utc_offset": "+08:00"}}}

A mapping turns a vendor row into a contract row: the table from a code, each column from a
path (``A.B`` for nested objects; ``{name}``/``{NAME}`` in ``default`` for unlisted columns), values
converted by the column's type in the field table (dates and timestamps reformatted, integers
parsed). :func:`load_registry` validates everything at load — unknown tables, columns or kinds, a
required column without a source, bad formats — and raises
:class:`~connectors.errors.ConfigurationError` naming the peer and the problem. Adding a county =
a registry entry + an Airflow Connection (+ a mapping if its vendor differs).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.errors import ConfigurationError
from contracts.fields import CASE_TABLES, TABLES, FieldSpec

KINDS = ("county", "department", "province")
PROTOCOLS = ("rest", "soap", "exchange")


@dataclass(frozen=True)
class FieldMapping:
    name: str
    table_from: str
    table_codes: Mapping[str, str]
    columns: Mapping[str, str]
    default: str | None
    date_format: str
    timestamp_format: str
    utc_offset: str

    def _get(self, row: Mapping[str, Any], path: str) -> Any:
        cur: Any = row
        for part in path.split("."):
            if not isinstance(cur, Mapping):
                return None
            cur = cur.get(part)
        return cur

    def _source(self, f: FieldSpec) -> str | None:
        if f.name in self.columns:
            return self.columns[f.name]
        if self.default:
            return self.default.replace("{name}", f.name).replace("{NAME}", f.name.upper())
        return None

    def _convert(self, f: FieldSpec, v: Any) -> Any:
        if v is None or v == "":
            return None
        if f.type == "integer":
            return int(v)
        if f.type == "date":
            return dt.datetime.strptime(str(v), self.date_format).date().isoformat()
        if f.type == "timestamp":
            return dt.datetime.strptime(f"{v}{self.utc_offset}", self.timestamp_format + "%z").isoformat()
        return str(v)

    def apply(self, row: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(table, contract row) of a vendor row; raises ValueError with the column at fault."""
        code = self._get(row, self.table_from)
        table = self.table_codes.get(str(code))
        if table is None:
            raise ValueError(f"unknown table code {code!r} in {self.table_from}")
        out: dict[str, Any] = {}
        for f in TABLES[table].fields:
            path = self._source(f)
            raw = self._get(row, path) if path else None
            try:
                out[f.name] = self._convert(f, raw)
            except ValueError as exc:
                raise ValueError(f"{table}.{f.name} from {path}: {exc}") from exc
        return table, out


def standard_row(row: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The contract layout: ``{"table": ..., <columns>}``."""
    table = str(row.get("table", ""))
    if table not in CASE_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return table, {k: v for k, v in row.items() if k != "table"}


@dataclass(frozen=True)
class PeerConfig:
    name: str
    kind: str
    conn_id: str
    protocol: str
    region_code: str | None = None
    path: str = "/v1/cases/changes"
    mapping: FieldMapping | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def map_row(self, row: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        return self.mapping.apply(row) if self.mapping else standard_row(row)


@dataclass(frozen=True)
class Registry:
    peers: Mapping[str, PeerConfig]

    def get(self, name: str) -> PeerConfig:
        try:
            return self.peers[name]
        except KeyError:
            raise ConfigurationError(
                f"no peer {name!r} in the registry; known: {', '.join(self.peers) or 'none'}"
            ) from None

    def of_kind(self, kind: str) -> list[PeerConfig]:
        return [p for p in self.peers.values() if p.kind == kind]


def _mapping(name: str, doc: Mapping[str, Any]) -> FieldMapping:
    def bad(msg: str) -> ConfigurationError:
        return ConfigurationError(f"mapping {name!r}: {msg}")

    t = doc.get("table") or {}
    codes = dict(t.get("codes") or {})
    if not t.get("from") or not codes:
        raise bad('needs "table": {"from": PATH, "codes": {CODE: TABLE}}')
    unknown = sorted(set(codes.values()) - set(CASE_TABLES))
    if unknown:
        raise bad(f"unknown tables {unknown}")
    columns = {str(k): str(v) for k, v in (doc.get("columns") or {}).items()}
    known_cols = {f.name for t_ in CASE_TABLES for f in TABLES[t_].fields}
    extra = sorted(set(columns) - known_cols)
    if extra:
        raise bad(f"unknown contract columns {extra}")
    default = doc.get("default")
    if default is not None and "{" in default and not ("{name}" in default or "{NAME}" in default):
        raise bad("default must use {name} or {NAME}")
    m = FieldMapping(
        name,
        str(t["from"]),
        codes,
        columns,
        default,
        str(doc.get("date_format", "%Y-%m-%d")),
        str(doc.get("timestamp_format", "%Y-%m-%dT%H:%M:%S")),
        str(doc.get("utc_offset", "+08:00")),
    )
    for table in set(codes.values()):
        missing = [f.name for f in TABLES[table].fields if f.required and m._source(f) is None]
        if missing:
            raise bad(f"required columns of {table} have no source: {missing}")
    try:
        dt.datetime.strptime(dt.date(2026, 1, 2).strftime(m.date_format), m.date_format)
        dt.datetime.strptime("+08:00", "%z") if m.utc_offset else None
    except ValueError as exc:
        raise bad(f"bad date format or offset: {exc}") from exc
    return m


def parse_registry(doc: Mapping[str, Any]) -> Registry:
    mappings = {str(k): _mapping(str(k), v) for k, v in (doc.get("mappings") or {}).items()}
    peers: dict[str, PeerConfig] = {}
    for i, p in enumerate(doc.get("peers") or []):
        name = str(p.get("name") or "")
        where = f"peer #{i + 1} ({name or 'unnamed'})"
        if not name or name in peers:
            raise ConfigurationError(f"{where}: a unique name is required")
        if p.get("kind") not in KINDS:
            raise ConfigurationError(f"{where}: kind must be one of {KINDS}")
        if p.get("protocol") not in PROTOCOLS:
            raise ConfigurationError(f"{where}: protocol must be one of {PROTOCOLS}")
        if not p.get("conn_id"):
            raise ConfigurationError(f"{where}: conn_id (the Airflow Connection id) is required")
        mname = p.get("mapping")
        if mname is not None and mname not in mappings:
            raise ConfigurationError(f'{where}: mapping {mname!r} is not defined under "mappings"')
        known = {"name", "kind", "conn_id", "protocol", "region_code", "path", "mapping"}
        peers[name] = PeerConfig(
            name,
            str(p["kind"]),
            str(p["conn_id"]),
            str(p["protocol"]),
            p.get("region_code"),
            str(p.get("path") or "/v1/cases/changes"),
            mappings[mname] if mname else None,
            {k: v for k, v in p.items() if k not in known},
        )
    return Registry(peers)


def load_registry(path: Path) -> Registry:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"peer registry {path} not found: set TONGBAN_PEERS__REGISTRY_FILE to a registry JSON file"
        ) from None
    except ValueError as exc:
        raise ConfigurationError(f"peer registry {path} is not valid JSON: {exc}") from exc
    return parse_registry(doc)


VENDOR_B_MAPPING: dict[str, Any] = {
    "table": {
        "from": "BIAOMING",
        "codes": {
            "SL": "up_pro_accept",
            "GC": "up_pro_process",
            "TB": "up_pro_special_procedure",
            "BJ": "up_pro_result",
            "CL": "up_pro_material",
            "PJ": "up_pro_evaluation",
        },
    },
    "columns": {
        "project_no": "BJBH",
        "row_guid": "WYBS",
        "cd_batch": "PCH",
        "cd_operation": "CZLX",
        "cd_time": "TBSJ",
        "data_source": "SJLY",
    },
    "default": "DATA.{NAME}",
    "date_format": "%Y%m%d",
    "timestamp_format": "%Y-%m-%d %H:%M:%S",
    "utc_offset": "+08:00",
}
