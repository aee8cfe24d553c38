"""The file key backend: ECDSA P-256 keys as passphrase-encrypted PKCS#8 files.

Layout under the key folder::

    kek.json                  key-encryption key, wrapped under the passphrase (scrypt + AES-GCM)
    signing/<name>.key.pem    encrypted PKCS#8 private key (mode 0600)
    signing/<name>.pub.pem    public key
    signing/<name>.crt.pem    certificate, once the PKI has issued one
    token-current             kid of the current access-token key (keys token-<kid>)
    data/                     wrapped data-encryption keys (see datakeys.py)
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.errors import ConfigError, KeyStoreError
from core.keys.base import TOKEN_KEY_PREFIX, InMemorySigner, check_key_name
from core.keys.datakeys import DataKeyring, _write_private

if TYPE_CHECKING:
    from core.settings import Settings


class FileKeyStore:
    """Signing keys and data keys in a folder, encrypted under one passphrase."""

    def __init__(self, folder: Path, passphrase: bytes) -> None:
        if not passphrase:
            raise ConfigError("the key store passphrase is empty", code="KEYSTORE_PASSPHRASE")
        self.folder = folder
        self._passphrase = passphrase
        self._signers: dict[str, InMemorySigner] = {}
        self._datakeys: DataKeyring | None = None

    def __repr__(self) -> str:
        return f"<FileKeyStore {self.folder}>"

    # -- signing keys -------------------------------------------------------------------------
    def _key_path(self, name: str) -> Path:
        return self.folder / "signing" / f"{name}.key.pem"

    def has_key(self, name: str) -> bool:
        return self._key_path(name).is_file()

    def list_keys(self) -> list[str]:
        return sorted(p.name.removesuffix(".key.pem") for p in (self.folder / "signing").glob("*.key.pem"))

    def create_signing_key(self, name: str, *, exist_ok: bool = False) -> InMemorySigner:
        check_key_name(name)
        if self.has_key(name):
            if exist_ok:
                return self.signer(name)
            raise KeyStoreError(f"key {name!r} already exists", code="KEY_EXISTS")
        key = ec.generate_private_key(ec.SECP256R1())
        self._write_key(name, key)
        signer = InMemorySigner(name, key)
        self._signers[name] = signer
        return signer

    def import_signing_key(self, name: str, key: ec.EllipticCurvePrivateKey) -> InMemorySigner:
        check_key_name(name)
        self._write_key(name, key)
        signer = InMemorySigner(name, key)
        self._signers[name] = signer
        return signer

    def _write_key(self, name: str, key: ec.EllipticCurvePrivateKey) -> None:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        _write_private(self._key_path(name), pem)
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (self.folder / "signing" / f"{name}.pub.pem").write_bytes(pub)

    def signer(self, name: str) -> InMemorySigner:
        if name in self._signers:
            return self._signers[name]
        path = self._key_path(name)
        if not path.is_file():
            raise KeyStoreError(
                f"signing key {name!r} not found in {self.folder}; run `tongban init`", code="KEY_MISSING"
            )
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=self._passphrase)
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(
                f"signing key {name!r} cannot be opened: wrong passphrase or corrupted "
                "file (check TONGBAN_KEYS__PASSPHRASE / _FILE)",
                code="KEY_LOCKED",
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyStoreError(f"key {name!r} is not an EC key", code="KEY_TYPE")
        signer = InMemorySigner(name, key)
        self._signers[name] = signer
        return signer

    def public_key(self, name: str) -> ec.EllipticCurvePublicKey:
        path = self.folder / "signing" / f"{name}.pub.pem"
        if not path.is_file():
            raise KeyStoreError(f"public key {name!r} not found", code="KEY_MISSING")
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise KeyStoreError(f"key {name!r} is not an EC key", code="KEY_TYPE")
        return key

    def certificate(self, name: str) -> x509.Certificate | None:
        path = self.folder / "signing" / f"{name}.crt.pem"
        return x509.load_pem_x509_certificate(path.read_bytes()) if path.is_file() else None

    def store_certificate(self, name: str, cert: x509.Certificate) -> None:
        path = self.folder / "signing" / f"{name}.crt.pem"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    # -- access-token keys (rotating, with a kid) -----------------------------------------------
    def current_token_kid(self) -> str | None:
        pointer = self.folder / "token-current"
        return pointer.read_text().strip() if pointer.is_file() else None

    def rotate_token_key(self) -> str:
        kid = secrets.token_hex(8)
        self.create_signing_key(TOKEN_KEY_PREFIX + kid)
        _write_private(self.folder / "token-current", kid.encode())
        return kid

    def token_signer(self) -> tuple[str, InMemorySigner]:
        kid = self.current_token_kid() or self.rotate_token_key()
        return kid, self.signer(TOKEN_KEY_PREFIX + kid)

    def token_public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        return {
            n.removeprefix(TOKEN_KEY_PREFIX): self.public_key(n)
            for n in self.list_keys()
            if n.startswith(TOKEN_KEY_PREFIX)
        }

    # -- data-encryption keys -------------------------------------------------------------------
    @property
    def datakeys(self) -> DataKeyring:
        if self._datakeys is None:
            self._datakeys = DataKeyring(self.folder / "data", self._load_or_create_kek())
        return self._datakeys

    def _load_or_create_kek(self) -> bytes:
        path = self.folder / "kek.json"
        if path.is_file():
            return self._load_kek(path)
        # first use: one creator across threads and processes (two API workers starting together
        # would otherwise each make a KEK, and the data keys one of them wraps would not open)
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock-kek", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            if path.is_file():
                return self._load_kek(path)
            return self._create_kek(path)

    def _load_kek(self, path: Path) -> bytes:
        doc = json.loads(path.read_text())
        kdf = Scrypt(salt=base64.b64decode(doc["salt"]), length=32, n=doc["n"], r=doc["r"], p=doc["p"])
        try:
            kek: bytes = AESGCM(kdf.derive(self._passphrase)).decrypt(
                base64.b64decode(doc["nonce"]), base64.b64decode(doc["wrapped"]), b"tongban-kek"
            )
        except Exception as exc:
            raise KeyStoreError(
                "the key-encryption key cannot be unwrapped: wrong passphrase", code="KEY_LOCKED"
            ) from exc
        return kek

    def _create_kek(self, path: Path) -> bytes:
        kek, salt, nonce = os.urandom(32), os.urandom(16), os.urandom(12)
        n, r, p = 2**15, 8, 1
        wrap_key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(self._passphrase)
        wrapped = AESGCM(wrap_key).encrypt(nonce, kek, b"tongban-kek")
        doc = {
            "alg": "scrypt+A256GCM",
            "n": n,
            "r": r,
            "p": p,
            "salt": base64.b64encode(salt).decode(),
            "nonce": base64.b64encode(nonce).decode(),
            "wrapped": base64.b64encode(wrapped).decode(),
        }
        _write_private(path, json.dumps(doc).encode())
        return kek


def resolve_passphrase(settings: Settings, *, create: bool = False) -> bytes:
    """The key store passphrase: from settings, else from the secret file (made when ``create``)."""
    if settings.keys.passphrase is not None:
        return settings.keys.passphrase.get_secret_value().encode()
    path = settings.passphrase_path
    if path.is_file():
        return path.read_bytes().strip()
    if not create:
        raise ConfigError(
            f"no key store passphrase: set TONGBAN_KEYS__PASSPHRASE or create {path} "
            "(`tongban init` makes one for the embedded default)",
            code="KEYSTORE_PASSPHRASE",
        )
    _write_private(path, secrets.token_urlsafe(32).encode())
    return path.read_bytes().strip()
