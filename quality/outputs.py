"""Where the gate's outputs go: the object store zones (the only module that talks to the store).

Curated, held and quarantined rows go to the citizen-data zones (encrypted at rest, addressed by a
keyed HMAC, see :mod:`core.store`); reports and receipts to the public ``reports`` zone. Every
object is described by a :class:`StoredObject` that also carries the SHA-256 of its plaintext —
the hash a receipt names, checkable by anyone who can read the object (the store's own key of a
citizen-data object is an HMAC, which only the key holder can recompute).

Public API::

    StoredObject(name, zone, key, sha256, size, rows) ; .locator ; .as_dict()
    Outputs(store)
    .put(name, zone, data, *, content_type, source="", rows=None) -> StoredObject
    .get(zone, key) -> bytes
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from core.store import ObjectStore, Zone
from quality.suites import SUITE_VERSION

CONTENT_JSONL = "application/x-ndjson"
CONTENT_HTML = "text/html; charset=utf-8"
CONTENT_JWS = "application/jose"


@dataclass(frozen=True)
class StoredObject:
    name: str  # curated | held | quarantine | released | expired | raw | report | receipt
    zone: str
    key: str
    sha256: str
    size: int
    rows: int | None = None

    @property
    def locator(self) -> str:
        return f"{self.zone}/{self.key}"

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"zone": self.zone, "key": self.key, "sha256": self.sha256, "size": self.size}
        if self.rows is not None:
            doc["rows"] = self.rows
        return doc


class Outputs:
    """Puts and gets through the object store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def put(
        self,
        name: str,
        zone: str | Zone,
        data: bytes,
        *,
        content_type: str,
        source: str = "",
        rows: int | None = None,
    ) -> StoredObject:
        ref = self.store.put(
            zone, data, content_type=content_type, source=source, schema_version=f"quality-{SUITE_VERSION}"
        )
        return StoredObject(
            name=name,
            zone=ref.zone.value,
            key=ref.key,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            rows=rows,
        )

    def get(self, zone: str | Zone, key: str) -> bytes:
        return self.store.get_bytes(zone, key, max_size=1024 * 1024 * 1024)
