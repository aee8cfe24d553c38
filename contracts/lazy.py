"""Lazy package attributes (PEP 562): a package's ``__init__`` names what it exports and where each
name lives, and imports the module only on first use, so ``import <package>`` stays light.

    _LAZY = {"QualityGate": "quality.gate", "render": ("licenses._render", "render_face")}
    __getattr__ = lazy_getattr(__name__, _LAZY)

A value is a module (the attribute has the same name there) or ``(module, attribute)``. The first
lookup stores the attribute on the package, so later ones do not come back here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, table: Mapping[str, str | tuple[str, str]]) -> Callable[[str], Any]:
    """The module-level ``__getattr__`` of ``package`` for the names of ``table``."""

    def __getattr__(name: str) -> Any:
        try:
            target = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module, attr = (target, name) if isinstance(target, str) else target
        value = getattr(importlib.import_module(module), attr)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
