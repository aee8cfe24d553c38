"""Opening the runtime parts the settings name: database, key store.

Every entry point (CLI, DAG task, API, test) builds its parts through here, so all of them agree
on where things live.
"""

from __future__ import annotations

from functools import lru_cache

from core.db import Database
from core.keys import AnyKeyStore, open_keystore
from core.settings import Settings, load_settings


def open_database(settings: Settings) -> Database:
    return Database(settings.db_url)


@lru_cache(maxsize=8)
def _cached_database(url: str) -> Database:
    return Database(url)


def shared_database(settings: Settings) -> Database:
    """One engine per URL per process (for long-running workers and tasks)."""
    return _cached_database(settings.db_url)


def keystore(settings: Settings, *, create: bool = False) -> AnyKeyStore:
    return open_keystore(settings, create=create)


def current_settings() -> Settings:
    return load_settings()
