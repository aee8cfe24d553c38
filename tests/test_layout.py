"""The shape of the repository: import names resolve here, every module says what it owns, and
imports point one way (contracts <- core <- quality | connectors | licenses <- pipeline | gateway <-
dags | migrations <- bench <- tongban; sandbox sees contracts only; the product never imports the
sandbox). ``lint-imports`` enforces the same in ``./run lint``; this test reads every import itself,
function-level ones included, so a new upward import fails here too."""

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
    "pipeline",
    "gateway",
    "sandbox",
    "bench",
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


LONG_MODULE = 400  # lines; a longer module says why in its docstring ("Why one module …")


@pytest.mark.parametrize("name", PACKAGES)
def test_a_long_module_says_why_it_is_one(name: str) -> None:
    unexplained = []
    for path in sorted((ROOT / name).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= LONG_MODULE or "versions" in path.parts:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "why one module" not in doc.lower():
            unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == [], f"split these by job, or say in the docstring why each is one: {unexplained}"


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


# rank of each package; an import must go to a lower rank, or to itself
RANKS = {
    "contracts": 0,
    "core": 1,
    "quality": 2,
    "connectors": 2,
    "licenses": 2,
    "pipeline": 3,
    "gateway": 3,
    "dags": 4,
    "migrations": 4,
    "bench": 5,
    "tongban": 6,
}
SANDBOX_MAY_IMPORT = {"contracts"}
MAY_IMPORT_SANDBOX = {"bench", "tongban"}


def imported_packages(source: str) -> set[str]:
    """Top-level names of every import in ``source`` (module level, function level, TYPE_CHECKING)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def layer_violations(package: str, source: str) -> list[str]:
    """Why ``source``, a module of ``package``, breaks the layers (empty: it does not)."""
    ours = set(RANKS) | {"sandbox"}
    bad = []
    for target in sorted(imported_packages(source) & ours - {package}):
        if package == "sandbox":
            if target not in SANDBOX_MAY_IMPORT:
                bad.append(f"sandbox imports {target} (the peers see contracts only)")
        elif target == "sandbox":
            if package not in MAY_IMPORT_SANDBOX:
                bad.append(f"{package} imports sandbox (only the CLI and benchmarks may)")
        elif RANKS[target] >= RANKS[package]:
            kind = "a sibling" if RANKS[target] == RANKS[package] else "upward"
            bad.append(f"{package} imports {target} ({kind})")
    return bad


def test_every_import_points_down_the_layers() -> None:
    problems = []
    for package in [*RANKS, "sandbox"]:
        for path in sorted((ROOT / package).rglob("*.py")):
            for why in layer_violations(package, path.read_text(encoding="utf-8")):
                problems.append(f"{path.relative_to(ROOT)}: {why}")
    assert problems == []


@pytest.mark.parametrize(
    ("package", "source", "flagged"),
    [
        ("gateway", "def f():\n    from migrations import runner\n", True),  # upward, inside a function
        ("bench", "from tongban import setup\n", True),
        ("pipeline", "import gateway.app\n", True),  # siblings never import each other
        ("licenses", "from quality.gate import QualityGate\n", True),
        ("core", "from sandbox.faults import FaultPlan\n", True),
        ("sandbox", "from core.db import Database\n", True),
        ("pipeline", "from licenses import open_registry\nfrom core.db import Database\n", False),
        ("tongban", "from sandbox.server import start\nfrom migrations import runner\n", False),
    ],
)
def test_the_layer_check_flags_what_it_should(package: str, source: str, flagged: bool) -> None:
    assert bool(layer_violations(package, source)) is flagged


def test_every_test_the_threat_model_names_exists() -> None:
    """docs/threat-model.md points each mitigation at its test: a renamed or deleted test fails here."""
    doc = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    refs = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", doc)
    assert len(refs) >= 30
    missing = []
    for path, name in refs:
        source = ROOT / path
        if not source.is_file() or (
            name and not re.search(rf"^(async )?def {name}\(", source.read_text(), re.M)
        ):
            missing.append(f"{path}::{name}" if name else path)
    assert missing == []
