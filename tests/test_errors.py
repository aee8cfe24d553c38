"""One error kernel: every exception class defined in our packages hangs from
:class:`contracts.errors.TongbanError`, inside its own package's tree, with a stable code that is
UPPER_SNAKE and unique, and is drawn in its package's errors module docstring.

Every module of every package is read (AST) for class definitions; the modules that define one are
imported and the classes checked as objects. Airflow-bound modules (the DAGs, the Airflow hook) are
not imported in this tier: they must not define exception classes at all (checked on their source)."""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from pathlib import Path

import pytest

from contracts.errors import CODE_PATTERN, TongbanError
from tests.test_layout import PACKAGES, ROOT

# package -> its base and the module whose docstring draws its tree
TREES = {
    "contracts": ("contracts.errors", "ContractError"),
    "core": ("core.errors", "CoreError"),
    "quality": ("quality.errors", "QualityError"),
    "connectors": ("connectors.errors", "ConnectorError"),
    "licenses": ("licenses.errors", "LicenseError"),
    "pipeline": ("pipeline.errors", "PipelineError"),
    "gateway": ("gateway.errors", "GatewayError"),
}
# the licenses tree is drawn in two docstrings: the PKI branch has its own module
EXTRA_DRAWINGS = {"licenses": ["licenses.pki.errors"]}
BUILTIN_EXCEPTIONS = {
    n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_airflow(tree: ast.Module) -> bool:
    for node in tree.body:
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        if any(n.split(".")[0] == "airflow" for n in names):
            return True
    return False


def _sources() -> list[tuple[str, ast.Module]]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" in path.parts or path.name == "__main__.py":
                continue
            out.append((_module_name(path), ast.parse(path.read_text(encoding="utf-8"))))
    return out


def our_exception_classes() -> list[type[BaseException]]:
    """Every exception class defined at module level in our packages (imported, not guessed)."""
    found: list[type[BaseException]] = []
    for name, tree in _sources():
        top = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        if not top:
            continue
        if _imports_airflow(tree):
            continue  # checked on its source by test_airflow_bound_modules_define_no_exceptions
        module = importlib.import_module(name)
        for cls_name in top:
            obj = getattr(module, cls_name)
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == name:
                found.append(obj)
    return found


CLASSES = our_exception_classes()


def test_the_walk_finds_the_trees() -> None:
    names = {c.__qualname__ for c in CLASSES}
    for expected in (
        "ContractError",
        "CoreError",
        "TimestampRejected",
        "QualityError",
        "ConnectorError",
        "LicenseError",
        "CopyRefused",
        "TimestampRequestRejected",
        "PipelineError",
        "PushIncomplete",
        "ArchiveIncomplete",
        "GatewayError",
        "ClientError",
    ):
        assert expected in names
    assert len(CLASSES) > 80


def test_every_exception_subclasses_the_kernel() -> None:
    outside = [f"{c.__module__}.{c.__qualname__}" for c in CLASSES if not issubclass(c, TongbanError)]
    assert outside == []


def test_every_exception_sits_in_its_own_packages_tree() -> None:
    wrong = []
    for cls in CLASSES:
        package = cls.__module__.split(".")[0]
        if cls is TongbanError:
            continue
        if package not in TREES:
            wrong.append(f"{cls.__module__}.{cls.__qualname__}: {package} has no error tree")
            continue
        module, base = TREES[package]
        if not issubclass(cls, getattr(importlib.import_module(module), base)):
            wrong.append(f"{cls.__module__}.{cls.__qualname__} is not a {base}")
    assert wrong == []


def test_every_code_is_own_unique_and_upper_snake() -> None:
    seen: dict[str, str] = {}
    problems = []
    for cls in CLASSES:
        where = f"{cls.__module__}.{cls.__qualname__}"
        code = cls.__dict__.get("code")
        if not isinstance(code, str):
            problems.append(f"{where} declares no code of its own")
            continue
        if not CODE_PATTERN.fullmatch(code):
            problems.append(f"{where}: {code!r} is not UPPER_SNAKE")
        if code in seen:
            problems.append(f"{where}: {code} is also the code of {seen[code]}")
        seen[code] = where
    assert problems == []


@pytest.mark.parametrize("package", sorted(TREES))
def test_every_tree_is_drawn_in_its_errors_docstring(package: str) -> None:
    module = TREES[package][0]
    drawn = "\n".join(
        importlib.import_module(m).__doc__ or "" for m in [module, *EXTRA_DRAWINGS.get(package, [])]
    )
    missing = [
        c.__qualname__
        for c in CLASSES
        if c.__module__.split(".")[0] == package and not re.search(rf"\b{c.__qualname__}\b", drawn)
    ]
    assert missing == [], f"{module} does not draw {missing}"
    assert "TongbanError" in (importlib.import_module(module).__doc__ or "")


# quality and licenses: their owners' branches name the tree in the package docstring
@pytest.mark.parametrize("package", ["contracts", "core", "connectors", "pipeline", "gateway"])
def test_every_package_docstring_names_its_tree(package: str) -> None:
    module, base = TREES[package]
    doc = importlib.import_module(package).__doc__ or ""
    assert module in doc
    assert base in doc


def test_nested_and_airflow_bound_classes_are_not_exceptions() -> None:
    """Classes this walk does not import (inside functions, or in Airflow-bound modules) must not be
    exceptions: an exception class lives at module level of an importable module."""
    offenders = []
    for name, tree in _sources():
        airflow = _imports_airflow(tree)
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef) or (id(node) in top and not airflow):
                continue
            bases = {ast.unparse(b).split(".")[-1] for b in node.bases}
            if bases & (BUILTIN_EXCEPTIONS | {c.__name__ for c in CLASSES}):
                offenders.append(f"{name}.{node.name}")
    assert offenders == []


def test_the_kernel_checks_codes_and_carries_them() -> None:
    with pytest.raises(TypeError, match="UPPER_SNAKE"):
        type("Bad", (TongbanError,), {"code": "not-snake"})
    from core.errors import StoreError

    err = StoreError("no such object", code="STORE_KEY", zone="raw", key="ab")
    assert err.as_dict() == {"code": "STORE_KEY", "message": "no such object"}
    assert StoreError.code == "STORE_ERROR"
    assert str(err) == "no such object"
