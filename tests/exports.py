"""Helpers of the export tests (``tests/<package>/test_public_api.py``): a package's public surface
is its ``__all__``, pinned name by name, and ``import <package>`` stays light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys


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


def heavy_imports(package: str, banned: tuple[str, ...]) -> list[str]:
    """The ``banned`` top-level packages that ``import package`` loads in a fresh interpreter."""
    code = (
        "import json, sys\n"
        f"import {package}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(banned)!r}))))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    loaded: list[str] = json.loads(res.stdout.strip().splitlines()[-1])
    return loaded
