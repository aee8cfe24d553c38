"""Signing material: a role's key (from the key store) with its current certificate and the CA
chain — a department seal, the platform seal, the TSA — refused when the certificate is revoked or
expired; and the in-process timestamp authority, cached, that re-reads its certificate's state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from cryptography import x509

from core.keys.base import Signer
from licenses.pki._context import PkiContext
from licenses.pki._x509 import TSA_POLICY_OID
from licenses.pki.departments import Department
from licenses.pki.errors import CertificateRevoked, PkiError
from licenses.pki.records import iso, normalize_serial
from licenses.pki.tsa import TimestampAuthority

TSA_RECHECK_S = 60.0  # a cached TSA re-reads its certificate's revocation this often


@dataclass(frozen=True)
class SealMaterial:
    """A signing key with its certificate and chain: what a PDF signer needs.

    ``chain`` is (issuing CA, root CA). ``department`` is None for the platform seal and the TSA.
    """

    role: str
    signer: Signer
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    department: Department | None
    generation: int

    @property
    def serial(self) -> str:
        return normalize_serial(self.certificate.serial_number)

    @property
    def key_name(self) -> str:
        return self.signer.name


class Material:
    """Seals and the TSA over the inventory and the key store (thread-safe)."""

    def __init__(self, ctx: PkiContext, *, lock: threading.RLock) -> None:
        self.ctx = ctx
        self._lock = lock
        self._tsa: TimestampAuthority | None = None
        self._tsa_checked = 0.0

    def material(self, role: str, department: Department | None = None) -> SealMaterial:
        """The current key, certificate and chain of ``role``; CertificateRevoked if unusable."""
        rec = self.ctx.inventory.require(role)
        now = self.ctx.now()
        state = rec.state(now)
        if state == "revoked":
            hint = f"`tongban pki rotate-seal {department.code}`" if department else "`tongban pki init`"
            raise CertificateRevoked(
                f"the current certificate of {role} (serial {rec.serial}) was revoked on "
                f"{iso(rec.revoked_at or now)} ({rec.revocation_reason}); issue a new one with {hint}"
            )
        if state == "expired":
            raise CertificateRevoked(
                f"the current certificate of {role} (serial {rec.serial}) expired on {iso(rec.not_after)}",
                code="PKI_CERTIFICATE_EXPIRED",
            )
        if rec.key_name is None:
            raise PkiError(f"no key is held here for {role}", code="PKI_NO_KEY")
        return SealMaterial(
            role=role,
            signer=self.ctx.keys().signer(rec.key_name),
            certificate=rec.certificate,
            chain=self.ctx.inventory.ca_chain(),
            department=department,
            generation=rec.generation,
        )

    def seal(self, department: str) -> SealMaterial:
        """The current seal of a department (code or USCC)."""
        dept = self.ctx.departments.get(department)
        return self.material(f"seal:{dept.code}", dept)

    def tsa(self) -> TimestampAuthority:
        """The in-process TSA (cached; its certificate's revocation is re-read every minute)."""
        with self._lock:
            if self._tsa is None or time.monotonic() - self._tsa_checked > TSA_RECHECK_S:
                material = self.material("tsa")
                if self._tsa is None or self._tsa.certificate != material.certificate:
                    self._tsa = TimestampAuthority(
                        material.signer, material.certificate, material.chain, policy=TSA_POLICY_OID
                    )
                self._tsa_checked = time.monotonic()
            return self._tsa

    def recheck_tsa(self) -> None:
        """Make the TSA re-read its certificate on next use (after a revocation or rotation)."""
        with self._lock:
            self._tsa_checked = 0.0
