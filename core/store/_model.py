"""The object store's data model: zones, keys, object metadata and the records the store returns.

Metadata is one flat ``str → str`` mapping (prefix ``tb-``) so that both backends keep it the same
way: the folder backend as a JSON sidecar, S3 as user metadata (``x-amz-meta-tb-…``, values
percent-encoded because S3 headers are US-ASCII).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.errors import IntegrityError, StoreError
from core.masking import redact_text

FORMAT_VERSION = 1
KEY_RE = re.compile(r"^[0-9a-f]{64}$")
EXTRA_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_META_BYTES = 1536  # S3 allows 2 KiB of user metadata in total; leave room for the store's own fields

ADDRESS_SHA256 = "sha256"
ADDRESS_HMAC = "hmac-sha256"
ENCRYPTION_NONE = "none"
ENCRYPTION_CHUNKED = "tbse1-a256gcm"  # see _envelope.py


class Zone(StrEnum):
    """Where an object lives. Citizen-data zones are encrypted and HMAC-addressed."""

    RAW = "raw"  # landed case batches as received (原始数据)
    HELD = "held"  # child rows waiting for their parent
    QUARANTINE = "quarantine"  # rows that failed, with the reasons (隔离区)
    LICENSES = "licenses"  # signed license PDFs (电子证照): public, kept for ever
    REPORTS = "reports"  # data-quality reports, receipts: public

    @property
    def citizen_data(self) -> bool:
        """Holds citizen data: encrypted at rest, addressed by a keyed HMAC."""
        return self in CITIZEN_ZONES

    @property
    def address_alg(self) -> str:
        return ADDRESS_HMAC if self.citizen_data else ADDRESS_SHA256

    @classmethod
    def parse(cls, value: str | Zone) -> Zone:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(z.value for z in cls)
            raise StoreError(f"unknown store zone {value!r}: use one of {names}", code="STORE_ZONE") from None


CITIZEN_ZONES = frozenset({Zone.RAW, Zone.HELD, Zone.QUARANTINE})
PUBLIC_ZONES = frozenset({Zone.LICENSES, Zone.REPORTS})
NEVER_SWEPT = frozenset({Zone.LICENSES})


def check_key(zone: Zone, key: str) -> str:
    """A key is 64 lowercase hex digits (the address); anything else is refused before any I/O."""
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise StoreError(
            f"invalid object key {key!r} in zone {zone.value}: a key is the 64-hex-digit address "
            "that put returned",
            code="STORE_KEY",
            zone=zone.value,
            key=str(key),
        )
    return key


def _check_value(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise StoreError(f"metadata {name!r} must be a string", code="STORE_METADATA")
    if redact_text(value) != value:
        raise StoreError(
            f"metadata {name!r} looks like it holds a resident ID number or a private key; metadata is "
            "stored in clear — put identifiers inside the object, or a hash (core.masking)",
            code="STORE_METADATA_PII",
        )
    return value


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows about one object (metadata plus sizes), without reading its body."""

    zone: Zone
    key: str
    size: int  # plaintext bytes
    stored_size: int  # bytes at rest (envelope included)
    created: datetime  # UTC, when the object was first stored
    content_type: str
    source: str
    schema_version: str
    address_alg: str  # sha256 | hmac-sha256
    address_key_id: str | None  # data key of the HMAC (citizen-data zones)
    encryption: str  # none | tbse1-a256gcm
    data_key_id: str | None  # data key that encrypts the object (citizen-data zones)
    format: int = FORMAT_VERSION
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def encrypted(self) -> bool:
        return self.encryption != ENCRYPTION_NONE

    @property
    def locator(self) -> str:
        """``zone/key``: how other tables refer to an object."""
        return f"{self.zone.value}/{self.key}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone.value,
            "key": self.key,
            "locator": self.locator,
            "size": self.size,
            "stored_size": self.stored_size,
            "created": self.created.isoformat(),
            "content_type": self.content_type,
            "source": self.source,
            "schema_version": self.schema_version,
            "address_alg": self.address_alg,
            "address_key_id": self.address_key_id,
            "encryption": self.encryption,
            "data_key_id": self.data_key_id,
            "format": self.format,
            "extra": dict(self.extra),
        }

    def to_meta(self) -> dict[str, str]:
        """The flat metadata both backends store beside the bytes (stored_size is the backend's)."""
        meta = {
            "tb-format": str(self.format),
            "tb-zone": self.zone.value,
            "tb-size": str(self.size),
            "tb-created": self.created.isoformat(),
            "tb-content-type": self.content_type,
            "tb-source": self.source,
            "tb-schema-version": self.schema_version,
            "tb-address": self.address_alg,
            "tb-address-key": self.address_key_id or "",
            "tb-encryption": self.encryption,
            "tb-data-key": self.data_key_id or "",
        }
        for name, value in self.extra.items():
            meta[f"tb-x-{name}"] = value
        return meta

    @classmethod
    def from_meta(cls, zone: Zone, key: str, stored_size: int, meta: Mapping[str, str]) -> ObjectInfo:
        """Rebuild from stored metadata; a missing or foreign field is an integrity problem."""
        try:
            fmt = int(meta["tb-format"])
            if fmt != FORMAT_VERSION:
                raise StoreError(
                    f"{zone.value}/{key} has store format {fmt}; this build reads format {FORMAT_VERSION}: "
                    "upgrade tongban",
                    code="STORE_FORMAT",
                    zone=zone.value,
                    key=key,
                )
            if meta["tb-zone"] != zone.value:
                raise ValueError(f"metadata names zone {meta['tb-zone']!r}")
            return cls(
                zone=zone,
                key=key,
                size=int(meta["tb-size"]),
                stored_size=stored_size,
                created=datetime.fromisoformat(meta["tb-created"]),
                content_type=meta["tb-content-type"],
                source=meta.get("tb-source", ""),
                schema_version=meta.get("tb-schema-version", ""),
                address_alg=meta["tb-address"],
                address_key_id=meta.get("tb-address-key") or None,
                encryption=meta["tb-encryption"],
                data_key_id=meta.get("tb-data-key") or None,
                format=fmt,
                extra={k[5:]: v for k, v in meta.items() if k.startswith("tb-x-")},
            )
        except (KeyError, ValueError) as exc:
            raise IntegrityError(
                f"object {zone.value}/{key}: its metadata is missing or damaged ({exc}); "
                "restore it from backup or delete and re-put the object",
                zone=zone.value,
                key=key,
            ) from exc


def check_metadata(
    content_type: str, source: str, schema_version: str, extra: Mapping[str, str] | None
) -> dict[str, str]:
    """Validate caller metadata (no resident IDs, bounded size) and return the extra fields."""
    if not content_type.isascii() or not content_type.isprintable() or not content_type:
        raise StoreError(
            f"content type {content_type!r} must be a non-empty printable ASCII media type",
            code="STORE_METADATA",
        )
    _check_value("content_type", content_type)
    _check_value("source", source)
    _check_value("schema_version", schema_version)
    out: dict[str, str] = {}
    for name, value in (extra or {}).items():
        if not EXTRA_NAME_RE.match(name):
            raise StoreError(
                f"metadata name {name!r} is invalid: use lowercase letters, digits and '-' (≤ 40)",
                code="STORE_METADATA",
            )
        out[name] = _check_value(name, value)
    total = sum(len(k) + len(v.encode()) for k, v in out.items()) + len(source.encode())
    total += len(content_type) + len(schema_version)
    if total > MAX_META_BYTES:
        raise StoreError(
            f"object metadata is {total} bytes; keep it under {MAX_META_BYTES} "
            "(put large data in the object)",
            code="STORE_METADATA",
        )
    return out


@dataclass(frozen=True)
class ObjectRef:
    """The result of a put: the object's info, and whether identical content was already stored."""

    info: ObjectInfo
    existed: bool  # True: same content was already there; nothing was written

    @property
    def zone(self) -> Zone:
        return self.info.zone

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def size(self) -> int:
        return self.info.size

    @property
    def locator(self) -> str:
        return self.info.locator

    def as_dict(self) -> dict[str, Any]:
        return {**self.info.as_dict(), "existed": self.existed}


@dataclass(frozen=True)
class ObjectSummary:
    """One listing row: cheap to get (no metadata read)."""

    zone: Zone
    key: str
    stored_size: int
    modified: datetime  # backend time of the write (folder: set to ``created``)

    @property
    def locator(self) -> str:
        return f"{self.zone.value}/{self.key}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone.value,
            "key": self.key,
            "stored_size": self.stored_size,
            "modified": self.modified.isoformat(),
        }


@dataclass
class SweepReport:
    """What a retention sweep examined and deleted."""

    now: datetime
    dry_run: bool
    zones: dict[str, dict[str, int]] = field(default_factory=dict)  # zone → examined/expired/deleted
    deleted: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # damaged metadata: age unknown, kept
    staging_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "zones": self.zones,
            "deleted": self.deleted,
            "skipped": self.skipped,
            "staging_removed": self.staging_removed,
        }
