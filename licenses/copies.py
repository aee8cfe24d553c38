"""Annotated copies (加注件, DOMAIN.md §4): a new document certified by the platform, and its check.

Why a new document: an incremental update on top of the original binds nothing — cutting the file
at its first ``%%EOF`` gives back the valid original. So :func:`make_copy`

1. verifies the original (signature, chain, revocation, registry status) and refuses to copy a
   license that is not valid;
2. draws the license face again (:func:`licenses.render_face`) with the annotation
   「此件由<平台>提供，仅供办理<事项>使用，有效期至<日期>」 and the recipient in the page content;
3. embeds the license metadata plus a ``copy`` section — format, purpose, recipient, expiry, when
   it was made, a hash of the use cause, and the record of the original's verification at copy
   time — as ``license.json`` (and XMP), the same places a license carries its metadata;
4. certifies it with the **platform seal** (DocMDP P=1, no changes; PAdES B-LT by default).

The copy contains none of the original file's bytes. :func:`verify_document` checks a license or a
copy: for a copy, the platform seal (not a department seal), the registry status of the license
now (``status_not_valid``), that the copy describes the registered license (``registry_mismatch``),
its expiry (``copy_expired``, Asia/Shanghai dates) and, when the presenting department is given,
that it is the recipient (``copy_recipient_mismatch``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from licenses import _report as R
from licenses._fonts import font_set
from licenses._pades import DEFAULT_PROFILE, Profile, SealSigner, Trust
from licenses._pki_seals import PkiSealProvider
from licenses._render import ANNOTATION_BAND, PAGE_H, PAGE_W, SEAL_RED, _Pen
from licenses._render import render as render_face
from licenses._report import VerificationReport
from licenses._verify import check_file
from licenses.errors import LicenseError
from licenses.registry import LicenseRegistry
from licenses.verification import LicenseLookup, async_verify_license

COPY_FORMAT = "tongban-copy/1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


class CopyRefused(LicenseError):
    """The original is not valid (or the request cannot be honoured): no copy is made."""

    code = "COPY_REFUSED"


@dataclass(frozen=True)
class CopySpec:
    license_id: str
    purpose: str  # purpose code (from the recipient's grant)
    purpose_text: str  # the matter printed in the annotation (办理<matter>)
    cause: str  # use cause (用证事由); only its hash goes into the document
    recipient: str  # the recipient department's code (USCC)
    until: date  # last day of use (Asia/Shanghai)


WATERMARK = "加注件 · 仅限指定用途"  # drawn across the page at 12 % opacity (read through)


def annotation_text(platform: str, purpose_text: str, until: date) -> str:
    day = f"{until.year}年{until.month}月{until.day}日"
    return f"此件由{platform}提供，仅供办理{purpose_text}使用，有效期至{day}"


def _draw_annotation(text: str, recipient_line: str) -> Any:
    def draw(c: Any) -> None:
        pen = _Pen(c, font_set())
        c.saveState()
        # a framed band in seal red, in the band every face reserves for it (never over a field)
        x0, y0, x1, y1 = ANNOTATION_BAND
        c.setStrokeColorRGB(*SEAL_RED)
        c.setFillColorRGB(*SEAL_RED)
        c.setLineWidth(1.2)
        c.rect(x0, y0, x1 - x0, y1 - y0, stroke=1, fill=0)
        size = 11.0
        while pen.width(text, size, "annotation") > x1 - x0 - 18 and size > 7:
            size -= 0.5
        mid = (x0 + x1) / 2
        pen.text(mid, y1 - 19, text, size, "annotation", align="center")
        pen.text(mid, y1 - 36, recipient_line, 8.5, "annotation", align="center")
        # a diagonal watermark across the page
        c.setFillColorRGB(0.85, 0.2, 0.2, alpha=0.12)
        c.translate(PAGE_W / 2, PAGE_H / 2)
        c.rotate(35)
        pen.text(0, 0, WATERMARK, 44, "annotation", align="center")
        c.restoreState()

    return draw


def _copy_signer(provider: PkiSealProvider, trust: Trust, profile: Profile, platform: str) -> SealSigner:
    material = provider.pki.platform_seal()
    return SealSigner(
        key=material.signer,
        certificate=material.certificate,
        chain=material.chain,
        trust=trust,
        timestamper=provider.timestamper() if profile != "B-B" else None,
        profile=profile,
        seal_name=f"{platform}加注件专用章",
    )


async def async_make_copy(
    registry: LicenseRegistry,
    provider: PkiSealProvider,
    spec: CopySpec,
    *,
    platform: str,
    profile: Profile = DEFAULT_PROFILE,
    now: datetime | None = None,
) -> bytes:
    """The annotated copy of ``spec.license_id`` (see the module docstring)."""
    now = now or datetime.now(UTC)
    today = now.astimezone(SHANGHAI).date()
    if spec.until < today:
        raise CopyRefused(f"the copy's last day {spec.until} is already past")
    trust = provider.trust()
    original = registry.file(spec.license_id)
    report = await async_verify_license(original, trust=trust, registry=registry, now=now)
    if not report.valid:
        raise CopyRefused(
            f"license {spec.license_id} is not valid ({', '.join(report.reasons)}): no copy is made",
            code="COPY_REFUSED_NOT_VALID",
        )
    view = registry.get(spec.license_id, history=False)
    face = registry.face(spec.license_id)
    meta: dict[str, Any] = dict(view.metadata)
    meta["ZZZT"] = view.status
    meta["copy"] = {
        "format": COPY_FORMAT,
        "license_id": view.license_id,
        "purpose": spec.purpose,
        "purpose_text": spec.purpose_text,
        "recipient": spec.recipient,
        "until": spec.until.isoformat(),
        "made_at": now.isoformat(timespec="seconds"),
        "platform": platform,
        "cause_sha256": hashlib.sha256(spec.cause.encode("utf-8")).hexdigest(),
        "original": {
            "certified_sha256": view.certified_sha256,
            "verified_at": now.isoformat(timespec="seconds"),
            "valid": report.valid,
            "status": report.status,
            "reasons": list(report.reasons),
            "checks": {
                k: report.checks.get(k) for k in ("signature", "chain", "revocation", "timestamp", "registry")
            },
        },
    }
    text = annotation_text(platform, spec.purpose_text, spec.until)
    flat = {k: v for k, v in meta.items() if not isinstance(v, (dict, list))}
    flat.update({f"COPY_{k.upper()}": v for k, v in meta["copy"].items() if not isinstance(v, (dict, list))})
    copy_face = dataclasses.replace(
        face,
        title=face.title,
        metadata=flat,
        metadata_json=json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8"),
    )
    font_set().check(text, "annotation")
    pdf = render_face(copy_face, on_canvas=_draw_annotation(text, f"加注件 · 使用单位代码：{spec.recipient}"))
    signed = await _copy_signer(provider, trust, profile, platform).async_sign(pdf)
    return signed.pdf


def make_copy(
    registry: LicenseRegistry,
    provider: PkiSealProvider,
    spec: CopySpec,
    *,
    platform: str,
    profile: Profile = DEFAULT_PROFILE,
    now: datetime | None = None,
) -> bytes:
    """Synchronous :func:`async_make_copy` (its own event loop)."""
    return asyncio.run(async_make_copy(registry, provider, spec, platform=platform, profile=profile, now=now))


async def async_verify_document(
    pdf: bytes,
    *,
    trust: Trust,
    registry: LicenseLookup | None,
    provider: PkiSealProvider | None = None,
    as_dept: str | None = None,
    now: datetime | None = None,
) -> VerificationReport:
    """Verify a license or an annotated copy; ``kind`` and ``copy`` in the report say which."""
    now = now or datetime.now(UTC)
    found = await check_file(pdf, trust, now=now)
    copy = found.metadata.get("copy") if isinstance(found.metadata, dict) else None
    if not isinstance(copy, dict) or copy.get("format") != COPY_FORMAT:
        return await async_verify_license(pdf, trust=trust, registry=registry, now=now)
    report = VerificationReport(
        kind="copy",
        reasons=list(found.reasons),
        notes=list(found.notes),
        checks=found.checks,
        metadata=found.metadata,
        certified_sha256=found.certified_sha256,
        copy={"purpose": copy.get("purpose"), "recipient": copy.get("recipient"), "until": copy.get("until")},
    )
    lid = found.metadata.get("ZZBS")
    report.license_id = str(lid) if lid else None
    if R.TAMPERED in report.reasons or R.NOT_A_LICENSE in report.reasons:
        return report
    # sealed by the platform, not by a department seal (which could not vouch for a copy)
    if provider is not None:
        platform_cert = provider.pki.platform_seal().certificate
        signer = (found.checks.get("signature") or {}).get("signer")
        if signer != platform_cert.subject.rfc4514_string():
            report.fail(R.UNTRUSTED_ISSUER, "an annotated copy must be sealed by the sharing platform")
    until = copy.get("until")
    try:
        last_day = date.fromisoformat(str(until))
    except ValueError:
        report.fail(R.NOT_A_LICENSE, "the copy carries no valid expiry date")
        return report
    if now.astimezone(SHANGHAI).date() > last_day:
        report.fail(R.COPY_EXPIRED, f"the copy could be used until {last_day}")
    if as_dept is not None and as_dept != copy.get("recipient"):
        report.fail(
            R.COPY_RECIPIENT_MISMATCH,
            f"the copy was made for {copy.get('recipient')}, presented by {as_dept}",
        )
    if registry is None or report.license_id is None:
        return report
    view = registry.find(report.license_id)
    if view is None:
        report.fail(R.UNKNOWN_LICENSE, f"{report.license_id} is not in the registry")
        return report
    report.status, report.status_name = view.status, view.status_name
    original = copy.get("original") or {}
    same = (
        original.get("certified_sha256") == view.certified_sha256
        and found.metadata.get("ZZLXDM") == view.type_code
        and found.metadata.get("ZZBFJGDM") == view.issuer_code
        and found.metadata.get("CZZTDM") == view.holders[0].code
    )
    report.checks["registry"] = {
        "registered": True,
        "status": view.status,
        "describes_registered_license": same,
    }
    if not same:
        report.fail(R.REGISTRY_MISMATCH, "the copy does not describe the license as registered")
    if view.status != "01":
        report.fail(R.STATUS_NOT_VALID, f"registry status {view.status} {view.status_name}")
    return report


def verify_document(
    pdf: bytes,
    *,
    trust: Trust,
    registry: LicenseLookup | None,
    provider: PkiSealProvider | None = None,
    as_dept: str | None = None,
    now: datetime | None = None,
) -> VerificationReport:
    """Synchronous :func:`async_verify_document`. Never raises on a bad file."""
    return asyncio.run(
        async_verify_document(
            pdf, trust=trust, registry=registry, provider=provider, as_dept=as_dept, now=now
        )
    )


class CopyService:
    """Copies and document checks over one registry (build once per process, reuse)."""

    def __init__(
        self, registry: LicenseRegistry, *, platform: str, profile: Profile = DEFAULT_PROFILE
    ) -> None:
        if not isinstance(registry.seals, PkiSealProvider):
            raise LicenseError("annotated copies need the PKI seal provider (the platform seal)")
        self.registry = registry
        self.provider: PkiSealProvider = registry.seals
        self.platform = platform
        self.profile = profile

    def make(self, spec: CopySpec, *, now: datetime | None = None) -> bytes:
        return make_copy(
            self.registry, self.provider, spec, platform=self.platform, profile=self.profile, now=now
        )

    def verify(
        self, pdf: bytes, *, as_dept: str | None = None, now: datetime | None = None
    ) -> VerificationReport:
        return verify_document(
            pdf,
            trust=self.provider.trust(),
            registry=self.registry,
            provider=self.provider,
            as_dept=as_dept,
            now=now,
        )


def open_copy_service(settings: Any, *, registry: LicenseRegistry | None = None) -> CopyService:
    """The copy service over the settings' registry and PKI (platform name from the settings)."""
    from licenses import open_registry

    return CopyService(registry or open_registry(settings), platform=settings.platform_name)
