"""The object store: content-addressed zones on a local folder or S3/MinIO.

Zones ``raw``, ``held`` and ``quarantine`` hold citizen data: objects there are
encrypted at rest (AES-256-GCM in authenticated chunks, envelope keys from the key store) and
addressed by a keyed HMAC-SHA256 of their plaintext. ``licenses`` and ``reports`` are public:
plain bytes addressed by SHA-256. Put streams and is idempotent; get streams and verifies; a sweep
applies each zone's retention and records every deletion in the audit ledger (licenses are never
swept, and on S3 live in a versioned, object-locked bucket).

Recipes::

    store = open_store(settings)
    ref = store.put("raw", fileobj, content_type="application/x-ndjson", source="county:510129",
                    schema_version="case-v1")
    with store.get("raw", ref.key) as reader:       # file-like; raises IntegrityError if damaged
        for chunk in reader.chunks(): ...
    store.sweep(database)                           # retention, recorded in ledger "store.retention"
"""

from __future__ import annotations

from core.errors import CoreError, IntegrityError, ObjectNotFound, StoreError, StoreUnavailable
from core.health import Check
from core.keys.datakeys import DataKeyring
from core.settings import Settings
from core.store._base import (
    FP_BEFORE_COMMIT,
    FP_SWEEP_AFTER_RECORD,
    RETENTION_STREAM,
    ObjectReader,
    ObjectStore,
)
from core.store._envelope import ADDRESS_KEY_PURPOSE, DATA_KEY_PURPOSE, TAG_LEN
from core.store._model import (
    CITIZEN_ZONES,
    PUBLIC_ZONES,
    ObjectInfo,
    ObjectRef,
    ObjectSummary,
    SweepReport,
    Zone,
)
from core.store.folder import FolderStore
from core.store.s3 import S3Store

__all__ = [
    "ADDRESS_KEY_PURPOSE",
    "CITIZEN_ZONES",
    "DATA_KEY_PURPOSE",
    "FP_BEFORE_COMMIT",
    "FP_SWEEP_AFTER_RECORD",
    "PUBLIC_ZONES",
    "RETENTION_STREAM",
    "TAG_LEN",
    "FolderStore",
    "IntegrityError",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectReader",
    "ObjectRef",
    "ObjectStore",
    "ObjectSummary",
    "S3Store",
    "StoreError",
    "StoreUnavailable",
    "SweepReport",
    "Zone",
    "check_store",
    "open_store",
    "parse_locator",
]


def open_store(settings: Settings) -> ObjectStore:
    """The object store the settings name; data keys are opened from the key store on first use."""

    def keyring() -> DataKeyring:
        from core.runtime import keystore

        return keystore(settings).datakeys

    cfg = settings.store
    if cfg.backend == "folder":
        return FolderStore(
            settings.store_folder,
            keyring=keyring,
            chunk_size=cfg.chunk_size,
            retention_days=dict(cfg.retention_days),
        )
    return S3Store(
        endpoint=cfg.s3_endpoint,
        access_key=cfg.s3_access_key,
        secret_key=cfg.s3_secret_key.get_secret_value(),
        secure=cfg.s3_secure,
        region=cfg.s3_region,
        bucket_prefix=cfg.bucket_prefix,
        part_size=cfg.s3_part_size,
        license_lock_mode=cfg.license_lock_mode,
        license_lock_years=cfg.license_lock_years,
        staging_dir=cfg.staging_dir,
        keyring=keyring,
        chunk_size=cfg.chunk_size,
        retention_days=dict(cfg.retention_days),
    )


def parse_locator(locator: str) -> tuple[Zone, str]:
    """``zone/key`` (as :attr:`ObjectInfo.locator` writes it) → ``(Zone, key)``."""
    from core.store._model import check_key

    zone_name, sep, key = locator.partition("/")
    if not sep:
        raise StoreError(f"object locator {locator!r} must look like <zone>/<key>", code="STORE_KEY")
    zone = Zone.parse(zone_name)
    return zone, check_key(zone, key)


def check_store(settings: Settings) -> Check:
    """``tongban doctor``: the store opens and every zone is writable (leaves nothing behind)."""
    try:
        return Check("store", True, open_store(settings).check_writable())
    except CoreError as exc:
        return Check("store", False, f"{exc} [{exc.code}]")
    except Exception as exc:
        return Check("store", False, f"{type(exc).__name__}: {exc}")
