"""The production :class:`~licenses._seals.SealProvider` over ``licenses.pki``.

Seals are found by the issuing department's USCC (ZZBFJGDM). The service item catalog of
``contracts`` and the PKI's department list are two data files; when a USCC is known to the catalog
but not to the PKI, the department is matched by its name (and the mismatch logged), so a typo in
one file does not stop issuance silently — an unknown name still raises ``UnknownDepartment``.
"""

from __future__ import annotations

import logging
from typing import Any

from core.settings import Settings
from licenses._pades import Trust
from licenses._seals import ResponderTimeStamper, Seal, http_timestamper
from licenses.errors import UnknownDepartment
from licenses.pki import Pki, SealMaterial

log = logging.getLogger("tongban.licenses")


class PkiSealProvider:
    """Seals, trust and TSA from the PKI the settings name."""

    def __init__(self, settings: Settings, pki: Pki | None = None) -> None:
        self.settings = settings
        self.pki = pki or Pki(settings)

    def _material(self, issuer_code: str) -> SealMaterial:
        try:
            return self.pki.seal(issuer_code)
        except UnknownDepartment:
            from contracts.catalog import load_catalog

            try:
                name = load_catalog().department(issuer_code).name
            except Exception:
                raise UnknownDepartment(
                    f"no seal for issuer {issuer_code}: not in the PKI's department list nor the catalog"
                ) from None
            for dept in self.pki.departments:
                if dept.name == name:
                    log.warning(
                        "issuer %s (%s) is %s in the PKI department list: matched by name",
                        issuer_code,
                        name,
                        dept.uscc,
                    )
                    return self.pki.seal(dept.code)
            raise

    def seal(self, issuer_code: str) -> Seal:
        m = self._material(issuer_code)
        dept = m.department
        name = dept.name if dept is not None else m.certificate.subject.rfc4514_string()
        return Seal(
            issuer_code=issuer_code,
            department_name=name,
            seal_name=dept.seal_name if dept is not None else name,
            key=m.signer,
            certificate=m.certificate,
            chain=m.chain,
            sample=self.pki.is_sample(),
        )

    def trust(self) -> Trust:
        issuing = self.pki.issuing_certificate()
        crls = [self.pki.crl("issuing").der]
        try:
            crls.append(self.pki.crl("root").der)
        except Exception:  # the root key may be offline: its CRL is then published separately
            log.debug("no root CRL available")
        return Trust(roots=self.pki.trust_roots(), intermediates=[issuing], crls=crls)

    def refresh(self) -> None:
        """Re-read the current TSA certificate on next use (after a rotation elsewhere)."""
        self.pki.recheck_tsa()

    def timestamper(self) -> Any:
        if self.settings.pki.tsa_url:
            return http_timestamper(self.settings.pki.tsa_url)
        tsa = self.pki.tsa()
        return ResponderTimeStamper(tsa.respond)
