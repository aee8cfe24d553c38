"""Opening the runtime parts the settings name: database, key store.

Every entry point (CLI, DAG task, API, test) builds its parts through here, so all of them agree
on where things live.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from core.db import Database
from core.fieldcrypt import FieldCrypt
from core.keys import AnyKeyStore, open_keystore
from core.settings import Settings, load_settings


def open_database(settings: Settings) -> Database:
    """The settings' database, with the field encryption of their key store."""
    return Database(settings.db_url, crypt=fieldcrypt(settings))


@lru_cache(maxsize=8)
def _cached_database(url: str, crypt: FieldCrypt) -> Database:
    return Database(url, crypt=crypt)


def shared_database(settings: Settings) -> Database:
    """One engine per URL per process (for long-running workers and tasks)."""
    return _cached_database(settings.db_url, fieldcrypt(settings))


_CRYPTS: dict[tuple[str, str], FieldCrypt] = {}
_CRYPTS_LOCK = threading.Lock()


def fieldcrypt(settings: Settings) -> FieldCrypt:
    """The field encryption of the settings' key store (data keys of purposes ``field`` and
    ``blind-index``), one per key folder per process: the key-encryption key is derived once and
    each data key unwrapped once, never per field."""
    ident = (settings.keys.backend, str(settings.keys_folder))
    with _CRYPTS_LOCK:
        crypt = _CRYPTS.get(ident)
        if crypt is None:
            crypt = _CRYPTS[ident] = FieldCrypt(lambda: keystore(settings).datakeys)
        return crypt


def keystore(settings: Settings, *, create: bool = False) -> AnyKeyStore:
    return open_keystore(settings, create=create)


def current_settings() -> Settings:
    return load_settings()
