"""The exception tree of ``core``; every error carries a stable ``code``.

::

    TongbanError (contracts.errors)  the kernel: ``code``, ``message``, ``as_dict()``
    └── CoreError                    every error raised by core (CORE_ERROR)
        ├── ConfigError              settings that cannot work; names the setting and what to do
        │                            (CONFIG_INVALID)
        ├── DatabaseError            database unreachable or not migrated (DATABASE_ERROR)
        ├── LedgerError              ledger append or verification failed (LEDGER_ERROR)
        ├── KeyStoreError            key missing, wrong passphrase, backend failure; never shows key
        │                            material (KEYSTORE_ERROR)
        ├── StoreError               object store failures; carries ``zone`` and ``key`` when known
        │                            (STORE_ERROR)
        │   ├── ObjectNotFound       no object at that address (STORE_NOT_FOUND)
        │   ├── IntegrityError       stored bytes do not match their address or tag; names the key
        │   │                        (STORE_INTEGRITY)
        │   └── StoreUnavailable     the backend cannot be reached or written: folder, S3 endpoint
        │                            (STORE_UNAVAILABLE)
        ├── CaseStoreError           the case store refuses a change (CASESTORE_ERROR)
        │   └── BatchExists          the batch hash is already stored: another worker finished it
        │                            first (CASESTORE_BATCH_EXISTS)
        ├── JwsError                 a compact JWS that is malformed or does not verify (JWS_INVALID)
        ├── TimestampError           an RFC 3161 timestamp could not be had (TIMESTAMP_FAILED)
        │   ├── TimestampUnavailable network, HTTP status, no TSA configured (TIMESTAMP_UNAVAILABLE)
        │   ├── TimestampRejected    the TSA said no (TIMESTAMP_REJECTED)
        │   └── TimestampInvalid     a reply or token that does not hold (TIMESTAMP_INVALID)
        └── FailpointHit             a failpoint configured to raise was reached (FAILPOINT)

The modules that raise them re-export their own (``core.timestamp.TimestampError`` is this class).
"""

from __future__ import annotations

from contracts.errors import TongbanError


class CoreError(TongbanError):
    """Base of every error raised by ``core``."""

    code = "CORE_ERROR"


class ConfigError(CoreError):
    code = "CONFIG_INVALID"


class DatabaseError(CoreError):
    code = "DATABASE_ERROR"


class LedgerError(CoreError):
    code = "LEDGER_ERROR"


class KeyStoreError(CoreError):
    code = "KEYSTORE_ERROR"


class StoreError(CoreError):
    code = "STORE_ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, zone: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.zone = zone
        self.key = key


class ObjectNotFound(StoreError):
    code = "STORE_NOT_FOUND"


class IntegrityError(StoreError):
    code = "STORE_INTEGRITY"


class StoreUnavailable(StoreError):
    code = "STORE_UNAVAILABLE"


class CaseStoreError(CoreError):
    code = "CASESTORE_ERROR"


class BatchExists(CaseStoreError):
    """The batch hash is already stored (another worker finished it first)."""

    code = "CASESTORE_BATCH_EXISTS"


class JwsError(CoreError):
    code = "JWS_INVALID"


class TimestampError(CoreError):
    code = "TIMESTAMP_FAILED"


class TimestampUnavailable(TimestampError):
    code = "TIMESTAMP_UNAVAILABLE"


class TimestampRejected(TimestampError):
    code = "TIMESTAMP_REJECTED"


class TimestampInvalid(TimestampError):
    code = "TIMESTAMP_INVALID"


class FailpointHit(CoreError):
    code = "FAILPOINT"
