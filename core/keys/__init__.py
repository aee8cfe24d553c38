"""The key store: signing keys addressed by name and data-encryption keys, behind one interface.

Backends: encrypted PKCS#8 files under the data dir (embedded default) and, later, a PKCS#11
token. Private keys never leave a :class:`Signer`; nothing here logs or formats key material.
"""

from core.keys.base import KeyStore, Signer
from core.keys.datakeys import DataKey, DataKeyring
from core.keys.file_backend import FileKeyStore, open_keystore, resolve_passphrase

__all__ = [
    "DataKey",
    "DataKeyring",
    "FileKeyStore",
    "KeyStore",
    "Signer",
    "open_keystore",
    "resolve_passphrase",
]
