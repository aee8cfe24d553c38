"""The ``tongban`` command line: version, init, doctor (exit codes and JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def tongban(*args: str, env: dict[str, str], check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tongban", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


def test_version() -> None:
    out = tongban("--version", env={})
    assert out.returncode == 0 and out.stdout.startswith("tongban ")


def test_run_bench_default_is_a_command() -> None:
    """``./run bench`` with no argument runs ``tongban bench all``: every benchmark in turn."""
    run_script = (Path(__file__).resolve().parents[1] / "run").read_text(encoding="utf-8")
    assert 'tongban bench "${@:-all}"' in run_script
    out = tongban("bench", "all", "--help", env={})
    assert out.returncode == 0, out.stderr
    for name in ("issuance", "quality", "push", "api"):
        assert name in out.stdout


def test_doctor_before_init_says_what_to_do(tmp_path: Path) -> None:
    env = {"TONGBAN_DATA_DIR": str(tmp_path / "var")}
    out = tongban("doctor", "--json", env=env)
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["ok"] is False
    failed = {c["name"]: c["detail"] for c in doc["checks"] if not c["ok"]}
    assert "tongban init" in failed["database"]
    assert "keys" in failed


def test_init_then_doctor_is_healthy_and_init_is_idempotent(tmp_path: Path) -> None:
    env = {"TONGBAN_DATA_DIR": str(tmp_path / "var")}
    first = tongban("init", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert any("created" in s for s in json.loads(first.stdout)["steps"])
    second = tongban("init", "--json", env=env)
    assert second.returncode == 0
    assert not any("platform signing key created" in s for s in json.loads(second.stdout)["steps"])
    doc = tongban("doctor", "--json", env=env)
    assert doc.returncode == 0, doc.stdout
    checks = json.loads(doc.stdout)["checks"]
    assert all(c["ok"] for c in checks), checks
    assert (tmp_path / "var" / "tongban.db").exists()
