"""``tongban store ls|stat|get|put|verify|sweep|rotate-key`` and the doctor's store check.

The commands run in-process through typer's runner with the settings in the environment, on the
folder backend and (one round trip) on S3 against the moto server. Exit codes: 0 ok, 1 negative
(not found, integrity failure), 2 usage/input.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import ledger
from core.runtime import open_database
from core.settings import Settings
from core.store import RETENTION_STREAM, FolderStore, check_store, open_store
from migrations import runner as migrations
from tongban.cli import app

RESIDENT_ID = "510129199001011238"
CLI = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "TONGBAN_DATA_DIR": str(tmp_path / "var"),
        "TONGBAN_KEYS__PASSPHRASE": "cli-test-" + uuid.uuid4().hex,
        "TONGBAN_STORE__CHUNK_SIZE": "4096",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CLI.invoke(app, ["store", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_put_ls_stat_get_verify_round_trip(env: dict[str, str], tmp_path: Path) -> None:
    batch = tmp_path / "batch.csv"
    batch.write_bytes(("row,id\n" + f"1,{RESIDENT_ID}\n" * 3000).encode())
    code, out, err = run(
        env, "put", "raw", str(batch), "--content-type", "text/csv", "--source", "县窗口", "--json"
    )
    assert code == 0, err
    ref = json.loads(out)
    key = ref["key"]
    assert ref["existed"] is False and ref["encryption"] == "tbse1-a256gcm"
    code, out, _ = run(env, "put", "raw", str(batch), "--json")
    assert code == 0 and json.loads(out)["existed"] is True

    code, out, _ = run(env, "ls", "raw", "--json")
    assert code == 0 and [r["key"] for r in json.loads(out)] == [key]
    code, out, _ = run(env, "ls", "--json")
    totals = {z["zone"]: z["objects"] for z in json.loads(out)["zones"]}
    assert totals == {"raw": 1, "held": 0, "quarantine": 0, "licenses": 0, "reports": 0}
    code, out, _ = run(env, "ls", "raw", "--long")
    assert code == 0 and key in out and "县窗口" in out

    code, out, _ = run(env, "stat", "raw", key, "--json")
    assert (
        code == 0
        and json.loads(out)["source"] == "县窗口"
        and json.loads(out)["size"] == batch.stat().st_size
    )

    target = tmp_path / "out.csv"
    code, _, err = run(env, "get", "raw", key, "--out", str(target))
    assert code == 0, err
    assert target.read_bytes() == batch.read_bytes()
    result = CLI.invoke(app, ["store", "get", "raw", key, "--out", "-"], env=env)
    assert result.exit_code == 0 and result.stdout_bytes == batch.read_bytes()

    code, out, _ = run(env, "verify", "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "checked": 1, "failed": []}


def test_verify_and_get_report_corruption_with_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    batch = tmp_path / "rows.csv"
    batch.write_bytes(b"x" * 20_000)
    _, out, _ = run(env, "put", "quarantine", str(batch), "--json")
    key = json.loads(out)["key"]
    store = FolderStore(Path(env["TONGBAN_DATA_DIR"]) / "store")
    path = store.path_for("quarantine", key)
    data = bytearray(path.read_bytes())
    data[5000] ^= 0x40
    path.write_bytes(bytes(data))

    code, out, _ = run(env, "verify", "quarantine", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and doc["failed"][0]["key"] == key
    assert doc["failed"][0]["code"] == "STORE_INTEGRITY"
    code, out, _ = run(env, "verify", "quarantine", key)
    assert code == 1 and "FAIL" in out
    target = tmp_path / "copy.csv"
    code, _, err = run(env, "get", "quarantine", key, "--out", str(target))
    assert code == 1 and key in err.replace("\n", "") and not target.exists()


def test_usage_errors_exit_2_and_missing_objects_exit_1(env: dict[str, str]) -> None:
    code, _, err = run(env, "stat", "archive", "ab" * 32)
    assert code == 2 and "unknown store zone" in err
    code, _, err = run(env, "stat", "raw", "../../etc/passwd")
    assert code == 2 and "invalid object key" in err
    code, _, err = run(env, "stat", "held", "cd" * 32)
    assert code == 1 and "not found" in err
    code, _, err = run(env, "sweep", "--now", "next tuesday")
    assert code == 2 and "ISO" in err


def test_sweep_deletes_expired_objects_into_the_ledger(env: dict[str, str], tmp_path: Path) -> None:
    settings = Settings(data_dir=Path(env["TONGBAN_DATA_DIR"]))
    settings.data_path.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.db_url)
    batch = tmp_path / "held.json"
    batch.write_bytes(b'{"child": 1}')
    _, out, _ = run(env, "put", "held", str(batch), "--json")
    key = json.loads(out)["key"]
    _, out, _ = run(env, "put", "licenses", str(batch), "--json")
    license_key = json.loads(out)["key"]
    future = (datetime.now(UTC) + timedelta(days=100_000)).isoformat()

    code, out, _ = run(env, "sweep", "--now", future, "--dry-run", "--json")
    assert code == 0 and [d["key"] for d in json.loads(out)["deleted"]] == [key]
    code, out, _ = run(env, "sweep", "--now", future, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["zones"]["held"]["deleted"] == 1 and "licenses" not in doc["zones"]
    code, _, _ = run(env, "stat", "held", key)
    assert code == 1
    code, _, _ = run(env, "stat", "licenses", license_key)
    assert code == 0
    db = open_database(settings)
    try:
        with db.session() as s:
            (entry,) = ledger.entries(s, RETENTION_STREAM)
            assert json.loads(entry.payload)["key"] == key
    finally:
        db.dispose()


def test_rotate_key_keeps_old_objects_readable(env: dict[str, str], tmp_path: Path) -> None:
    first = tmp_path / "a.bin"
    first.write_bytes(b"a" * 10_000)
    _, out, _ = run(env, "put", "held", str(first), "--json")
    old = json.loads(out)
    code, out, _ = run(env, "rotate-key", "--json")
    assert code == 0 and json.loads(out)["data_key"] != old["data_key_id"]
    code, _, _ = run(env, "verify", "held", old["key"])
    assert code == 0


@pytest.mark.integration
def test_cli_on_s3(env: dict[str, str], tmp_path: Path, moto_endpoint: str) -> None:
    s3_env = {
        **env,
        "TONGBAN_STORE__BACKEND": "s3",
        "TONGBAN_STORE__S3_ENDPOINT": moto_endpoint,
        "TONGBAN_STORE__S3_ACCESS_KEY": "testing",
        "TONGBAN_STORE__S3_SECRET_KEY": "testing",
        "TONGBAN_STORE__BUCKET_PREFIX": f"cli{uuid.uuid4().hex[:8]}",
    }
    batch = tmp_path / "rows.csv"
    batch.write_bytes(b"row\n" * 5000)
    code, out, err = run(s3_env, "put", "raw", str(batch), "--json")
    assert code == 0, err
    key = json.loads(out)["key"]
    code, out, _ = run(s3_env, "ls", "raw", "--json")
    assert [r["key"] for r in json.loads(out)] == [key]
    code, out, _ = run(s3_env, "verify", "--json")
    assert code == 0 and json.loads(out)["checked"] == 1


def test_doctor_store_check_on_folder(tmp_path: Path) -> None:
    good = Settings(data_dir=tmp_path / "var")
    check = check_store(good)
    assert check.ok and "writable" in check.detail
    assert open_store(good).ls("raw") is not None
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store folder should be")
    bad = Settings(data_dir=tmp_path / "var", store={"folder": blocker})
    check = check_store(bad)
    assert not check.ok and "TONGBAN_STORE__FOLDER" in check.detail


@pytest.mark.integration
def test_doctor_store_check_on_s3(tmp_path: Path, moto_endpoint: str) -> None:
    from core.net import free_port

    s3 = {"backend": "s3", "s3_access_key": "testing", "s3_secret_key": "testing", "bucket_prefix": "doc"}
    check = check_store(Settings(data_dir=tmp_path, store={**s3, "s3_endpoint": moto_endpoint}))
    assert check.ok and "object lock" in check.detail, check.detail
    dead = f"127.0.0.1:{free_port()}"
    check = check_store(Settings(data_dir=tmp_path, store={**s3, "s3_endpoint": dead}))
    assert not check.ok and "not reachable" in check.detail and "TONGBAN_STORE__S3_ENDPOINT" in check.detail
