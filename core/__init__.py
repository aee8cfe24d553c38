"""The shared runtime of tongban: settings, database engine and ORM base, audit ledger, key store,
failpoints, domain events, object store, timestamp client and logging. Imports only ``contracts``.

The names below are the stable surface, pinned by ``tests/core/test_public_api.py``. The error
tree (:mod:`core.errors`: ``CoreError`` and its branches, drawn there) is imported here; every
other name loads its module on first use, so ``import core`` pulls in neither SQLAlchemy nor
pydantic nor cryptography. Modules, each documenting its own API::

    core.errors      the exception tree (CoreError → ConfigError, StoreError, TimestampError, …)
    core.settings    Settings (env prefix TONGBAN_), load_settings()
    core.db          Database, Base (ORM), utcnow(), insert_ignore()
    core.runtime     the composition helpers: open_database, shared_database, keystore, current_settings
    core.store       ObjectStore, Zone, open_store(settings) (folder or S3, encrypted citizen zones)
    core.keys        Signer, KeyStore, FileKeyStore, open_keystore(settings), PLATFORM_KEY
    core.timestamp   TimestampClient (RFC 3161), register_local_responder, inspect_token
    core.jws         sign_compact / verify_compact (ES256 over a Signer)
    core.ledger      the hash-chained audit ledger (append, append_many, verify_chain)
    core.events      DomainEvent (transactional outbox), record_event, events_after
    core.casestore   CaseStore: accepted, held and quarantined rows, batch records
    core.casematerials  CaseMaterial: 容缺 materials awaiting supply, license references (issue 18)
    core.uselog      the use ledger's entry and index shape (ApiUseIndex), append_use
    core.failpoints  named failpoints for crash and fault drills
    core.canonical   canonical_json / canonical_bytes / sha256_hex
    core.masking     mask_id, mask_name, redact_text, pseudonym
    core.logging     configure_logging, log_event
    core.health      Check, check_database, check_keystore, record_heartbeat
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.lazy import lazy_getattr
from core.errors import (
    BatchExists,
    CaseStoreError,
    ConfigError,
    CoreError,
    DatabaseError,
    FailpointHit,
    IntegrityError,
    JwsError,
    KeyStoreError,
    LedgerError,
    ObjectNotFound,
    StoreError,
    StoreUnavailable,
    TimestampError,
    TimestampInvalid,
    TimestampRejected,
    TimestampUnavailable,
)

if TYPE_CHECKING:
    from core.canonical import canonical_bytes, canonical_json, sha256_hex
    from core.db import Base, Database, insert_ignore, utcnow
    from core.events import DomainEvent, record_event
    from core.keys import PLATFORM_KEY, AnyKeyStore, Signer, open_keystore
    from core.logging import configure_logging, log_event
    from core.masking import mask_id, mask_name, redact_text
    from core.settings import Settings, load_settings
    from core.store import ObjectStore, Zone, open_store
    from core.timestamp import TimestampClient

# name -> the module that defines it (PEP 562: loaded on first use)
_LAZY = {
    **dict.fromkeys(("canonical_bytes", "canonical_json", "sha256_hex"), "core.canonical"),
    **dict.fromkeys(("Base", "Database", "insert_ignore", "utcnow"), "core.db"),
    **dict.fromkeys(("DomainEvent", "record_event"), "core.events"),
    **dict.fromkeys(("PLATFORM_KEY", "AnyKeyStore", "Signer", "open_keystore"), "core.keys"),
    **dict.fromkeys(("configure_logging", "log_event"), "core.logging"),
    **dict.fromkeys(("mask_id", "mask_name", "redact_text"), "core.masking"),
    **dict.fromkeys(("Settings", "load_settings"), "core.settings"),
    **dict.fromkeys(("ObjectStore", "Zone", "open_store"), "core.store"),
    "TimestampClient": "core.timestamp",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "PLATFORM_KEY",
    "AnyKeyStore",
    "Base",
    "BatchExists",
    "CaseStoreError",
    "ConfigError",
    "CoreError",
    "Database",
    "DatabaseError",
    "DomainEvent",
    "FailpointHit",
    "IntegrityError",
    "JwsError",
    "KeyStoreError",
    "LedgerError",
    "ObjectNotFound",
    "ObjectStore",
    "Settings",
    "Signer",
    "StoreError",
    "StoreUnavailable",
    "TimestampClient",
    "TimestampError",
    "TimestampInvalid",
    "TimestampRejected",
    "TimestampUnavailable",
    "Zone",
    "canonical_bytes",
    "canonical_json",
    "configure_logging",
    "insert_ignore",
    "load_settings",
    "log_event",
    "mask_id",
    "mask_name",
    "open_keystore",
    "open_store",
    "record_event",
    "redact_text",
    "sha256_hex",
    "utcnow",
]
