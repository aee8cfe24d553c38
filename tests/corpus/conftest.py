"""The corpus reuses the quality gate's and the licenses' fixtures."""

from tests.licenses.conftest import lic_env
from tests.quality.conftest import sqlite_gate

__all__ = ["lic_env", "sqlite_gate"]
