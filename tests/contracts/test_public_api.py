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
