"""PKI and time for e-licenses: certificate hierarchy, department seals, CRLs and the RFC 3161 TSA.

Public API (everything else in this package is private)::

    pki = open_pki(settings)                   # Pki over the settings' database and key store
    pki.init() -> list[str]                    # idempotent: sample CA (样例 TEST), CRLs, TSA, seals
    pki.seal("dayi-scjg") -> SealMaterial      # .signer, .certificate, .chain (issuing, root), .department
    pki.platform_seal() -> SealMaterial        # the platform's seal (annotated copies, receipts)
    pki.trust_roots() -> [root]; pki.ca_chain() -> (issuing, root)
    pki.crl("issuing") -> CrlInfo              # .der, .pem, .number, .this_update, .next_update
    pki.tsa() -> TimestampAuthority            # in-process RFC 3161 TSA (a core.timestamp Responder)
    pki.rotate_seal(dept) -> SealMaterial; pki.revoke(serial, reason) -> RevocationResult
    pki.export_trust(dir) -> {name: path}; pki.status() -> dict
    pki.import_ca(root, issuing, issuing_key=...); pki.import_certificate(role, cert, key=...)
    timestamp_client(settings) -> core.timestamp.TimestampClient   # TSA URL if set, else in-process
    register_in_process_tsa(settings)          # make core.timestamp.client_from_settings work in-process
    check_pki(settings) -> core.health.Check   # for `tongban doctor`

The HTTP routes (CRL with caching headers, CA certificates, TSA) live in ``gateway/pki_routes.py``;
the URLs in the certificates are :data:`CRL_PATH`, :data:`CERT_PATH`, :data:`TSA_PATH` below
``settings.pki.public_base_url``.
"""

from __future__ import annotations

from core.settings import Settings
from core.timestamp import TimestampClient, register_local_responder
from licenses.pki._x509 import (
    CERT_PATH,
    CRL_PATH,
    REASONS,
    SAMPLE_CERT_POLICY_OID,
    SAMPLE_MARK,
    TONGBAN_OID_ARC,
    TSA_PATH,
    TSA_POLICY_OID,
    uscc_of,
)
from licenses.pki.authority import Pki
from licenses.pki.crl import CrlInfo, RevocationResult
from licenses.pki.departments import Department, DepartmentList, load_departments
from licenses.pki.errors import (
    CertificateRevoked,
    ImportRejected,
    PkiError,
    PkiNotInitialised,
    TimestampRequestRejected,
    UnknownCertificate,
    UnknownDepartment,
)
from licenses.pki.health import check_pki
from licenses.pki.material import SealMaterial
from licenses.pki.records import (
    ISSUING_KEY,
    ROOT_KEY,
    TSA_KEY,
    CertificateRecord,
    normalize_serial,
    seal_key_name,
)
from licenses.pki.tsa import TimestampAuthority


def open_pki(settings: Settings) -> Pki:
    """The PKI over the database and key store the settings name (close it, or use ``with``)."""
    return Pki(settings)


def timestamp_client(settings: Settings, pki: Pki | None = None) -> TimestampClient:
    """A timestamp client: ``settings.pki.tsa_url`` when set, else this PKI's in-process TSA."""
    if settings.pki.tsa_url:
        return TimestampClient(url=settings.pki.tsa_url, timeout_s=settings.pki.tsa_timeout_s)
    owner = pki or Pki(settings)
    owner.tsa()  # fail now (not initialised, revoked) rather than at the first token
    return TimestampClient(responder=lambda request: owner.tsa().respond(request))


def register_in_process_tsa(settings: Settings, pki: Pki | None = None) -> Pki:
    """Register this PKI's TSA with ``core.timestamp`` (for code that cannot import ``licenses``)."""
    owner = pki or Pki(settings)
    owner.tsa()
    register_local_responder(lambda request: owner.tsa().respond(request))
    return owner


__all__ = [
    "CERT_PATH",
    "CRL_PATH",
    "ISSUING_KEY",
    "REASONS",
    "ROOT_KEY",
    "SAMPLE_CERT_POLICY_OID",
    "SAMPLE_MARK",
    "TONGBAN_OID_ARC",
    "TSA_KEY",
    "TSA_PATH",
    "TSA_POLICY_OID",
    "CertificateRecord",
    "CertificateRevoked",
    "CrlInfo",
    "Department",
    "DepartmentList",
    "ImportRejected",
    "Pki",
    "PkiError",
    "PkiNotInitialised",
    "RevocationResult",
    "SealMaterial",
    "TimestampAuthority",
    "TimestampRequestRejected",
    "UnknownCertificate",
    "UnknownDepartment",
    "check_pki",
    "load_departments",
    "normalize_serial",
    "open_pki",
    "register_in_process_tsa",
    "seal_key_name",
    "timestamp_client",
    "uscc_of",
]
