"""The field encryption of test databases that are not opened from settings (``Database(url,
crypt=TEST_CRYPT)``): one key folder for every test process on this machine (subprocess workers
open what the test wrote), under a fixed test-only key-encryption key."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from core.db import Database
from core.fieldcrypt import FieldCrypt
from core.keys.datakeys import DataKeyring

KEYS = Path(tempfile.gettempdir()) / f"tongban-test-field-keys-{os.getuid()}"
TEST_CRYPT = FieldCrypt(lambda: DataKeyring(KEYS, hashlib.sha256(b"tongban test KEK").digest()))


def sealed_database(url: str, **kwargs: object) -> Database:
    return Database(url, crypt=TEST_CRYPT, **kwargs)
