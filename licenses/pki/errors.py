"""The PKI branch of the ``licenses`` exception tree (see ``licenses/errors.py`` for the whole tree).

PkiError (licenses.errors)          CA, seal and platform certificates, CRL, TSA
├── UnknownDepartment (licenses.errors)  a department code / USCC not in the department list
├── PkiNotInitialised               no CA yet: run ``tongban pki init`` (or import one)
├── UnknownCertificate              a serial number this PKI did not issue
├── CertificateRevoked              the seal / TSA / platform certificate asked for is revoked
├── ImportRejected                  an imported key or certificate does not fit
└── TimestampRequestRejected        a TSA request that cannot be granted (carries the RFC 3161 failInfo)
"""

from __future__ import annotations

from licenses.errors import PkiError, UnknownDepartment


class PkiNotInitialised(PkiError):
    code = "PKI_NOT_INITIALISED"


class UnknownCertificate(PkiError):
    code = "PKI_UNKNOWN_CERTIFICATE"


class CertificateRevoked(PkiError):
    code = "PKI_CERTIFICATE_REVOKED"


class ImportRejected(PkiError):
    code = "PKI_IMPORT_REJECTED"


class TimestampRequestRejected(PkiError):
    """A request the TSA refuses; ``fail_info`` is the RFC 3161 PKIFailureInfo bit name."""

    code = "TSA_REQUEST_REJECTED"

    def __init__(self, message: str, *, fail_info: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.fail_info = fail_info


__all__ = [
    "CertificateRevoked",
    "ImportRejected",
    "PkiError",
    "PkiNotInitialised",
    "TimestampRequestRejected",
    "UnknownCertificate",
    "UnknownDepartment",
]
