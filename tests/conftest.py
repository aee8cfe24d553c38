"""Shared fixtures: settings on a temporary data dir, migrated databases on SQLite and PostgreSQL.

Database fixtures are parametrized over ``sqlite`` and ``pg``. The PostgreSQL tier uses the machine's
server (127.0.0.1:5432, user postgres, trust; override with TONGBAN_TEST_PG_URL): one fresh database
per test run, dropped afterwards, tables emptied between tests. Where no PostgreSQL answers, the
``pg`` cases are skipped with the reason — except under ``CI=true``, where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core.db import Base, Database
from core.settings import Settings
from tests.crypt import sealed_database

PG_ADMIN_URL = os.environ.get("TONGBAN_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_unavailable_reason() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
    except Exception as exc:
        where = PG_ADMIN_URL.split("@")[-1]
        return f"no PostgreSQL at {where}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    reason = _pg_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run, dropped at the end."""
    from migrations import runner

    name = f"tongban_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    runner.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL: SQLite file, then PostgreSQL."""
    from migrations import runner

    if request.param == "sqlite":
        sqlite_url = f"sqlite:///{tmp_path / 'tongban.db'}"
        runner.upgrade(sqlite_url)
        return sqlite_url
    pg: str = request.getfixturevalue("pg_url")
    _truncate(pg)
    return pg


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = sealed_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded settings on a temporary data dir (SQLite), with a test passphrase."""
    return Settings(data_dir=tmp_path / "var", keys={"passphrase": "test-passphrase-" + uuid.uuid4().hex})
