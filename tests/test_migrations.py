"""Alembic data migrations on a database that holds rows, on SQLite and PostgreSQL: revision
``0009`` releases the payloads of landed rows that a raw batch already holds (and only those),
and its downgrade leaves a valid table; ``0010`` seals the citizen data of rows written before it
(tokens, blind indexes, keyed uniqueness hashes; holder search finds them), and an upgrade
interrupted after a batch is finished by the next one. After each, the version table equals the
heads (what ``tongban doctor`` compares)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from alembic import command, config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from contracts.validators import make_resident_id
from core import failpoints
from core.db import Database
from core.errors import FailpointHit
from core.fieldcrypt import is_sealed
from core.sealing import AFTER_BATCH, UNIQUENESS_KIND, holder_kind, row_key
from licenses._context import RegistryContext
from licenses.queries import Queries
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


def _beside_0010() -> set[str]:
    """The heads that do not descend from 0010 (later revisions, e.g. 0011, stack on top of it)."""
    script = ScriptDirectory.from_config(runner.alembic_config("sqlite://"))
    return {
        h
        for h in script.get_heads()
        if "0010" not in {r.revision for r in script.iterate_revisions(h, "base")}
    }


def test_0009_releases_only_payloads_a_raw_batch_holds(empty_url: str) -> None:
    cfg = runner.alembic_config(empty_url)
    below_0010 = _beside_0010() | {"0003", "0005"}  # what 0010 merges, but 0009
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
    assert (
        TEST_CRYPT.open(str(sealed[4]), table="connector_inbound", column="payload", row_key="county_a/seq:4")
        == '{"n": 4}'
    )


# --- 0010: citizen data sealed at rest ----------------------------------------------------------

_N = 7  # licenses; batches of 3 make three batches per table (an interruption after the first)


def _resident(i: int) -> str:
    return make_resident_id("510129", date(1980, 1, 1) + timedelta(days=97 * i), 11 + 2 * i)


def _plain_sha(i: int) -> str:
    return hashlib.sha256(f"key values of license {i}".encode()).hexdigest()


def _below_0010(url: str) -> config.Config:
    cfg = runner.alembic_config(url)
    for rev in sorted(_beside_0010() | {"0003", "0005", "0009"}):
        command.upgrade(cfg, rev)
    eng = create_engine(url)
    with eng.begin() as conn:  # rows as a registry before 0010 wrote them: holders in clear
        for i in range(1, _N + 1):
            code = _resident(i)
            conn.execute(
                text(
                    "INSERT INTO licenses (id, license_id, type_code, type_name, issuer_code, issuer_name, "
                    "serial, version, license_no, holder_name, holder_code, holder_code_type, issue_date, "
                    "valid_from, status, status_changed_at, verify_code, certified_sha256, object_key, "
                    "profile, metadata_json, uniqueness_hash, row_version, created_at) VALUES (:i, :lid, "
                    "'t', 'T', 'c', 'C', :i, 1, :i, :name, :code, '111', '2026-01-01', '2026-01-01', "
                    "'01', 'now', 'v', 'h', :ok, 'B-LT', :meta, :uh, 1, 'now')"
                ),
                {
                    "i": i,
                    "lid": f"lic-{i}",
                    "name": f"居民{i}",
                    "code": code,
                    "ok": f"{i:064x}",
                    "meta": json.dumps({"CZZT": f"居民{i}", "CZZTDM": code}, ensure_ascii=False),
                    "uh": _plain_sha(i),
                },
            )
            for pos in (0, 1):
                conn.execute(
                    text(
                        "INSERT INTO license_holders (license_pk, position, name, code, code_type) "
                        "VALUES (:i, :pos, :name, :code, '111')"
                    ),
                    {"i": i, "pos": pos, "name": f"居民{i}-{pos}", "code": _resident(i + 100 * pos)},
                )
    eng.dispose()
    cfg.attributes["crypt"] = TEST_CRYPT
    cfg.attributes["seal_batch"] = 3
    cfg.attributes["progress"] = lambda *_a: None
    return cfg


def _rows(url: str, sql: str) -> list[dict[str, object]]:
    eng = create_engine(url)
    with eng.connect() as conn:
        got = [dict(r._mapping) for r in conn.execute(text(sql))]
    eng.dispose()
    return got


def _licenses(url: str) -> list[dict[str, object]]:
    return _rows(url, "SELECT * FROM licenses ORDER BY id")


def _assert_row_consistent(r: dict[str, object]) -> bool:
    """A license row is wholly sealed (tokens, blind index, keyed hash) or wholly as before."""
    i = int(str(r["id"]))
    if not is_sealed(r["holder_code"]):
        assert r["holder_code"] == _resident(i) and r["holder_bidx"] is None
        assert r["uniqueness_hash"] == _plain_sha(i)
        return False
    assert is_sealed(r["holder_name"]) and is_sealed(r["metadata_json"])
    assert r["holder_bidx"] == TEST_CRYPT.blind(_resident(i), kind=holder_kind("111"))
    assert r["uniqueness_hash"] == TEST_CRYPT.blind(_plain_sha(i), kind=UNIQUENESS_KIND)
    return True


def _assert_sealed_end_state(url: str) -> None:
    assert _current(url) == runner.head_revisions()
    for r in _licenses(url):
        assert _assert_row_consistent(r)
        lid = str(r["license_id"])
        i = int(str(r["id"]))
        opened = {
            c: TEST_CRYPT.open(str(r[c]), table="licenses", column=c, row_key=lid)
            for c in ("holder_name", "holder_code", "metadata_json")
        }
        assert opened["holder_name"] == f"居民{i}" and opened["holder_code"] == _resident(i)
        assert json.loads(opened["metadata_json"])["CZZTDM"] == _resident(i)
    holders = _rows(url, "SELECT * FROM license_holders ORDER BY license_pk, position")
    assert len(holders) == 2 * _N
    for h in holders:
        i, pos = int(str(h["license_pk"])), int(str(h["position"]))
        rk = row_key(i, pos)
        code = TEST_CRYPT.open(str(h["code"]), table="license_holders", column="code", row_key=rk)
        assert code == _resident(i + 100 * pos)
        assert TEST_CRYPT.open(str(h["name"]), table="license_holders", column="name", row_key=rk) == (
            f"居民{i}-{pos}"
        )
        assert h["code_bidx"] == TEST_CRYPT.blind(_resident(i + 100 * pos), kind=holder_kind("111"))
    # the registry's holder search (blind index) finds every holder, first or co-holder
    db = Database(url, crypt=TEST_CRYPT)
    try:
        queries = Queries(cast(RegistryContext, SimpleNamespace(db=db)))
        for i in (1, 4, _N):
            for pos in (0, 1):
                found = queries.find_by_holder(_resident(i + 100 * pos), "111")
                assert [v.license_id for v in found] == [f"lic-{i}"]
                assert found[0].holders[pos].code == _resident(i + 100 * pos)
        assert queries.find_by_holder(_resident(1), "414") == []  # another code type, another holder
    finally:
        db.dispose()


def test_0010_seals_rows_written_before_it(empty_url: str) -> None:
    cfg = _below_0010(empty_url)
    command.upgrade(cfg, "heads")
    _assert_sealed_end_state(empty_url)
    command.upgrade(cfg, "heads")  # nothing left to do
    _assert_sealed_end_state(empty_url)


def test_0010_interrupted_after_a_batch_resumes_on_the_next_upgrade(empty_url: str) -> None:
    cfg = _below_0010(empty_url)
    failpoints.enable(AFTER_BATCH, "1*raise")  # the first batch of licenses committed, then a "crash"
    try:
        with pytest.raises(FailpointHit):
            command.upgrade(cfg, "heads")
    finally:
        failpoints.disable(AFTER_BATCH)
    # autocommit_block committed the schema step and the first batch, not 0010 itself
    assert _current(empty_url) == _beside_0010() | {"0003", "0005", "0009"}
    cols = {c["name"] for c in inspect(create_engine(empty_url)).get_columns("licenses")}
    assert "holder_bidx" in cols
    sealed = [_assert_row_consistent(r) for r in _licenses(empty_url)]
    assert sealed == [True] * 3 + [False] * (_N - 3)  # exactly the first batch, each row whole
    holders = _rows(empty_url, "SELECT code FROM license_holders")
    assert not any(is_sealed(h["code"]) for h in holders)  # the loop stopped at licenses
    command.upgrade(cfg, "heads")  # the next upgrade goes on where it stopped
    _assert_sealed_end_state(empty_url)
