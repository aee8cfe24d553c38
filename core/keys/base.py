"""What every key backend shares: the :class:`Signer` and :class:`KeyStore` interfaces, the
in-memory signer and the rule for key names (:func:`check_key_name`)."""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import Certificate

from core.errors import KeyStoreError

PLATFORM_KEY = "platform"  # the platform seal: DQ receipts, annotated copies, anchors
TOKEN_KEY_PREFIX = "token-"  # noqa: S105 - rotating access-token keys, never the legal seal

_KEY_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


def check_key_name(name: str) -> None:
    """Raise :class:`~core.errors.KeyStoreError` (``KEY_NAME``) unless ``name`` is a valid key name."""
    if not _KEY_NAME.match(name):
        raise KeyStoreError(
            f"invalid key name {name!r}: use lowercase letters, digits, '.', '_' or '-'", code="KEY_NAME"
        )


@runtime_checkable
class Signer(Protocol):
    """Something that signs with a private key it does not reveal (ECDSA P-256, SHA-256)."""

    @property
    def name(self) -> str: ...

    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    def sign(self, data: bytes) -> bytes:
        """A DER-encoded ECDSA-SHA256 signature over ``data``."""
        ...


class KeyStore(Protocol):
    """Named signing keys (with an optional certificate beside each)."""

    def create_signing_key(self, name: str, *, exist_ok: bool = False) -> Signer: ...

    def signer(self, name: str) -> Signer: ...

    def has_key(self, name: str) -> bool: ...

    def list_keys(self) -> list[str]: ...

    def certificate(self, name: str) -> Certificate | None: ...

    def store_certificate(self, name: str, cert: Certificate) -> None: ...


class InMemorySigner:
    """A signer over a private key held in memory (loaded once from its backend)."""

    def __init__(self, name: str, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise KeyStoreError(f"key {name!r} is not an ECDSA P-256 key", code="KEY_TYPE")
        self._name = name
        self._key = key

    @property
    def name(self) -> str:
        return self._name

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def private_key_for_pdf_signing(self) -> ec.EllipticCurvePrivateKey:
        """The key object itself, for libraries that need it (pyhanko's SimpleSigner)."""
        return self._key

    def __repr__(self) -> str:  # never show key material
        return f"<InMemorySigner {self._name!r} P-256>"
