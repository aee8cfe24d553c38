"""What the PKI's parts share (private): the settings, the database, the certificate records, the
key store (opened on first use), the department list and the clock. The facade
(:class:`licenses.pki.Pki`) builds one and hands it to each part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.db import Database
from core.keys import AnyKeyStore
from core.settings import Settings
from licenses.pki.departments import DepartmentList
from licenses.pki.records import Inventory


@dataclass(frozen=True)
class PkiContext:
    settings: Settings
    db: Database
    inventory: Inventory
    keys: Callable[[], AnyKeyStore]
    departments: DepartmentList
    now: Callable[[], datetime]
