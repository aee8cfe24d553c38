"""From an issue request and its license type to the metadata (DOMAIN.md §3) and the face to draw.

The license type (``contracts.licensetypes``) says which face fields exist, which are required,
their maximum length, the holder code types and count allowed, the validity rule and the
uniqueness key; every check here raises :class:`~licenses.errors.LicenseTypeError` with a
message that names the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts.codes import CODE_LISTS
from contracts.errors import CatalogError
from contracts.licensetypes import LicenseType, license_type
from contracts.validators import holder_id_problem
from core.fieldcrypt import FieldCrypt
from core.sealing import UNIQUENESS_KIND
from licenses._render import Face
from licenses.errors import LicenseTypeError

METADATA_FORMAT = 1


@dataclass(frozen=True)
class Holder:
    """持证主体: name (CZZT), code (CZZTDM), code type (CZZTDMLX: 111 resident ID, 001 USCC, …)."""

    name: str
    code: str
    code_type: str

    def as_metadata(self) -> dict[str, str]:
        return {"CZZT": self.name, "CZZTDM": self.code, "CZZTDMLX": self.code_type}


@dataclass(frozen=True)
class IssueRequest:
    """Everything needed to issue one license; ``idempotency_key`` makes a repeat return the same one."""

    type_code: str  # type code (ZZLXDM) or the type's key, e.g. "business_license"
    issuer_code: str  # USCC of the issuing department (ZZBFJGDM)
    holders: Sequence[Holder]
    fields: Mapping[str, str] = field(default_factory=dict)  # KZ_* face fields
    license_no: str | None = None  # ZZBH; derived when absent
    issue_date: date | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    idempotency_key: str | None = None  # e.g. "<project_no>:<type_code>"
    operation: str = "01"  # 01 新发 or 08 转入
    actor: str = "system"

    def fingerprint(self) -> str:
        doc = {
            "type": self.type_code,
            "issuer": self.issuer_code,
            "holders": [h.as_metadata() for h in self.holders],
            "fields": dict(sorted(self.fields.items())),
            "no": self.license_no,
            "issue_date": self.issue_date.isoformat() if self.issue_date else None,
            "valid": [d.isoformat() if d else None for d in (self.valid_from, self.valid_until)],
            "op": self.operation,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def resolve_type(code_or_key: str) -> LicenseType:
    try:
        return license_type(code_or_key)
    except CatalogError as exc:
        raise LicenseTypeError(str(exc), code="LICENSE_TYPE_UNKNOWN") from exc


def check_request(t: LicenseType, req: IssueRequest) -> None:
    """Holders and face fields against the type; raises LicenseTypeError naming the problem."""
    if not req.holders:
        raise LicenseTypeError(f"{t.name}: at least one holder (持证主体) is required", code="LICENSE_HOLDER")
    if t.max_holders is not None and len(req.holders) > t.max_holders:
        raise LicenseTypeError(
            f"{t.name} allows {t.max_holders} holder(s), got {len(req.holders)}", code="LICENSE_HOLDER"
        )
    for i, h in enumerate(req.holders, 1):
        if not h.name.strip():
            raise LicenseTypeError(f"holder #{i} has no name", code="LICENSE_HOLDER")
        if h.code_type not in t.holder_code_types:
            allowed = ", ".join(f"{c} {CODE_LISTS['id_type'].codes.get(c, '')}" for c in t.holder_code_types)
            raise LicenseTypeError(
                f"holder #{i}: code type {h.code_type!r} is not allowed for {t.name} (allowed: {allowed})",
                code="LICENSE_HOLDER",
            )
        problem = holder_id_problem(h.code_type, h.code)
        if problem is not None:
            kind = CODE_LISTS["id_type"].codes.get(h.code_type, h.code_type)
            raise LicenseTypeError(
                f"holder #{i}: code is not a valid {kind} ({problem})",
                code="LICENSE_HOLDER",
            )
    known = set(t.face_keys)
    unknown = sorted(set(req.fields) - known)
    if unknown:
        raise LicenseTypeError(
            f"{t.name} has no face field(s) {', '.join(unknown)}; fields: {', '.join(t.face_keys)}",
            code="LICENSE_FIELD",
        )
    for f in t.face_fields:
        value = req.fields.get(f.key)
        if (
            f.required
            and not (value or "").strip()
            and f.key not in derived_fields(t, req)
            and f.key not in DATE_FIELDS
        ):
            raise LicenseTypeError(
                f"{t.name}: face field {f.key} ({f.label}) is required", code="LICENSE_FIELD"
            )
        if value is not None and len(value) > f.length:
            raise LicenseTypeError(
                f"{t.name}: face field {f.key} ({f.label}) is longer than {f.length} characters",
                code="LICENSE_FIELD",
            )
    if req.operation not in ("01", "08"):
        raise LicenseTypeError(
            "an issue request's operation is 01 (新发) or 08 (转入)", code="LICENSE_OPERATION"
        )


def check_validity(t: LicenseType, req: IssueRequest, today: date) -> None:
    """Refuse a request whose end of validity (as :func:`licenses.allocation.prepare` will set it:
    the request's, else the type's rule) is before ``today`` — a license that is over at issue."""
    from licenses.errors import ValidityEnded

    start = req.valid_from or req.issue_date or today
    until = req.valid_until if req.valid_until is not None else t.validity_end(start)
    if until is not None and until < today:
        raise ValidityEnded(case=req.idempotency_key, valid_until=until.isoformat(), today=today.isoformat())


def derived_fields(t: LicenseType, req: IssueRequest) -> dict[str, str]:
    """Face fields filled from the holders when the request leaves them out (权利人, 名称…)."""
    out: dict[str, str] = {}
    names = "、".join(h.name for h in req.holders)
    for key in ("KZ_QLR", "KZ_MC", "KZ_JYZMC"):
        if key in t.face_keys and not req.fields.get(key):
            out[key] = names
    if "KZ_GYQK" in t.face_keys and not req.fields.get("KZ_GYQK"):
        out["KZ_GYQK"] = "共同共有" if len(req.holders) > 1 else "单独所有"
    first = req.holders[0]
    if "KZ_TYSHXYDM" in t.face_keys and not req.fields.get("KZ_TYSHXYDM") and first.code_type == "001":
        out["KZ_TYSHXYDM"] = first.code
    if "KZ_SHXYDM" in t.face_keys and not req.fields.get("KZ_SHXYDM"):
        out["KZ_SHXYDM"] = first.code
    return out


# face fields filled from the dates once they are known (issue date, validity end)
DATE_FIELDS = ("KZ_ZCRQ", "KZ_YXQZ")


def date_fields(t: LicenseType, fields: Mapping[str, str], issue: date, until: date | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if "KZ_ZCRQ" in t.face_keys and not fields.get("KZ_ZCRQ"):
        out["KZ_ZCRQ"] = issue.isoformat()
    if "KZ_YXQZ" in t.face_keys and not fields.get("KZ_YXQZ"):
        out["KZ_YXQZ"] = until.isoformat() if until else "长期"
    return out


def uniqueness_hash(
    t: LicenseType, holders: Sequence[Holder], fields: Mapping[str, str], *, crypt: FieldCrypt
) -> str:
    """The blind index (keyed HMAC, :meth:`FieldCrypt.blind`) of the SHA-256 over the type's
    uniqueness key values: equal keys match, and nobody without the key can confirm a guessed
    holder code from it (a plain hash of a resident ID number can be brute-forced)."""
    first = holders[0]
    values: dict[str, str] = {
        "ZZLXDM": t.type_code,
        "CZZTDM": first.code,
        "CZZTDMLX": first.code_type,
        "CZZT": first.name,
    }
    parts = [(k, values.get(k, fields.get(k, ""))) for k in t.uniqueness_key]
    plain = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return crypt.blind(plain, kind=UNIQUENESS_KIND)


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def build_metadata(
    t: LicenseType,
    req: IssueRequest,
    *,
    license_id: str,
    license_no: str,
    issuer_name: str,
    seal_name: str,
    issue_date: date,
    valid_from: date,
    valid_until: date | None,
    fields: Mapping[str, str],
    signed_at: datetime,
) -> dict[str, Any]:
    """The DOMAIN.md §3 metadata (checked against ``contracts.models.LicenseMetadata``)."""
    from contracts.models import LicenseMetadata

    first = req.holders[0]
    doc: dict[str, Any] = {
        "ZZMC": t.name,
        "ZZLXDM": t.type_code,
        "ZZBH": license_no,
        "ZZBS": license_id,
        "ZZBFJG": issuer_name,
        "ZZBFJGDM": req.issuer_code,
        "ZZBFRQ": issue_date.isoformat(),
        "CZZT": first.name,
        "CZZTDM": first.code,
        "CZZTDMLX": first.code_type,
        "ZZYXQQSRQ": valid_from.isoformat(),
        "ZZYXQJZRQ": valid_until.isoformat() if valid_until else None,
        "ZZQZR": issuer_name,
        "ZZQZSJ": signed_at.isoformat(timespec="seconds"),
        "ZZQZMC": seal_name,
        "ZZZT": "01",
        "holders": [h.as_metadata() for h in req.holders],
        "KZ": dict(fields),
    }
    try:
        LicenseMetadata.model_validate(doc)
    except ValueError as exc:
        raise LicenseTypeError(
            f"license metadata does not satisfy the contract: {exc}", code="LICENSE_METADATA"
        ) from exc
    doc["format"] = METADATA_FORMAT
    return doc


def qr_payload(verify_url: str, license_id: str, verify_code: str) -> str:
    """What the QR code on the face says: the verify page with the identifier and the code."""
    return f"{verify_url}?id={license_id}&code={verify_code.replace('-', '')}"


def build_face(
    t: LicenseType,
    meta: Mapping[str, Any],
    *,
    verify_code: str,
    qr_payload: str,
    seal_text: str,
    sample: bool,
) -> Face:
    """The face: the type's face fields in order, then holders' codes and the validity period."""
    kz: Mapping[str, str] = meta["KZ"]
    rows: list[tuple[str, str]] = []
    for f in t.face_fields:
        value = kz.get(f.key)
        if value:
            rows.append((f.label, value))
    holders = meta["holders"]
    if len(holders) > 1 or not any(h["CZZTDM"] in kz.values() for h in holders):
        id_names = CODE_LISTS["id_type"].codes
        for h in holders:
            rows.append((id_names.get(h["CZZTDMLX"], "证件号码"), f"{h['CZZTDM']}（{h['CZZT']}）"))
    start = date.fromisoformat(meta["ZZYXQQSRQ"])
    end = meta.get("ZZYXQJZRQ")
    rows.append(("有效期限", f"{cn_date(start)}至{cn_date(date.fromisoformat(end)) if end else '长期'}"))
    payload = json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")
    flat = {k: v for k, v in meta.items() if not isinstance(v, (dict, list))}
    return Face(
        title=t.name,
        fields=rows,
        issuer_name=meta["ZZBFJG"],
        issue_date=cn_date(date.fromisoformat(meta["ZZBFRQ"])),
        license_id=meta["ZZBS"],
        license_no=meta["ZZBH"],
        verify_code=verify_code,
        qr_payload=qr_payload,
        seal_text=seal_text,
        sample=sample,
        metadata=flat,
        metadata_json=payload,
    )
