"""The shape of the repository: import names resolve here, every module says what it owns."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "contracts",
    "core",
    "quality",
    "connectors",
    "licenses",
    "gateway",
    "sandbox",
    "tongban",
    "dags",
    "migrations",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_generic_import_names_resolve_to_this_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(ROOT / name), (
        f"`import {name}` resolves to {module.__file__}, not this repository: another package shadows it"
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_every_module_has_a_docstring(name: str) -> None:
    missing = []
    for path in sorted((ROOT / name).rglob("*.py")):
        if "versions" in path.parts or path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if ast.get_docstring(tree) is None and path.stat().st_size > 0:
            missing.append(str(path.relative_to(ROOT)))
    assert missing == [], f"modules without a docstring saying what they own: {missing}"


def test_no_secrets_in_the_repository() -> None:
    """Test PKI is generated at test time: no key files or PEM private keys are committed."""
    pem = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=\s]{64,}-----END")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in files:
        path = ROOT / name
        if not path.is_file():
            continue
        if path.suffix in {".pem", ".key", ".p12", ".pfx"} or (
            path.stat().st_size < 5_000_000 and pem.search(path.read_bytes())
        ):
            offenders.append(name)
    assert offenders == []
