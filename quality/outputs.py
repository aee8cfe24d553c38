"""Where the gate's outputs go: the object store zones (the only module that talks to the store).

Curated, held and quarantined rows go to the citizen-data zones (encrypted at rest, addressed by a
keyed HMAC, see :mod:`core.store`); reports and receipts to the public ``reports`` zone. Every
object is described by a :class:`StoredObject`: zone, the store's address (``key``), the address
algorithm, size and rows — what a receipt names. No plain hash of citizen data is ever recorded:
a plain SHA-256 of a curated or quarantine object would let anyone who can guess the rows confirm
them, which is exactly what the keyed addresses of the citizen-data zones prevent. The address is
still a content commitment: the store recomputes it over the plaintext on every read and refuses
an object whose bytes changed (:class:`core.errors.IntegrityError`), so a receipt that names it
fails after any byte of the object changes. In the public ``reports`` zone the address is the
plain SHA-256 (``plain_sha256``).

Public API::

    StoredObject(name, zone, key, address, size, rows) ; .locator ; .plain_sha256 ; .as_dict()
    Outputs(store)
    .put(name, zone, data, *, content_type, source="", rows=None) -> StoredObject
    .get(zone, key) -> bytes
"""

from __future__ import annotations

import io
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
    key: str  # the store's address: HMAC-SHA256 (citizen-data zones) or SHA-256 of the plaintext
    address: str  # the address algorithm: hmac-sha256 | sha256
    size: int
    rows: int | None = None

    @property
    def locator(self) -> str:
        return f"{self.zone}/{self.key}"

    @property
    def plain_sha256(self) -> str | None:
        """The SHA-256 of the plaintext where the zone is addressed by it (public zones), else None."""
        return self.key if self.address == "sha256" else None

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"zone": self.zone, "key": self.key, "address": self.address, "size": self.size}
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
        # as a stream: a bytes source is addressed once up front to skip storing known content,
        # then again while sealing — two keyed-hash passes over every object; the gate's objects
        # are new almost always, and a repeated one is still found at commit
        ref = self.store.put(
            zone,
            io.BytesIO(data),
            content_type=content_type,
            source=source,
            schema_version=f"quality-{SUITE_VERSION}",
        )
        return StoredObject(
            name=name,
            zone=ref.zone.value,
            key=ref.key,
            address=ref.info.address_alg,
            size=len(data),
            rows=rows,
        )

    def get(self, zone: str | Zone, key: str) -> bytes:
        return self.store.get_bytes(zone, key, max_size=1024 * 1024 * 1024)
