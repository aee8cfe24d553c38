"""Fixtures of the quality tests: a migrated database, a key store with the platform key, a folder
object store, and a gate over them; generated case files from sandbox.generator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.keys.base import PLATFORM_KEY
from core.runtime import keystore
from core.settings import Settings
from quality.gate import QualityGate
from tests.crypt import sealed_database


@pytest.fixture
def make_gate(tmp_path: Path, db_url: str) -> Iterator[Callable[..., QualityGate]]:
    """Gates over one migrated database (SQLite, then PostgreSQL) and one data dir."""
    from core.db import Database

    made: list[Database] = []

    def make(*, hold_hours: float = 72.0) -> QualityGate:
        settings = Settings(
            data_dir=tmp_path / "var",
            database_url=db_url,
            keys={"passphrase": "quality-test-passphrase"},
            quality={"hold_hours": hold_hours},
        )
        ks = keystore(settings, create=True)
        ks.create_signing_key(PLATFORM_KEY, exist_ok=True)
        database = sealed_database(db_url)
        made.append(database)
        return QualityGate(settings, database=database, keystore=ks)

    yield make
    for d in made:
        d.dispose()


@pytest.fixture
def sqlite_gate(tmp_path: Path) -> Iterator[Callable[..., QualityGate]]:
    """Gates over a migrated SQLite file only (for tests that need no PostgreSQL tier)."""
    from core.db import Database
    from migrations import runner

    url = f"sqlite:///{tmp_path / 'q.db'}"
    runner.upgrade(url)
    made: list[Database] = []

    def make(*, hold_hours: float = 72.0) -> QualityGate:
        settings = Settings(
            data_dir=tmp_path / "var",
            database_url=url,
            keys={"passphrase": "quality-test-passphrase"},
            quality={"hold_hours": hold_hours},
        )
        ks = keystore(settings, create=True)
        ks.create_signing_key(PLATFORM_KEY, exist_ok=True)
        database = sealed_database(url)
        made.append(database)
        return QualityGate(settings, database=database, keystore=ks)

    yield make
    for d in made:
        d.dispose()
