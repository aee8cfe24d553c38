"""What the registry's parts share (private): the database, the object store, the signing
material, the PAdES profile, the verify URL printed in QR codes and the clock. The facade
(:class:`licenses.LicenseRegistry`) builds one and hands it to each part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.db import Database
from core.fieldcrypt import FieldCrypt
from core.sealing import crypt_of
from core.store import ObjectStore
from licenses._pades import Profile
from licenses._signing import SigningMaterial


@dataclass(frozen=True)
class RegistryContext:
    db: Database
    store: ObjectStore
    material: SigningMaterial
    profile: Profile
    verify_url: str
    clock: Callable[[], datetime]

    @property
    def crypt(self) -> FieldCrypt:
        """The field encryption of the registry's database (refused when it has none)."""
        with self.db.sessions() as s:
            return crypt_of(s)
