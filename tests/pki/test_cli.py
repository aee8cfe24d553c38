"""``tongban pki``: the commands, their JSON and exit codes (in-process), and ``serve`` as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import httpx
import pytest
from typer.testing import CliRunner

from core.net import free_port
from core.timestamp import TimestampClient
from tests.pki.conftest import PASSPHRASE
from tongban.cli import app

Openssl = Callable[..., CompletedProcess[str]]


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _templates: dict[str, Path]
) -> Callable[..., tuple[int, str]]:
    """Run ``tongban ARGS`` in-process on a copy of the session's initialised data dir."""
    shutil.copytree(_templates["pki"], tmp_path / "var")
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", PASSPHRASE)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        """Exit code and stdout (JSON); on failure stdout and stderr (the message)."""
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout if result.exit_code == 0 else result.output

    return run


def test_pki_commands_and_exit_codes(cli: Callable[..., tuple[int, str]], tmp_path: Path) -> None:
    code, out = cli("pki", "show", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["sample"] is True and len(doc["seals"]) == 15
    seal = next(s for s in doc["seals"] if s["department"] == "dayi-scjg")
    assert seal["uscc"] == "11510129008589710X" and seal["seal"]["state"] == "current"

    code, out = cli("pki", "init", "--json")
    assert code == 0 and "present" in json.loads(out)["steps"][-1]

    code, out = cli("pki", "rotate-seal", "dayi-scjg", "--json")
    assert code == 0, out
    rotated = json.loads(out)
    assert rotated["generation"] == 2 and rotated["previous_serial"] == seal["seal"]["serial"]

    code, out = cli("pki", "revoke-cert", seal["seal"]["serial"], "--reason", "superseded", "--json")
    assert code == 0, out
    revoked = json.loads(out)
    assert (
        revoked["reason"] == "superseded"
        and not revoked["already_revoked"]
        and revoked["crl"]["revoked"] == 1
    )
    code, out = cli("pki", "revoke-cert", seal["seal"]["serial"], "--json")
    assert code == 0 and json.loads(out)["already_revoked"] is True

    code, out = cli("pki", "export-trust", "--out", str(tmp_path / "trust"), "--json")
    assert code == 0 and set(json.loads(out)) >= {"root.pem", "issuing.pem", "tsa.pem", "issuing.crl.pem"}
    code, out = cli("pki", "crl", "--out", str(tmp_path / "now.crl.pem"), "--json")
    assert code == 0 and json.loads(out)["revoked"] == 1
    assert (tmp_path / "now.crl.pem").read_bytes().startswith(b"-----BEGIN X509 CRL-----")

    # input errors: exit 2 with what to do
    code, out = cli("pki", "rotate-seal", "no-such-dept")
    assert code == 2 and "known: dayi-scjg" in out
    code, out = cli("pki", "revoke-cert", "ABC123")
    assert code == 2 and "PKI_UNKNOWN_CERTIFICATE" in out
    code, out = cli("pki", "revoke-cert", rotated["serial"], "--reason", "because")
    assert code == 2 and "keyCompromise" in out
    code, out = cli("pki", "show")
    assert code == 0 and "dayi-scjg" in out and "revoked" in out


@pytest.mark.tools
def test_timestamp_command_token_verifies_with_openssl(
    cli: Callable[..., tuple[int, str]], tmp_path: Path, openssl: Openssl
) -> None:
    data = tmp_path / "receipt.json"
    data.write_text('{"batch": "510129-0001", "rows": 3}', encoding="utf-8")
    code, out = cli("pki", "timestamp", str(data), "--out", str(tmp_path / "t.der"), "--json")
    assert code == 0, out
    cli("pki", "export-trust", "--out", str(tmp_path / "trust"))
    trust = tmp_path / "trust"
    done = openssl(
        "ts", "-verify", "-data", data, "-in", tmp_path / "t.der", "-token_in",
        "-CAfile", trust / "root.pem", "-untrusted", trust / "issuing.pem",
    )  # fmt: skip
    assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stdout + done.stderr
    code, out = cli(
        "pki", "timestamp", str(data), "--out", str(tmp_path / "u.der"), "--url", "http://127.0.0.1:9/x"
    )
    assert code == 2 and "TIMESTAMP_UNAVAILABLE" in out


def test_pki_before_init_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", PASSPHRASE)
    from migrations import runner

    (tmp_path / "fresh").mkdir()
    runner.upgrade(f"sqlite:///{tmp_path / 'fresh' / 'tongban.db'}")
    result = CliRunner().invoke(app, ["pki", "show", "--json"])
    assert result.exit_code == 2 and "tongban pki init" in result.output


@pytest.mark.integration
def test_serve_runs_as_a_process(tmp_path: Path, _templates: dict[str, Path]) -> None:
    shutil.copytree(_templates["pki"], tmp_path / "var")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")},
        "TONGBAN_DATA_DIR": str(tmp_path / "var"),
        "TONGBAN_KEYS__PASSPHRASE": PASSPHRASE,
    }
    log = tmp_path / "serve.log"
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tongban", "pki", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"tongban pki serve exited {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                crl = httpx.get(f"http://127.0.0.1:{port}/pki/crl/issuing.crl", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"tongban pki serve did not answer: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        assert crl.status_code == 200 and "max-age=" in crl.headers["cache-control"]
        with TimestampClient(url=f"http://127.0.0.1:{port}/pki/tsa") as client:
            token = client.stamp(b"tongban")
        assert token.tsa_certificate is not None
    finally:
        proc.terminate()
        proc.wait(timeout=20)
