"""Checking a license file on its own (private: raw pyhanko work); the registry part is in ``verification``.

What is checked, in order, each failure mapped to a fixed reason code (``_report``):

0. the file's structure is within the bounds of a license (:func:`structure_refusal`: object,
   signature-field and revision counts; a license has ~50 objects, 2 signature fields and a few
   revisions) — else ``not_a_license`` before any parsing, so one upload cannot tie a worker up;
1. the file parses and has a certification signature in field ``ZZQZ`` with the license metadata
   (``license.json``) inside the certified revision — else ``not_a_license``;
2. the signature's integrity (digest over the byte range, CMS signature, whole revision covered)
   — ``tampered``;
3. the signature timestamp (RFC 3161): intact, and its TSA chains to a trusted root —
   ``timestamp_invalid``; document timestamps (B-LTA) likewise;
4. the seal certificate chains to a trusted root — ``untrusted_issuer``;
5. revocation **as of the signature's timestamp** (point-in-time validation at the TSA's time,
   with the CRLs embedded in the DSS and the current CRLs of our PKI): revoked before →
   ``signer_revoked``; revoked after → still valid, and a note says so. Without a timestamp the
   time of verification counts;
6. only PAdES long-term additions (DSS, document timestamps) after certification —
   ``disallowed_change``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from licenses import _report as R
from licenses._pades import FIELD_NAME, Trust, crl_to_asn1
from licenses._render import ATTACHMENT_NAME

MAX_OBJECTS = 5_000  # indirect objects, counted with those declared inside object streams
MAX_SIGNATURE_FIELDS = 32  # the seal, document timestamps (one per archiving) and room to spare
MAX_REVISIONS = 64  # incremental updates (%%EOF markers)

_OBJ = re.compile(rb"\d+\s+\d+\s+obj\b")
_SIG_FIELD = re.compile(rb"/FT\s*/Sig\b")
_OBJSTM_N = re.compile(rb"/Type\s*/ObjStm\b[^>]{0,200}?/N\s+(\d+)|/N\s+(\d+)[^>]{0,200}?/Type\s*/ObjStm\b")


def structure_refusal(pdf: bytes) -> str | None:
    """Why ``pdf`` is too large in structure to be a license (None: it is within bounds). Counted on
    the raw bytes with regular expressions, before a parser builds anything."""
    revisions = pdf.count(b"%%EOF")
    if revisions > MAX_REVISIONS:
        return f"the file has {revisions} revisions (a license has at most {MAX_REVISIONS}); not checked"
    fields = sum(1 for _ in _SIG_FIELD.finditer(pdf))
    if fields > MAX_SIGNATURE_FIELDS:
        most = MAX_SIGNATURE_FIELDS
        return f"the file has {fields} signature fields (a license has at most {most}); not checked"
    objects = sum(1 for _ in _OBJ.finditer(pdf))
    objects += sum(int(a or b) for a, b in _OBJSTM_N.findall(pdf))
    if objects > MAX_OBJECTS:
        return f"the file has {objects} objects (a license has at most {MAX_OBJECTS}); not checked"
    return None


@dataclass
class FileFindings:
    """What the file itself says (before the registry is asked)."""

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    certified_sha256: str | None = None
    signing_time: datetime | None = None

    def fail(self, reason: str, note: str | None = None) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        if note:
            self.notes.append(note)


def _read_attachment(pdf: bytes) -> dict[str, Any] | None:
    """``license.json`` from the embedded files of ``pdf`` (a single revision), or None."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    names = reader.root.get("/Names")
    if names is None:
        return None
    ef = names.get_object().get("/EmbeddedFiles")
    if ef is None:
        return None
    arr = ef.get_object().get("/Names")
    if arr is None:
        return None
    arr = arr.get_object()
    for i in range(0, len(arr) - 1, 2):
        if str(arr[i]) == ATTACHMENT_NAME:
            spec = arr[i + 1].get_object()
            stream = spec["/EF"]["/F"].get_object()
            doc = json.loads(stream.data.decode("utf-8"))
            return doc if isinstance(doc, dict) else None
    return None


def _timestamp_time(signer_info: cms.SignerInfo) -> datetime | None:
    """The gen_time of the signature timestamp token (unsigned attribute), if any."""
    attrs = signer_info["unsigned_attrs"]
    if not attrs or attrs.native is None:
        return None
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token":
            token = attr["values"][0]
            content = token["content"]["encap_content_info"]["content"].parsed
            if isinstance(content, tsp.TSTInfo):
                gen: datetime = content["gen_time"].native
                return gen
    return None


def _crl_revocation(crls: list[bytes], cert: x509.Certificate) -> datetime | None:
    """The earliest revocation date of ``cert`` in any CRL of its issuer (signature checked)."""
    found: datetime | None = None
    for der in crls:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError:
            continue
        if crl.issuer != cert.issuer:
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            when = entry.revocation_date_utc
            found = when if found is None or when < found else found
    return found


async def check_file(pdf: bytes, trust: Trust, *, now: datetime | None = None) -> FileFindings:
    """Steps 1-6 of the module docstring; the registry is not consulted here."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp

    out = FileFindings()
    now = now or datetime.now(UTC)
    too_big = structure_refusal(pdf)
    if too_big is not None:
        out.fail(R.NOT_A_LICENSE, too_big)
        return out
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception as exc:  # untrusted input: whatever does not parse is not a license
        out.fail(R.NOT_A_LICENSE, f"the file is not a readable PDF: {exc}")
        return out
    cert_sigs = [s for s in sigs if s.field_name == FIELD_NAME and s.sig_object_type == "/Sig"]
    if not cert_sigs:
        out.fail(R.NOT_A_LICENSE, "no license seal signature (field ZZQZ) in the file")
        return out
    sig = cert_sigs[0]
    # the certified revision: up to the end of the signature's byte range
    try:
        br = [int(x) for x in sig.sig_object["/ByteRange"]]
        certified = pdf[: br[2] + br[3]]
    except (KeyError, IndexError, ValueError) as exc:
        out.fail(R.NOT_A_LICENSE, f"the seal signature has no usable /ByteRange: {exc}")
        return out
    out.certified_sha256 = hashlib.sha256(certified).hexdigest()
    try:
        meta = _read_attachment(certified)
    except Exception as exc:  # untrusted input: any parse failure means "no readable metadata"
        meta = None
        out.notes.append(f"license.json unreadable: {exc}")
    no_metadata = not meta or not meta.get("ZZBS")
    out.metadata = meta or {}

    # timestamp time first: the seal certificate is judged as of that moment
    try:
        ts_time = _timestamp_time(sig.signer_info)
    except (ValueError, KeyError, TypeError):
        ts_time = None
    moment = ts_time or now
    out.signing_time = ts_time
    crls = list(trust.crls)
    dss = reader.root.get("/DSS")
    if dss is not None:
        for ref in dss.get_object().get("/CRLs", []):
            crls.append(ref.get_object().data)
    signer_trust = Trust(roots=trust.roots, intermediates=trust.intermediates, crls=crls)
    signer_vc = _vc(signer_trust, moment)
    ts_vc = _vc(signer_trust, now)
    try:
        status = await async_validate_pdf_signature(
            sig, signer_validation_context=signer_vc, ts_validation_context=ts_vc
        )
    except Exception as exc:  # untrusted input: a signature pyhanko cannot even parse is broken
        out.fail(R.TAMPERED, f"the seal signature cannot be validated: {type(exc).__name__}: {exc}")
        return out

    signer_cert = x509.load_der_x509_certificate(sig.signer_cert.dump())
    out.checks["signature"] = {
        "intact": status.intact,
        "valid": status.valid,
        "coverage": status.coverage.name if status.coverage else None,
        "signer": signer_cert.subject.rfc4514_string(),
        "signer_serial": format(signer_cert.serial_number, "x"),
    }
    if not (status.intact and status.valid):
        out.fail(R.TAMPERED, "the signed bytes do not match the seal signature")
        return out
    if no_metadata:
        out.fail(
            R.NOT_A_LICENSE, "the certified revision carries no license metadata (license.json with ZZBS)"
        )
        return out
    if sig.docmdp_level is None:
        out.fail(R.NOT_A_LICENSE, "the seal signature is not a certification signature")
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        out.fail(R.TAMPERED, "the seal signature does not cover its whole revision")

    tsv = status.timestamp_validity
    out.checks["timestamp"] = None
    if tsv is not None:
        out.checks["timestamp"] = {
            "time": tsv.timestamp.isoformat(),
            "intact": tsv.intact,
            "valid": tsv.valid,
            "trusted": tsv.trusted,
        }
        if not (tsv.intact and tsv.valid and tsv.trusted):
            out.fail(R.TIMESTAMP_INVALID, "the signature timestamp is not intact or its TSA is not trusted")
    elif ts_time is not None:
        out.fail(R.TIMESTAMP_INVALID, "the signature timestamp token could not be validated")

    # chain and revocation
    revoked_at = _crl_revocation(crls, signer_cert)
    out.checks["chain"] = {"trusted": status.trusted, "validated_at": moment.isoformat()}
    out.checks["revocation"] = {
        "revoked": bool(status.revoked),
        "revocation_time": revoked_at.isoformat() if revoked_at else None,
        "as_of": moment.isoformat(),
    }
    if status.revoked or (revoked_at is not None and revoked_at <= moment):
        out.fail(
            R.SIGNER_REVOKED,
            f"the seal certificate was revoked at {revoked_at.isoformat() if revoked_at else '?'}, "
            f"before the signature time {moment.isoformat()}",
        )
    elif not status.trusted:
        indic = status.trust_problem_indic.name if status.trust_problem_indic else "unknown"
        out.fail(R.UNTRUSTED_ISSUER, f"the seal certificate does not chain to a trusted root ({indic})")
    elif revoked_at is not None:
        out.notes.append(
            f"the seal certificate was revoked at {revoked_at.isoformat()}, after the signature's "
            f"timestamp {moment.isoformat()}: the signature stays valid"
        )
        out.checks["revocation"]["revoked_after_signature"] = True

    # modifications after certification
    level = status.modification_level
    out.checks["modifications"] = {
        "level": level.name if level is not None else None,
        "docmdp_ok": status.docmdp_ok,
        "certification": sig.docmdp_level.name if sig.docmdp_level is not None else None,
    }
    if status.docmdp_ok is False or (
        level is not None and level not in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
    ):
        out.fail(R.DISALLOWED_CHANGE, f"changes after certification: {level.name if level else 'unknown'}")

    # document timestamps (B-LTA)
    doc_ts = []
    for dts in sigs:
        if dts.sig_object_type != "/DocTimeStamp":
            continue
        try:
            ts_status = await async_validate_pdf_timestamp(dts, validation_context=_vc(signer_trust, now))
            ok = ts_status.intact and ts_status.valid and ts_status.trusted
            doc_ts.append({"time": ts_status.timestamp.isoformat(), "valid": ok})
        except Exception as exc:  # untrusted input
            ok = False
            doc_ts.append({"time": None, "valid": False, "error": str(exc)})
        if not ok:
            out.fail(R.TIMESTAMP_INVALID, "a document timestamp is not valid")
    out.checks["document_timestamps"] = doc_ts
    return out


def _vc(trust: Trust, moment: datetime) -> Any:
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(
        trust_roots=[_asn1(c) for c in trust.roots],
        other_certs=[_asn1(c) for c in trust.intermediates],
        crls=[crl_to_asn1(c) for c in trust.crls],
        allow_fetching=False,
        revocation_mode="hard-fail",
        moment=moment,
        retroactive_revinfo=True,
    )


def _asn1(cert: x509.Certificate) -> Any:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
