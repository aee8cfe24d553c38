"""Alembic data migrations on a database that holds rows, on SQLite and PostgreSQL: revision
``0009`` releases the payloads of landed rows that a raw batch already holds (and only those),
and its downgrade leaves a valid table."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from core.fieldcrypt import is_sealed
from migrations import runner
from tests.crypt import TEST_CRYPT


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    admin_url: str = request.getfixturevalue("pg_admin_url")
    name = f"tongban_mig_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _payloads(url: str) -> dict[int, str | None]:
    eng = create_engine(url)
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT id, payload FROM connector_inbound ORDER BY id"))
        got = {int(i): p for i, p in rows}
    eng.dispose()
    return got


def _current(url: str) -> set[str]:
    eng = create_engine(url)
    with eng.connect() as conn:
        got = {str(v) for (v,) in conn.execute(text("SELECT version_num FROM alembic_version"))}
    eng.dispose()
    return got


def test_0009_releases_only_payloads_a_raw_batch_holds(empty_url: str) -> None:
    cfg = runner.alembic_config(empty_url)
    below_0010 = runner.head_revisions() - {"0010"} | {"0003", "0005"}  # what 0010 merges, but 0009
    before = sorted(below_0010 | {"0004", "0007"})
    for rev in before:
        command.upgrade(cfg, rev)
    eng = create_engine(empty_url)
    with eng.begin() as conn:
        for i in range(1, 6):
            peer = "county_a" if i <= 4 else "county_b"
            conn.execute(
                text(
                    "INSERT INTO connector_inbound (id, peer, row_guid, table_name, payload, pulled_at) "
                    "VALUES (:i, :p, :g, 'up_pro_accept', :body, 'now')"
                ),
                {"i": i, "p": peer, "g": f"seq:{i}", "body": f'{{"n": {i}}}'},
            )
        # county_a's rows 1..3 are in a raw batch; its row 4 and county_b's row 5 are not
        conn.execute(
            text(
                "INSERT INTO flow_raw_batches (batch_hash, peer, name, object_key, rows, first_inbound_id, "
                "last_inbound_id, created_at) VALUES (:h, 'county_a', 'a.jsonl', :k, 3, 1, 3, 'now')"
            ),
            {"h": "a" * 64, "k": "b" * 64},
        )
    eng.dispose()
    command.upgrade(cfg, "0009")  # 0010 (after it) would seal the payloads it keeps
    assert _payloads(empty_url) == {1: None, 2: None, 3: None, 4: '{"n": 4}', 5: '{"n": 5}'}
    assert _current(empty_url) == below_0010 | {"0009"}  # 0009 replaced 0004 and 0007
    command.downgrade(cfg, "0004")  # unapplies what descends from 0004: 0009 only
    assert _current(empty_url) == below_0010 | {"0004", "0007"}
    assert _payloads(empty_url) == {1: "", 2: "", 3: "", 4: '{"n": 4}', 5: '{"n": 5}'}
    runner.upgrade(empty_url, crypt=TEST_CRYPT)  # 0009 again, then 0010 seals payloads 4 and 5
    assert _current(empty_url) == runner.head_revisions()  # what `tongban doctor` compares
    sealed = _payloads(empty_url)
    assert sealed[1] is None and sealed[2] is None and sealed[3] is None
    assert all(is_sealed(sealed[i]) for i in (4, 5))
    assert TEST_CRYPT.open(
        str(sealed[4]), table="connector_inbound", column="payload", row_key="county_a/seq:4"
    ) == '{"n": 4}'
