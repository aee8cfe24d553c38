"""``tongban keys rotate-data-key``: after a rotation every sealed value of every sealed column is
under the new field key and opens to what it was, the blind indexes are unchanged and holder
search answers as before; a rotation interrupted after its first committed batch is finished by
``--resume`` (no second new key), with the same end state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from core import failpoints
from core.runtime import fieldcrypt
from core.sealing import AFTER_BATCH, SEALED, row_key
from tests.licenses.conftest import LicEnv, business_request, make_env, property_request
from tongban.cli import app

Sealed = dict[tuple[str, str, object], tuple[str, str]]  # (table, column, pk) -> (key id, value)


def _sealed_values(env: LicEnv) -> Sealed:
    crypt = fieldcrypt(env.settings)
    out: Sealed = {}
    with env.db.engine.connect() as conn:
        for c in SEALED:
            cols = ", ".join(dict.fromkeys([c.pk, *c.key, c.column]))
            q = f"SELECT {cols} FROM {c.table} WHERE {c.column} IS NOT NULL"
            for r in conn.execute(text(q)):
                m = r._mapping
                token = str(m[c.column])
                rk = row_key(*(m[k] for k in c.key))
                value = crypt.open(token, table=c.table, column=c.column, row_key=rk)
                out[(c.table, c.column, m[c.pk])] = (crypt.key_id_of(token), value)
    return out


def _blind(env: LicEnv) -> list[tuple[object, ...]]:
    with env.db.engine.connect() as conn:
        return [
            *conn.execute(text("SELECT id, holder_bidx, uniqueness_hash FROM licenses ORDER BY id")),
            *conn.execute(text("SELECT id, code_bidx FROM license_holders ORDER BY id")),
        ]


def _search(env: LicEnv, holders: list[tuple[str, str]]) -> list[list[str]]:
    return [[v.license_id for v in env.registry.find_by_holder(c, t)] for c, t in holders]


def _rotate(env: LicEnv, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", env.settings.keys.passphrase.get_secret_value())  # type: ignore[union-attr]
    result = CliRunner().invoke(app, ["keys", "rotate-data-key", "--batch", "2", "--json", *args])
    return result.exit_code, result.output


HOLDERS: list[tuple[str, str]] = []


@pytest.fixture
def env(tmp_path: Path) -> LicEnv:
    env = make_env(tmp_path / "var")
    reqs = [property_request(f"510129001001GB00001F{i:04d}", owners=2) for i in range(1, 4)]
    reqs += [business_request() for _ in range(3)]
    for r in reqs:
        env.registry.issue(r)
    HOLDERS[:] = sorted({(h.code, h.code_type) for r in reqs for h in r.holders})
    return env


@pytest.mark.parametrize("interrupted", [False, True], ids=["whole", "interrupted-then-resumed"])
def test_rotation_moves_every_sealed_value_to_the_new_key(
    env: LicEnv, monkeypatch: pytest.MonkeyPatch, interrupted: bool
) -> None:
    crypt = fieldcrypt(env.settings)
    before = _sealed_values(env)
    old_kid = crypt.current_key_id()
    assert {kid for kid, _v in before.values()} == {old_kid}
    tables = {t for t, _c, _pk in before}
    assert {"licenses", "license_holders", "domain_events"} <= tables
    holders = list(HOLDERS)
    assert len(holders) == 3 * 2 + 3
    searched, blind = _search(env, holders), _blind(env)
    assert all(len(found) == 1 for found in searched)

    if interrupted:
        failpoints.enable(AFTER_BATCH, "1*raise")  # the first batch committed, then a "crash"
        try:
            code, out = _rotate(env, monkeypatch)
        finally:
            failpoints.disable(AFTER_BATCH)
        assert code != 0 and "FAILPOINT" in out
        new_kid = crypt.current_key_id()
        assert new_kid != old_kid
        halfway = _sealed_values(env)
        kids = [kid for kid, _v in halfway.values()]
        assert kids.count(new_kid) == 2 * 3  # one batch of 2 rows of licenses, 3 sealed columns each
        assert kids.count(old_kid) == len(kids) - 6
        assert {k: v for k, (_kid, v) in halfway.items()} == {k: v for k, (_kid, v) in before.items()}
        assert _search(env, holders) == searched  # still answers while half rotated
        code, out = _rotate(env, monkeypatch, "--resume")
        assert code == 0, out
        doc = json.loads(out)
        assert doc["rotated"] is False and doc["key_id"] == new_kid  # no second new key
    else:
        code, out = _rotate(env, monkeypatch)
        assert code == 0, out
        doc = json.loads(out)
        assert doc["rotated"] is True and doc["previous_key_id"] == old_kid
        new_kid = doc["key_id"]
        assert new_kid != old_kid and crypt.current_key_id() == new_kid

    after = _sealed_values(env)
    assert after.keys() == before.keys()
    assert {kid for kid, _v in after.values()} == {new_kid}
    assert {k: v for k, (_kid, v) in after.items()} == {k: v for k, (_kid, v) in before.items()}
    assert _blind(env) == blind  # the blind-index key is not rotated: look-ups keep their values
    assert _search(env, holders) == searched
    assert env.registry.get(searched[0][0]).holders  # the ORM opens the rows under the new key
    code, out = _rotate(env, monkeypatch, "--resume")  # nothing left to do
    assert code == 0 and all(n == 0 for n in json.loads(out)["resealed"].values())
