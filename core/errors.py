"""The exception tree of ``core``.

CoreError                      every error raised by core; carries a stable ``code``
├── ConfigError                settings that cannot work (names the setting and what to do)
├── DatabaseError              database unreachable or not migrated
├── LedgerError                ledger append or verification failed
├── KeyStoreError              key missing, wrong passphrase, backend failure (never shows key material)
├── StoreError                 object store failures (carries ``zone`` and ``key`` when known)
│   ├── ObjectNotFound
│   ├── IntegrityError         stored bytes do not match their address or tag (names the key)
│   └── StoreUnavailable       the backend cannot be reached or written (folder, S3 endpoint)
├── CalendarError              (reserved for runtime calendar lookups)
└── FailpointHit               a failpoint configured to raise was reached
"""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error raised by ``core``."""

    code = "CORE_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


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


class FailpointHit(CoreError):
    code = "FAILPOINT"
