"""``tongban cases validate / receipt verify / quarantine`` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.keys.base import PLATFORM_KEY
from core.runtime import keystore
from core.settings import Settings
from sandbox.generator import write_case_files
from tongban.cli import app


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from migrations import runner

    data = tmp_path / "var"
    data.mkdir()
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(data))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", "cli-quality-passphrase")
    settings = Settings(data_dir=data, keys={"passphrase": "cli-quality-passphrase"})
    runner.upgrade(settings.db_url)
    keystore(settings, create=True).create_signing_key(PLATFORM_KEY, exist_ok=True)
    return tmp_path


def test_validate_receipt_and_quarantine_commands(cli_env: Path) -> None:
    cli = CliRunner()
    cases = cli_env / "cases.jsonl"
    write_case_files(cases, 300, seed=3, bad_ratio=0.1)
    r = cli.invoke(app, ["cases", "validate", str(cases), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert {"rows", "valid", "held", "invalid", "reasons", "report", "receipt"} <= set(doc)
    assert doc["rows"] == doc["valid"] + doc["held"] + doc["invalid"] == 300 and doc["invalid"] > 0

    ok = cli.invoke(app, ["cases", "receipt", "verify", doc["receipt"], "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["valid"] is True

    token = cli_env / "receipt.jws"
    settings = Settings(data_dir=cli_env / "var", keys={"passphrase": "cli-quality-passphrase"})
    from core.store import open_store

    text = open_store(settings).get_bytes("reports", doc["receipt"].split("/", 1)[1]).decode()
    token.write_text(text[:-3] + ("AAA" if not text.endswith("AAA") else "BBB"))
    bad = cli.invoke(app, ["cases", "receipt", "verify", str(token), "--json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["valid"] is False

    listed = cli.invoke(app, ["cases", "quarantine", "list", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == doc["invalid"]
    first = json.loads(listed.stdout)[0]["id"]
    shown = cli.invoke(app, ["cases", "quarantine", "show", str(first), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == first
    missing = cli.invoke(app, ["cases", "quarantine", "show", "999999"])
    assert missing.exit_code == 2


def test_validate_exit_codes(cli_env: Path) -> None:
    cli = CliRunner()
    garbage = cli_env / "garbage.bin"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xff\xff")
    r = cli.invoke(app, ["cases", "validate", str(garbage), "--json"])
    assert r.exit_code == 0, r.output  # processed: the whole file went to quarantine
    doc = json.loads(r.stdout)
    assert doc["file_quarantined"] is True and doc["invalid"] == doc["rows"] and doc["fault"]["line"] == 1
    nofile = cli.invoke(app, ["cases", "validate", str(cli_env / "nope.jsonl")])
    assert nofile.exit_code == 2
    assert "cannot read" in nofile.output
