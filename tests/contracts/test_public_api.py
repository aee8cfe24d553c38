"""contracts is pure: no file I/O at import, no heavy or sibling imports; its exports are pinned."""

from __future__ import annotations

import json
import subprocess
import sys

import contracts

MODULES = [
    "contracts",
    "contracts.fields",
    "contracts.codes",
    "contracts.rules",
    "contracts.models",
    "contracts.validators",
    "contracts.regions",
    "contracts.calendar",
    "contracts.licensetypes",
    "contracts.catalog",
    "contracts.formats",
    "contracts.schemas",
    "contracts.checks",
    "contracts.errors",
]

PROBE = """
import builtins, io, json, sys
import chinese_calendar, pydantic
from pydantic.plugin._loader import get_plugins
get_plugins()  # pydantic reads installed entry points once; that is the library's, not ours
def _no_io(*a, **k):
    raise AssertionError(f"file I/O at import: {a[:1]}")
builtins.open = _no_io
io.open = _no_io
import importlib
for name in MODULES:
    importlib.import_module(name)
banned = ("sqlalchemy", "pandas", "airflow", "great_expectations", "core", "quality", "connectors",
          "licenses", "gateway", "tongban", "sandbox", "httpx", "zeep", "pyhanko")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in banned)))
"""


def test_importing_contracts_does_no_io_and_pulls_nothing_heavy() -> None:
    code = f"MODULES = {MODULES!r}\n{PROBE}"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []


def test_exported_names() -> None:
    assert sorted(contracts.__all__) == sorted(
        [
            "CASE_TABLES",
            "CHILD_TABLES",
            "RULES",
            "SPEC_VERSION",
            "SYNC_COLUMNS",
            "TABLES",
            "CalendarError",
            "CatalogError",
            "ContractError",
            "EncodingError",
            "FormatError",
            "InvalidCode",
            "SpecError",
            "SupplementError",
            "TongbanError",
            "UnknownYearError",
            "rule",
            "table_spec",
        ]
    )
    for name in contracts.__all__:
        assert hasattr(contracts, name)
    for exc in (contracts.InvalidCode, contracts.UnknownYearError, contracts.EncodingError):
        assert issubclass(exc, contracts.ContractError)
        assert exc.code != contracts.ContractError.code


def test_the_error_kernel_is_here() -> None:
    assert issubclass(contracts.ContractError, contracts.TongbanError)
    assert contracts.TongbanError.code == "TONGBAN_ERROR"


def test_contracts_writes_no_files() -> None:
    """A pure package may read its packaged data and caller-given files, never write one: the case
    generator (which writes FILE, FILE.defects.jsonl, FILE.approvals.jsonl) lives in sandbox. The
    one exception is the developer script ``python -m contracts.schemas`` (never imported)."""
    import ast
    from pathlib import Path

    writers = {"write_text", "write_bytes", "mkdir", "makedirs", "touch", "unlink", "rmtree"}
    found = []
    for path in sorted(Path(contracts.__file__).parent.rglob("*.py")):
        if path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            # open(file, mode) or path.open(mode)
            positional = node.args[0:1] if isinstance(fn, ast.Attribute) else node.args[1:2]
            modes = [a.value for a in positional if isinstance(a, ast.Constant)]
            modes += [
                k.value.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)
            ]
            opens_for_write = name == "open" and any(set(str(m)) & set("wax+") for m in modes)
            if name in writers or opens_for_write:
                found.append(f"{path.name}:{node.lineno} {name}")
    assert found == []
