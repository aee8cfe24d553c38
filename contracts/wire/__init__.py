"""Wire contracts of the peers, generated from the field table (:mod:`contracts.fields`).

- ``province.wsdl``: the provincial platform's SOAP 1.1 document/literal service
  (:func:`contracts.wire.wsdl.province_wsdl`).
- ``county_feed.openapi.json`` and ``department.openapi.json``: the county window feed and the
  department system: approvals and status changes (:mod:`contracts.wire.openapi`).
- ``exchange_tables.sql``: the province's exchange tables (前置库) DDL (:mod:`contracts.wire.ddl`).

The files are committed; a test regenerates each and fails when the file drifts from the
field table. ``wire_path(name)`` gives the path of a committed file (no I/O at import).
"""

from __future__ import annotations

from pathlib import Path

WIRE_DIR = Path(__file__).resolve().parent
PROVINCE_NAMESPACE = "urn:tongban:province:v1"
# the feed paths of the county window system and the department system (the OpenAPI documents)
COUNTY_FEED_PATH = "/v1/changes"
APPROVALS_PATH = "/v1/approvals"
STATUS_CHANGES_PATH = "/v1/status-changes"


def wire_path(name: str) -> Path:
    """The committed wire document ``name`` (e.g. ``"province.wsdl"``)."""
    return WIRE_DIR / name
