"""Helpers of the export tests (like httpx's ``tests/test_exported_members.py``): a package's public
surface is its ``__all__``, pinned name by name so it cannot drift silently, and ``import <package>``
stays light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types


def check_surface(package: str, expected: str) -> None:
    """``package.__all__`` is exactly the names of ``expected`` (whitespace-separated), and every name
    resolves (lazy ones included) to the object its defining module holds."""
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(expected.split())
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        home = getattr(value, "__module__", None)
        if isinstance(home, str) and home.split(".")[0] == package:
            assert getattr(importlib.import_module(home), name, value) is value, name


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


def _fresh(code: str) -> list[str]:
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert res.returncode == 0, res.stderr
    loaded: list[str] = json.loads(res.stdout.strip().splitlines()[-1])
    return loaded


def heavy_imports(package: str, banned: tuple[str, ...]) -> list[str]:
    """The ``banned`` top-level packages that ``import package`` loads in a fresh interpreter."""
    return _fresh(
        "import json, sys\n"
        f"import {package}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(banned)!r}))))\n"
    )


def modules_after_import(module: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules under ``prefixes`` that importing ``module`` loads, in a fresh interpreter."""
    return _fresh(
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))\n"
    )
