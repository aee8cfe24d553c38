"""Verifying a license file: the file's own evidence (``_verify``) and the registry's word.

:func:`verify_license` returns a :class:`~licenses._report.VerificationReport`; the license is
valid only when the report has no reasons. :func:`verify_license_strict` raises
:class:`~licenses.errors.VerificationFailed` instead, so a caller cannot forget to look.

Registry checks, after the file checks: the identifier (ZZBS) read from the certified revision is
registered (``unknown_license``); the registry's SHA-256 of the certified revision and its type
and holder match the file (``registry_mismatch``); the status is 01 有效 (``status_not_valid``, with
the status in the report).

Validity (``licenses.validity``), whatever the registry status: the moment judged — ``at``, by
default the time of verification — after the end of validity (有效期截止日期, ``ZZYXQJZRQ`` of the
certified metadata) gives ``license_expired`` with the end date; before its start, or before the
license was signed, ``not_yet_valid``. With an explicit ``at`` the registry status is the one in
force at that moment (from the status history), so an auditor's "was it valid on that day?" gets
that day's answer.

What the registry checks need is :class:`LicenseLookup` — a ``find(license_id)`` that returns a
:class:`RegisteredLicense` or None. :class:`~licenses.LicenseRegistry` is one; this module never
imports it (the registry imports this one to offer ``registry.verify``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from licenses import _report as R
from licenses._face import Holder
from licenses._pades import Trust
from licenses._report import VerificationReport
from licenses._verify import FileFindings, check_file
from licenses.errors import VerificationFailed
from licenses.validity import CN_TZ, status_at, validity_problem

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


def judge_validity(report: VerificationReport, found: FileFindings, at: datetime) -> None:
    """``license_expired`` / ``not_yet_valid`` from the certified metadata, at the moment ``at``."""
    meta = found.metadata or {}
    signed_at = found.signing_time
    if signed_at is None and meta.get("ZZQZSJ"):
        try:
            signed_at = datetime.fromisoformat(str(meta["ZZQZSJ"]))
        except ValueError:
            signed_at = None
    until = meta.get("ZZYXQJZRQ") or None
    report.validity = {
        "from": meta.get("ZZYXQQSRQ"),
        "until": until,
        "at": at.astimezone(CN_TZ).isoformat(timespec="seconds"),
    }
    problem = validity_problem(meta.get("ZZYXQQSRQ"), until, at, signed_at=signed_at)
    report.checks["validity"] = {**report.validity, "ok": problem is None}
    if problem is not None:
        report.fail(*problem)


def registry_status(registry: Any, view: RegisteredLicense, at: datetime | None) -> str:
    """The registry's status now, or — for an explicit moment — the one its history had then."""
    if at is None:
        return view.status
    history = getattr(registry, "status_history", None)
    if history is None:
        return view.status
    then = status_at(history(view.license_id), at)
    return then if then is not None else "—"


async def async_verify_license(
    pdf: bytes,
    *,
    trust: Trust,
    registry: LicenseLookup | None,
    now: datetime | None = None,
    at: datetime | None = None,
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
    judge_validity(report, found, at or now or datetime.now(UTC))
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
    status = registry_status(registry, view, at)
    report.checks["registry"] = {
        "registered": True,
        "status": view.status,
        "status_at_moment": status,
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
    if status != "01":
        if status == view.status:
            report.fail(R.STATUS_NOT_VALID, f"registry status {view.status} {view.status_name}")
        else:
            report.fail(
                R.STATUS_NOT_VALID,
                f"registry status at {at.isoformat() if at else 'the moment'}: {status} (now {view.status})",
            )
    return report


def verify_license(
    pdf: bytes,
    *,
    trust: Trust,
    registry: LicenseLookup | None,
    now: datetime | None = None,
    at: datetime | None = None,
) -> VerificationReport:
    """Check a license file end to end; see the module docstring. Never raises on a bad file."""
    return asyncio.run(async_verify_license(pdf, trust=trust, registry=registry, now=now, at=at))


def verify_license_strict(
    pdf: bytes,
    *,
    trust: Trust,
    registry: LicenseLookup | None,
    now: datetime | None = None,
    at: datetime | None = None,
) -> VerificationReport:
    """Like :func:`verify_license`, but raises :class:`VerificationFailed` unless the license is valid."""
    report = verify_license(pdf, trust=trust, registry=registry, now=now, at=at)
    if not report.valid:
        raise VerificationFailed(report)
    return report
