"""Helpers for the export tests (like httpx's ``tests/test_exported_members.py``): a package's
public surface is its ``__all__``, pinned by a test, so that it cannot drift silently."""

from __future__ import annotations

import json
import subprocess
import sys
import types


def left_out_of_all(package: types.ModuleType) -> list[str]:
    """Public names defined in ``package`` (or one of its modules) that ``__all__`` does not list.

    Submodules and names brought in from elsewhere (typing, core, third parties) are not surface.
    Call it after every name of ``__all__`` was resolved (a lazy package fills its namespace then).
    """
    root = package.__name__.split(".")[0]
    exported = set(package.__all__)
    missing = []
    for name, value in vars(package).items():
        if name.startswith("_") or name in exported or isinstance(value, types.ModuleType):
            continue
        home = getattr(value, "__module__", None)
        if isinstance(home, str) and (home == root or home.startswith(root + ".")):
            missing.append(name)
    return sorted(missing)


def modules_after_import(module: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules under ``prefixes`` that importing ``module`` loads, in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert res.returncode == 0, res.stderr
    loaded: list[str] = json.loads(res.stdout.strip().splitlines()[-1])
    return loaded
