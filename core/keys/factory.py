"""The key-store factory: the backend the settings name (:func:`open_keystore`).

It sits above both backends, so neither imports the other: ``pkcs11_backend`` delegates data keys
and access-token keys to a :class:`~core.keys.file_backend.FileKeyStore` it is given, and only
this module knows both. The PKCS#11 backend (python-pkcs11) is imported only when the settings
ask for it (``TONGBAN_KEYS__BACKEND=pkcs11``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from core.errors import ConfigError
from core.keys.file_backend import FileKeyStore, resolve_passphrase

if TYPE_CHECKING:
    from core.keys.pkcs11_backend import Pkcs11KeyStore
    from core.settings import Settings

AnyKeyStore = Union[FileKeyStore, "Pkcs11KeyStore"]
"""What :func:`open_keystore` returns: both backends offer the same methods."""


def open_keystore(settings: Settings, *, create: bool = False) -> AnyKeyStore:
    """The key store the settings name: ``file`` (default) or ``pkcs11`` (signing keys on a token)."""
    if settings.keys.backend == "file":
        return FileKeyStore(settings.keys_folder, resolve_passphrase(settings, create=create))
    if settings.keys.backend == "pkcs11":
        from core.keys.pkcs11_backend import Pkcs11KeyStore

        if settings.keys.pkcs11_pin is None:
            raise ConfigError(
                "the PKCS#11 backend needs the token's user PIN: set TONGBAN_KEYS__PKCS11_PIN",
                code="PKCS11_PIN",
            )
        return Pkcs11KeyStore(
            settings.keys.pkcs11_module,
            settings.keys.pkcs11_token_label,
            settings.keys.pkcs11_pin.get_secret_value(),
            files=lambda: FileKeyStore(settings.keys_folder, resolve_passphrase(settings, create=create)),
        )
    raise ConfigError(
        f"unknown key backend {settings.keys.backend!r}; use TONGBAN_KEYS__BACKEND=file or pkcs11",
        code="KEYSTORE_BACKEND",
    )


__all__ = ["AnyKeyStore", "open_keystore"]
