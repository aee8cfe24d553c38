"""The key store: signing keys addressed by name and data-encryption keys, behind one interface.

Backends: encrypted PKCS#8 files under the data dir (embedded default) and a PKCS#11 token
(``core.keys.pkcs11_backend``, imported only when ``TONGBAN_KEYS__BACKEND=pkcs11``). Private keys
never leave a :class:`Signer`; nothing here logs or formats key material.
"""

from typing import TYPE_CHECKING, Union

from core.keys.base import KeyStore, Signer
from core.keys.datakeys import DataKey, DataKeyring
from core.keys.file_backend import FileKeyStore, open_keystore, resolve_passphrase

if TYPE_CHECKING:
    from core.keys.pkcs11_backend import Pkcs11KeyStore

AnyKeyStore = Union[FileKeyStore, "Pkcs11KeyStore"]
"""What :func:`open_keystore` returns: both backends offer the same methods."""

__all__ = [
    "AnyKeyStore",
    "DataKey",
    "DataKeyring",
    "FileKeyStore",
    "KeyStore",
    "Signer",
    "open_keystore",
    "resolve_passphrase",
]
