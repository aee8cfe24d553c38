"""Data-encryption keys (AES-256-GCM) wrapped by a key-encryption key, for envelope encryption.

Each purpose (e.g. ``store``) has a current key; rotating makes a new current key and keeps the old
ones readable, so objects written under an old key stay readable without rewriting them.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import KeyStoreError

CURRENT_TTL_S = 2.0


@dataclass(frozen=True)
class DataKey:
    key_id: str
    purpose: str
    key: bytes

    def __repr__(self) -> str:
        return f"<DataKey {self.key_id} purpose={self.purpose}>"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # a unique temporary name: concurrent writers must not rename each other's file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class DataKeyring:
    """Data keys in a folder, each wrapped (AES-GCM) by the key-encryption key ``kek``."""

    def __init__(self, folder: Path, kek: bytes) -> None:
        if len(kek) != 32:
            raise KeyStoreError("key-encryption key must be 32 bytes", code="KEK_INVALID")
        self.folder = folder
        self._kek = AESGCM(kek)
        self._cache: dict[str, DataKey] = {}
        # purpose -> (current key id, when read): the pointer file is re-read after CURRENT_TTL_S, so
        # a rotation by another process is seen within seconds and a seal costs no file read
        self._current: dict[str, tuple[str, float]] = {}

    def _path(self, key_id: str) -> Path:
        return self.folder / f"{key_id}.json"

    def create(self, purpose: str) -> DataKey:
        key_id = f"{purpose}-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        wrapped = self._kek.encrypt(nonce, key, key_id.encode())
        doc = {
            "key_id": key_id,
            "purpose": purpose,
            "created": datetime.now(UTC).isoformat(),
            "alg": "A256GCM",
            "nonce": base64.b64encode(nonce).decode(),
            "wrapped": base64.b64encode(wrapped).decode(),
        }
        _write_private(self._path(key_id), json.dumps(doc).encode())
        _write_private(self.folder / f"current-{purpose}", key_id.encode())
        dk = DataKey(key_id, purpose, key)
        self._cache[key_id] = dk
        self._current[purpose] = (key_id, time.monotonic())
        return dk

    def get(self, key_id: str) -> DataKey:
        if key_id in self._cache:
            return self._cache[key_id]
        path = self._path(key_id)
        if not path.is_file():
            raise KeyStoreError(
                f"data key {key_id!r} not found in {self.folder}; was the key folder restored from backup?",
                code="DATA_KEY_MISSING",
            )
        doc = json.loads(path.read_text())
        try:
            key = self._kek.decrypt(
                base64.b64decode(doc["nonce"]), base64.b64decode(doc["wrapped"]), key_id.encode()
            )
        except Exception as exc:
            raise KeyStoreError(
                f"data key {key_id!r} cannot be unwrapped: wrong key-encryption key or corrupted file",
                code="DATA_KEY_UNWRAP",
            ) from exc
        dk = DataKey(key_id, doc["purpose"], key)
        self._cache[key_id] = dk
        return dk

    def current(self, purpose: str) -> DataKey:
        """The current key of ``purpose``, created on first use."""
        cached = self._current.get(purpose)
        if cached is not None and time.monotonic() - cached[1] < CURRENT_TTL_S:
            return self.get(cached[0])
        pointer = self.folder / f"current-{purpose}"
        if not pointer.is_file():
            # first use: one creator across threads and processes, or two writers could each make
            # their own "current" key (fatal for a key that must stay stable, like the store's
            # address key)
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / f".lock-{purpose}", "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                if not pointer.is_file():
                    return self.create(purpose)
        key_id = pointer.read_text().strip()
        self._current[purpose] = (key_id, time.monotonic())
        return self.get(key_id)

    def rotate(self, purpose: str) -> DataKey:
        return self.create(purpose)

    def key_ids(self, purpose: str | None = None) -> list[str]:
        ids = []
        for p in sorted(self.folder.glob("*.json")):
            doc = json.loads(p.read_text())
            if purpose is None or doc["purpose"] == purpose:
                ids.append(doc["key_id"])
        return ids
