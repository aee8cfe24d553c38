"""Verifying a license file: the file's own evidence (``_verify``) and the registry's word.

:func:`verify_license` returns a :class:`~licenses._report.VerificationReport`; the license is
valid only when the report has no reasons. :func:`verify_license_strict` raises
:class:`~licenses.errors.VerificationFailed` instead, so a caller cannot forget to look.

Registry checks, after the file checks: the identifier (ZZBS) read from the certified revision is
registered (``unknown_license``); the registry's SHA-256 of the certified revision and its type
and holder match the file (``registry_mismatch``); the status is 01 有效 (``status_not_valid``, with
the status in the report).

What the registry checks need is :class:`LicenseLookup` — a ``find(license_id)`` that returns a
:class:`RegisteredLicense` or None. :class:`~licenses.LicenseRegistry` is one; this module never
imports it (the registry imports this one to offer ``registry.verify``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from licenses import _report as R
from licenses._face import Holder
from licenses._pades import Trust
from licenses._report import VerificationReport
from licenses._verify import check_file
from licenses.errors import VerificationFailed

# pyhanko logs every failed path build with a traceback: the report already says it
for _name in ("pyhanko.sign.validation.generic_cms", "pyhanko_certvalidator", "pyhanko.sign.general"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


class RegisteredLicense(Protocol):
    """What the registry says about one identifier (a :class:`~licenses.LicenseView` is one)."""

    @property
    def license_id(self) -> str: ...
    @property
    def type_code(self) -> str: ...
    @property
    def issuer_code(self) -> str: ...
    @property
    def holders(self) -> Sequence[Holder]: ...
    @property
    def version(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def status_name(self) -> str: ...
    @property
    def certified_sha256(self) -> str: ...


class LicenseLookup(Protocol):
    """What verification needs from a registry (a :class:`~licenses.LicenseRegistry` is one)."""

    def find(self, license_id: str) -> RegisteredLicense | None: ...


async def async_verify_license(
    pdf: bytes, *, trust: Trust, registry: LicenseLookup | None, now: datetime | None = None
) -> VerificationReport:
    found = await check_file(pdf, trust, now=now)
    report = VerificationReport(
        reasons=list(found.reasons),
        notes=list(found.notes),
        checks=found.checks,
        metadata=found.metadata,
        certified_sha256=found.certified_sha256,
    )
    lid = found.metadata.get("ZZBS") if found.metadata else None
    report.license_id = str(lid) if lid else None
    if R.NOT_A_LICENSE in report.reasons or report.license_id is None:
        return report
    if R.TAMPERED in report.reasons:  # the identifier in a broken file proves nothing: do not look it up
        report.checks["registry"] = None
        return report
    if registry is None:
        report.checks["registry"] = None
        return report
    view = registry.find(report.license_id)
    if view is None:
        report.fail(R.UNKNOWN_LICENSE, f"{report.license_id} is not in the registry")
        report.checks["registry"] = {"registered": False}
        return report
    report.status, report.status_name = view.status, view.status_name
    same_hash = view.certified_sha256 == found.certified_sha256
    same_meta = (
        found.metadata.get("ZZLXDM") == view.type_code
        and found.metadata.get("CZZTDM") == view.holders[0].code
        and found.metadata.get("ZZBFJGDM") == view.issuer_code
    )
    report.checks["registry"] = {
        "registered": True,
        "status": view.status,
        "version": view.version,
        "certified_sha256_matches": same_hash,
        "metadata_matches": same_meta,
        "current_license_id": view.license_id,
    }
    if not (same_hash and same_meta):
        report.fail(
            R.REGISTRY_MISMATCH,
            "the file's certified revision is not the one registered for this identifier",
        )
    if view.status != "01":
        report.fail(R.STATUS_NOT_VALID, f"registry status {view.status} {view.status_name}")
    return report


def verify_license(
    pdf: bytes, *, trust: Trust, registry: LicenseLookup | None, now: datetime | None = None
) -> VerificationReport:
    """Check a license file end to end; see the module docstring. Never raises on a bad file."""
    return asyncio.run(async_verify_license(pdf, trust=trust, registry=registry, now=now))


def verify_license_strict(
    pdf: bytes, *, trust: Trust, registry: LicenseLookup | None, now: datetime | None = None
) -> VerificationReport:
    """Like :func:`verify_license`, but raises :class:`VerificationFailed` unless the license is valid."""
    report = verify_license(pdf, trust=trust, registry=registry, now=now)
    if not report.valid:
        raise VerificationFailed(report)
    return report
