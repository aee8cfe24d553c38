"""The public surface of ``core`` is pinned, and ``import core`` stays light (its names load lazily)."""

from __future__ import annotations

import core
from core import errors
from tests.exports import check_surface, heavy_imports

ERRORS = (
    "BatchExists CaseStoreError ConfigError CoreError DatabaseError FailpointHit IntegrityError JwsError "
    "KeyStoreError LedgerError ObjectNotFound StoreError StoreUnavailable TimestampError "
    "TimestampInvalid TimestampRejected TimestampUnavailable"
)
RUNTIME = (
    "PLATFORM_KEY AnyKeyStore Base Database DomainEvent ObjectStore Settings Signer TimestampClient Zone "
    "canonical_bytes canonical_json configure_logging insert_ignore load_settings log_event mask_id "
    "mask_name open_keystore open_store record_event redact_text sha256_hex utcnow"
)


def test_exported_names() -> None:
    check_surface("core", f"{ERRORS} {RUNTIME}")
    for name in ERRORS.split():
        assert issubclass(getattr(core, name), core.CoreError)
        assert getattr(core, name) is getattr(errors, name)


def test_modules_that_raise_them_re_export_the_same_classes() -> None:
    from core import casestore, jws, timestamp

    assert timestamp.TimestampRejected is core.TimestampRejected
    assert jws.JwsError is core.JwsError
    assert casestore.BatchExists is core.BatchExists


def test_importing_core_is_light() -> None:
    banned = ("sqlalchemy", "pydantic", "pydantic_settings", "cryptography", "asn1crypto", "httpx", "minio")
    assert heavy_imports("core", banned) == []
