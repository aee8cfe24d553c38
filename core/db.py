"""Database engine, sessions and the ORM base shared by every package.

SQLite (a file under the data dir) by default, PostgreSQL by URL. Every package declares its
tables on :class:`Base`; ``migrations/`` holds the one Alembic history that creates them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.errors import DatabaseError

if TYPE_CHECKING:
    from core.fieldcrypt import FieldCrypt

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """ORM base of every tongban table."""

    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def insert_ignore(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    *,
    fast: bool = False,
) -> int:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` of ``rows`` into ``model``'s table, on SQLite or
    PostgreSQL, in the caller's transaction; returns how many rows were new.

    ``fast=True`` sends the rows through the driver's ``executemany`` (no SQLAlchemy statement per
    row: the outbox's bulk path); the values must then be plain Python values of the columns.
    """
    if not rows:
        return 0
    if fast:
        table = model.__table__.name  # type: ignore[attr-defined]
        cols = list(rows[0])
        pg = session.get_bind().dialect.name == "postgresql"
        marks = ", ".join(f"%({c})s" if pg else f":{c}" for c in cols)
        sql = (
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) "  # noqa: S608 - our own names
            f"ON CONFLICT ({', '.join(key)}) DO NOTHING"
        )
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, list(rows))
            return int(cursor.rowcount or 0)
        finally:
            cursor.close()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(list(rows)).on_conflict_do_nothing(index_elements=list(key))
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # a deleted or overwritten value (a plaintext row sealed by migration 0010, a payload
            # released after batching) is zeroed in the file, not left in a free page; WAL frames
            # holding it are overwritten at checkpoints (see Database.checkpoint)
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


class Database:
    """An engine and a session factory for one database URL.

    ``crypt`` is the field encryption of its citizen-data columns (:mod:`core.sealing`): every
    session carries it in ``session.info["crypt"]``. :func:`core.runtime.open_database` passes the
    settings' one; without it, reading or writing a sealed column is refused.
    """

    def __init__(self, url: str, *, crypt: FieldCrypt | None = None, **engine_kwargs: Any) -> None:
        self.url = url
        self.crypt = crypt
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info={"crypt": crypt})

    def checkpoint(self) -> None:
        """SQLite: move the WAL into the database file and truncate it, so no frame of an earlier
        page version (a plaintext value since overwritten) stays in the ``-wal`` file."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseError(
                f"database {self.safe_url} is not reachable: {exc.orig}. "
                "Check TONGBAN_DATABASE_URL or start the server.",
                code="DATABASE_UNREACHABLE",
            ) from exc

    def current_revision(self) -> str | None:
        """The Alembic revisions the database is at, sorted and comma separated (None: not migrated)."""
        if "alembic_version" not in inspect(self.engine).get_table_names():
            return None
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        return ",".join(sorted(str(r) for r in rows)) or None

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()
