"""The public surface of ``quality`` is pinned (like httpx's tests/test_exported_members.py), it
loads lazily, and no other package reaches into quality's private names."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import quality

ROOT = Path(__file__).resolve().parents[2]

EXPORTED = [
    "CONTENT_JSONL",
    "GATE_RULES",
    "IMPLEMENTED_RULES",
    "SUITE_VERSION",
    "Batch",
    "BatchUnreadable",
    "CaseFrames",
    "InvariantBroken",
    "Outcome",
    "Outputs",
    "QualityError",
    "QualityGate",
    "QuarantineError",
    "ReceiptCheck",
    "ReceiptInvalid",
    "Resubmission",
    "RowVerdict",
    "Split",
    "StoredObject",
    "SuiteError",
    "SuiteExecutionError",
    "SuiteRunner",
    "SweepResult",
    "case_frames",
    "check_approval",
    "check_status_change",
    "gx_import_seconds",
    "list_quarantine",
    "plan_all",
    "plan_table",
    "reason",
    "resubmit",
    "shared_runner",
    "show_quarantine",
    "split_frames",
    "split_rows",
    "suite_hash",
    "validate_batch",
    "verify_receipt",
]


def test_exported_members() -> None:
    assert sorted(quality.__all__) == sorted(EXPORTED)
    assert len(set(quality.__all__)) == len(quality.__all__)
    for name in quality.__all__:
        member = getattr(quality, name)
        module = getattr(member, "__module__", None)
        if module is not None and module.startswith("quality"):
            assert not module.split(".")[-1].startswith("_"), (name, module)  # defined where it is public
    for exc in ("BatchUnreadable", "InvariantBroken", "QuarantineError", "ReceiptInvalid", "SuiteError"):
        cls = getattr(quality, exc)
        assert issubclass(cls, quality.QualityError) and cls.code != quality.QualityError.code


def test_the_gate_module_names_are_the_package_names() -> None:
    import quality.gate

    for name in quality.gate.__all__:
        assert getattr(quality.gate, name) is getattr(quality, name), name


def test_importing_quality_is_light() -> None:
    probe = (
        "import json, sys\n"
        "import quality, quality.errors\n"
        "heavy = ('pandas', 'numpy', 'great_expectations', 'sqlalchemy', 'quality.gate', 'core')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy)))\n"
    )
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []


def _private_quality_imports(source: str) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "quality":
            parts = node.module.split(".")
            bad += [node.module for p in parts if p.startswith("_")]
            bad += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            bad += [a.name for a in node.names if a.name.split(".")[0] == "quality" and "._" in a.name]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in ("quality", "K")
        ):
            bad.append(f"{node.value.id}.{node.attr}")
    return bad


def test_no_other_package_imports_private_names_of_quality() -> None:
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("quality", ".venv", "var", "build") or rel == Path(__file__).relative_to(ROOT):
            continue
        problems += [f"{rel}: {name}" for name in _private_quality_imports(path.read_text(encoding="utf-8"))]
    assert problems == []


def test_the_private_import_check_flags_what_it_should() -> None:
    assert _private_quality_imports("from quality.gate import _runner\n") == ["quality.gate._runner"]
    assert _private_quality_imports("from quality._holds import Holds\n") == ["quality._holds"]
    assert _private_quality_imports("from quality import vectorized as K\nK._member(a, b)\n") == ["K._member"]
    assert _private_quality_imports("from quality import QualityGate\nfrom quality.gate import Batch\n") == []
