"""Field-level encryption of citizen data in database columns, and keyed blind indexes.

A citizen identifier, name or phone never lies in clear in a database column or payload:

* :meth:`FieldCrypt.seal` turns a value into a token ``enc1.<key id>.<base64url(nonce | ciphertext
  | tag)>`` — AES-256-GCM under the current data key of purpose ``field`` (envelope: the data key is
  wrapped by the key store's key-encryption key; its id travels with the value, so keys rotate
  without a flag day). The associated data is ``table | column | row key``: a token copied to
  another row, column or table does not open.
* :meth:`FieldCrypt.blind` is the equality index: HMAC-SHA-256 under the ``blind-index`` key (a key
  of its own, never the encryption key) over a normalised value and its kind, so a holder search,
  a uniqueness key or a duplicate check compares indexes, never plaintext. The same value has the
  same index everywhere; nothing about the value can be read from it without the key.
* :meth:`seal_doc` / :meth:`open_doc` seal the personal fields of a JSON document (a case row, a
  license's metadata, an event payload) in place, leaving the other fields readable.

Decryption is refused with :class:`~core.errors.IntegrityError` when a token was altered, moved or
opened under the wrong context — never a silent wrong value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import IntegrityError
from core.keys.datakeys import DataKeyring

FIELD_KEY_PURPOSE = "field"
BLIND_KEY_PURPOSE = "blind-index"
PREFIX = "enc1."
_NONCE = 12


def is_sealed(value: object) -> bool:
    """True for a token made by :meth:`FieldCrypt.seal`."""
    return isinstance(value, str) and value.startswith(PREFIX)


def _aad(table: str, column: str, row_key: str) -> bytes:
    return f"tongban/field/v1|{table}|{column}|{row_key}".encode()


def normalise(value: str) -> str:
    """The form an identifier is indexed in: no surrounding space, upper case (``x`` → ``X``)."""
    return value.strip().upper()


class FieldCrypt:
    """Seals and opens field values, and computes blind indexes, with keys of ``keyring``."""

    def __init__(self, keyring: DataKeyring | Callable[[], DataKeyring]) -> None:
        # a factory defers opening the key store (deriving its key-encryption key) to first use
        self._keyring: DataKeyring | None = keyring if isinstance(keyring, DataKeyring) else None
        self._factory = None if isinstance(keyring, DataKeyring) else keyring
        self._lock = threading.Lock()
        self._blind_key: bytes | None = None
        self._aead: dict[str, AESGCM] = {}

    @property
    def keyring(self) -> DataKeyring:
        if self._keyring is None:
            with self._lock:
                if self._keyring is None:
                    assert self._factory is not None
                    self._keyring = self._factory()
        return self._keyring

    def __repr__(self) -> str:
        return "<FieldCrypt>"

    def _cipher(self, key_id: str) -> AESGCM:
        aead = self._aead.get(key_id)
        if aead is None:
            aead = self._aead[key_id] = AESGCM(self.keyring.get(key_id).key)
        return aead

    def current_key_id(self) -> str:
        return self.keyring.current(FIELD_KEY_PURPOSE).key_id

    def rotate(self) -> str:
        """Make a new current field key; returns its id. Older keys stay readable."""
        return self.keyring.rotate(FIELD_KEY_PURPOSE).key_id

    def seal(self, value: str, *, table: str, column: str, row_key: str, key_id: str | None = None) -> str:
        """The token of ``value`` for (table, column, row key), under the current field key."""
        kid = key_id or self.current_key_id()
        nonce = os.urandom(_NONCE)
        ct = self._cipher(kid).encrypt(nonce, value.encode("utf-8"), _aad(table, column, row_key))
        return f"{PREFIX}{kid}.{base64.urlsafe_b64encode(nonce + ct).decode().rstrip('=')}"

    def open(self, token: str, *, table: str, column: str, row_key: str) -> str:
        """The value of a token; a token that is not one, was altered, or belongs to another row,
        column or table raises :class:`IntegrityError`."""
        kid, blob = self._parse(token)
        try:
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
            plain = self._cipher(kid).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(table, column, row_key))
        except (InvalidTag, ValueError) as exc:
            raise IntegrityError(
                f"sealed value of {table}.{column} (row {row_key}) does not open: altered, moved from "
                "another row, or sealed under another context",
                code="FIELD_UNSEAL_FAILED",
            ) from exc
        return plain.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return self._parse(token)[0]

    def _parse(self, token: str) -> tuple[str, str]:
        if not is_sealed(token):
            raise IntegrityError("value is not a sealed field (enc1.…)", code="FIELD_NOT_SEALED")
        kid, sep, blob = token[len(PREFIX) :].partition(".")
        if not sep or not kid or not blob:
            raise IntegrityError("sealed field is malformed", code="FIELD_NOT_SEALED")
        return kid, blob

    def reseal(self, token: str, *, table: str, column: str, row_key: str) -> str:
        """``token`` under the current field key (rotation); unchanged when it already is."""
        current = self.current_key_id()
        if self.key_id_of(token) == current:
            return token
        value = self.open(token, table=table, column=column, row_key=row_key)
        return self.seal(value, table=table, column=column, row_key=row_key, key_id=current)

    # --- blind indexes ---------------------------------------------------------------------------

    def blind(self, value: str, *, kind: str) -> str:
        """The blind index of ``value`` as a ``kind`` (e.g. a holder code type): 64 hex digits."""
        if self._blind_key is None:
            self._blind_key = self.keyring.current(BLIND_KEY_PURPOSE).key
        msg = f"{kind}|{normalise(value)}".encode()
        return hmac.new(self._blind_key, msg, hashlib.sha256).hexdigest()

    # --- documents ---------------------------------------------------------------------------------

    def seal_doc(
        self, doc: Mapping[str, Any], fields: Iterable[str], *, table: str, row_key: str
    ) -> dict[str, Any]:
        """A copy of ``doc`` whose ``fields`` (those present, as text) are sealed; idempotent."""
        out = dict(doc)
        for name in fields:
            v = out.get(name)
            if v is None or v == "" or is_sealed(v):
                continue
            out[name] = self.seal(str(v), table=table, column=name, row_key=row_key)
        return out

    def open_doc(
        self, doc: Mapping[str, Any], fields: Iterable[str], *, table: str, row_key: str
    ) -> dict[str, Any]:
        """A copy of ``doc`` whose sealed ``fields`` are opened (plain values pass through)."""
        out = dict(doc)
        for name in fields:
            v = out.get(name)
            if is_sealed(v):
                out[name] = self.open(str(v), table=table, column=name, row_key=row_key)
        return out
