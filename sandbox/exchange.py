"""The province's exchange tables (前置库) in a real PostgreSQL database, with its ETL.

:class:`ExchangeProvince` creates a database of its own (dropped by :meth:`drop`), applies the
contract's DDL (``contracts/wire/exchange_tables.sql``) and installs, per exchange table, a trigger
that appends every inserted row to ``province_commit_log`` (a sequence number, row_guid, table,
project_no, cd_time) — the order in which rows arrived, kept after the ETL empties the tables.
:meth:`run_etl` moves rows from the exchange tables into ``province_received`` and deletes them,
as the province's nightly job does.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2

from contracts.fields import CASE_TABLES
from contracts.wire import wire_path

_LOG_DDL = """
CREATE TABLE IF NOT EXISTS province_commit_log (
    seq BIGSERIAL PRIMARY KEY, row_guid VARCHAR(64) NOT NULL, table_name VARCHAR(64) NOT NULL,
    project_no VARCHAR(200) NOT NULL, cd_time VARCHAR(40) NOT NULL, logged_at TIMESTAMPTZ DEFAULT now());
CREATE TABLE IF NOT EXISTS province_received (
    row_guid VARCHAR(64) PRIMARY KEY, table_name VARCHAR(64) NOT NULL, project_no VARCHAR(200) NOT NULL,
    cd_time VARCHAR(40) NOT NULL, loaded_at TIMESTAMPTZ DEFAULT now());
CREATE OR REPLACE FUNCTION province_log_insert() RETURNS trigger AS $$
BEGIN
  INSERT INTO province_commit_log (row_guid, table_name, project_no, cd_time)
  VALUES (NEW.row_guid, TG_TABLE_NAME, NEW.project_no, NEW.cd_time);
  RETURN NEW;
END $$ LANGUAGE plpgsql;
"""


def _dsn(url: str) -> str:
    """A libpq DSN from a SQLAlchemy-style URL."""
    return url.replace("postgresql+psycopg2://", "postgresql://").replace(
        "postgresql+psycopg://", "postgresql://"
    )


class ExchangeProvince:
    """A province exchange database on a PostgreSQL server (one per run)."""

    def __init__(self, admin_url: str, name: str | None = None) -> None:
        self.admin_dsn = _dsn(admin_url)
        self.name = name or f"tongban_exchange_{uuid.uuid4().hex[:10]}"
        base = self.admin_dsn.rsplit("/", 1)[0]
        self.dsn = f"{base}/{self.name}"
        self._etl_lock = threading.Lock()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the exchange database."""
        return self.dsn.replace("postgresql://", "postgresql+psycopg2://", 1)

    def create(self) -> ExchangeProvince:
        admin = psycopg2.connect(self.admin_dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.name}"')
        admin.close()
        with self._conn() as conn, conn.cursor() as cur:
            cur.execute(wire_path("exchange_tables.sql").read_text(encoding="utf-8"))
            cur.execute(_LOG_DDL)
            for t in CASE_TABLES:
                cur.execute(
                    f"CREATE TRIGGER {t}_log AFTER INSERT ON {t} "
                    "FOR EACH ROW EXECUTE FUNCTION province_log_insert()"
                )
        return self

    def drop(self) -> None:
        admin = psycopg2.connect(self.admin_dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        admin.close()

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        """A connection in a transaction, committed and *closed* afterwards (psycopg2's own
        context manager only ends the transaction)."""
        conn = psycopg2.connect(self.dsn)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def run_etl(self) -> int:
        """Move every row from the exchange tables to ``province_received``; returns rows moved."""
        moved = 0
        with self._etl_lock, self._conn() as conn, conn.cursor() as cur:
            for t in CASE_TABLES:
                cur.execute(f"DELETE FROM {t} RETURNING row_guid, project_no, cd_time")  # noqa: S608
                rows = cur.fetchall()
                if rows:
                    cur.executemany(
                        "INSERT INTO province_received (row_guid, table_name, project_no, cd_time) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT (row_guid) DO NOTHING",
                        [(g, t, p, c) for g, p, c in rows],
                    )
                    moved += len(rows)
        return moved

    def commit_log(self) -> list[tuple[int, str, str, str, str]]:
        with self._conn() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT seq, row_guid, table_name, project_no, cd_time FROM province_commit_log ORDER BY seq"
            )
            return [(int(s), g, t, p, c) for s, g, t, p, c in cur.fetchall()]

    def held_row_guids(self) -> set[str]:
        """Rows the province holds: loaded by its ETL or still waiting in the exchange tables."""
        with self._conn() as conn, conn.cursor() as cur:
            union = " UNION ".join(f"SELECT row_guid FROM {t}" for t in CASE_TABLES)  # noqa: S608
            cur.execute(f"SELECT row_guid FROM province_received UNION {union}")  # noqa: S608
            return {g for (g,) in cur.fetchall()}
