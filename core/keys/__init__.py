"""The key store: signing keys addressed by name and data-encryption keys, behind one interface.

Backends: encrypted PKCS#8 files under the data dir (embedded default) and a PKCS#11 token
(``core.keys.pkcs11_backend``, imported only when ``TONGBAN_KEYS__BACKEND=pkcs11``). Private keys
never leave a :class:`Signer`; nothing here logs or formats key material.

Modules, each importing only those above it: ``base`` (interfaces, :func:`check_key_name`),
``datakeys``, ``file_backend``, ``pkcs11_backend``, ``factory`` (:func:`open_keystore`, the only
module that knows both backends).
"""

from core.keys.base import PLATFORM_KEY, KeyStore, Signer, check_key_name
from core.keys.datakeys import DataKey, DataKeyring
from core.keys.factory import AnyKeyStore, open_keystore
from core.keys.file_backend import FileKeyStore, resolve_passphrase

__all__ = [
    "PLATFORM_KEY",
    "AnyKeyStore",
    "DataKey",
    "DataKeyring",
    "FileKeyStore",
    "KeyStore",
    "Signer",
    "check_key_name",
    "open_keystore",
    "resolve_passphrase",
]
