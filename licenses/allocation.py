"""Step 1 of issuing, in one short transaction per batch: check each request against its type, its
idempotency key (a registered license is returned as is; an earlier *intent* gives back its
identifier) and the uniqueness of live licenses; allocate serials from the counter and record an
intent row (identifier ↔ idempotency key). Then build what step 2 draws and signs: the DOMAIN.md §3
metadata and the face of each license (:func:`prepare`, also used for a new version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from contracts.licensetypes import LicenseType
from core.db import Database
from core.sealing import crypt_of
from licenses import _face
from licenses._face import IssueRequest
from licenses._pades import SignedLicense
from licenses._render import Face, check_glyphs
from licenses._seals import Seal
from licenses._signing import SigningMaterial
from licenses.errors import IdempotencyConflict, LicenseError, UniquenessConflict
from licenses.identifiers import allocate_serials, license_identifier, new_verify_code
from licenses.models import LIVE_STATUSES, LicenseIntent, LicenseRecord
from licenses.views import IssueOutcome, issued

CN_TZ = ZoneInfo("Asia/Shanghai")


def local_date(now: datetime) -> date:
    """The date in Asia/Shanghai (license dates are local dates)."""
    return now.astimezone(CN_TZ).date()


@dataclass
class Prepared:
    """A request between allocation and registration."""

    request: IssueRequest
    ltype: LicenseType
    license_id: str
    serial: str
    version: int
    verify_code: str
    seal: Seal
    metadata: dict[str, Any]
    face: Face
    uniqueness: str
    fingerprint: str
    previous: str | None = None
    lineage: str | None = None
    signed: SignedLicense | None = None
    object_key: str | None = None


def allocate(
    db: Database, material: SigningMaterial, verify_url: str, batch: Sequence[IssueRequest], now: datetime
) -> tuple[dict[int, IssueOutcome], dict[int, Prepared]]:
    """Outcomes for the requests settled here (repeats, refusals) and the rest, prepared; by index."""
    outcomes: dict[int, IssueOutcome] = {}
    todo: dict[int, tuple[IssueRequest, LicenseType, str, str, Seal]] = {}
    with db.session() as s:
        keys = [r.idempotency_key for r in batch if r.idempotency_key]
        registered = (
            {
                r.idempotency_key: r
                for r in s.scalars(select(LicenseRecord).where(LicenseRecord.idempotency_key.in_(keys)))
            }
            if keys
            else {}
        )
        intents = (
            {
                i.idempotency_key: i
                for i in s.scalars(select(LicenseIntent).where(LicenseIntent.idempotency_key.in_(keys)))
            }
            if keys
            else {}
        )
        seen: dict[str, int] = {}
        for i, given in enumerate(batch):
            req = given
            try:
                t = _face.resolve_type(req.type_code)
                req = replace(req, type_code=t.type_code)
                _face.check_request(t, req)
                _face.check_validity(t, req, local_date(now))
                fp = req.fingerprint()
                key = req.idempotency_key
                if key and key in seen:
                    raise IdempotencyConflict(f"idempotency key {key!r} appears twice in one batch")
                if key:
                    seen[key] = i
                rec = registered.get(key) if key else None
                if rec is not None:
                    intent = intents.get(key)
                    if intent is not None and intent.request_hash != fp:
                        raise IdempotencyConflict(
                            f"idempotency key {key!r} was used for a different request "
                            f"(it issued {rec.license_id})"
                        )
                    outcomes[i] = IssueOutcome(req, license=issued(rec, existed=True))
                    continue
                fields = {**_face.derived_fields(t, req), **req.fields}
                uniq = _face.uniqueness_hash(t, req.holders, fields, crypt=crypt_of(s))
                seal = material.seal(req.issuer_code)
                todo[i] = (req, t, fp, uniq, seal)
            except LicenseError as exc:
                outcomes[i] = IssueOutcome(req, error=exc)
        # uniqueness pre-check for the whole batch in one query (the partial index is the guard)
        hashes = {u for (_r, _t, _f, u, _s) in todo.values()}
        live: dict[tuple[str, str], str] = {}
        if hashes:
            for type_code, uniq_hash, lid in s.execute(
                select(
                    LicenseRecord.type_code, LicenseRecord.uniqueness_hash, LicenseRecord.license_id
                ).where(LicenseRecord.uniqueness_hash.in_(hashes), LicenseRecord.status.in_(LIVE_STATUSES))
            ):
                live[(type_code, uniq_hash)] = lid
        taken: set[tuple[str, str]] = set()
        for i, (req, t, _fp, uniq, _seal) in list(todo.items()):
            existing = live.get((t.type_code, uniq))
            if existing is None and (t.type_code, uniq) in taken:
                existing = "an earlier request of this batch"
            if existing is not None:
                del todo[i]
                outcomes[i] = IssueOutcome(
                    req,
                    error=UniquenessConflict(
                        f"a live {t.name} already exists for this uniqueness key "
                        f"({'+'.join(t.uniqueness_key)}): {existing}",
                        existing_id=existing if existing.startswith("1.2.156") else None,
                    ),
                )
            taken.add((t.type_code, uniq))
        # serials for the requests without an earlier intent, grouped by (type, issuer)
        year = local_date(now).year
        groups: dict[tuple[str, str], list[int]] = {}
        ids: dict[int, tuple[str, str]] = {}
        for i, (req, _t, fp, _u, _seal) in todo.items():
            intent = intents.get(req.idempotency_key) if req.idempotency_key else None
            if intent is not None:
                if intent.request_hash != fp:
                    outcomes[i] = IssueOutcome(
                        req,
                        error=IdempotencyConflict(
                            f"idempotency key {req.idempotency_key!r} was used for a different request"
                        ),
                    )
                else:
                    lid = intent.license_id
                    ids[i] = (lid, lid.split(".")[-3])
                continue
            groups.setdefault((req.type_code, req.issuer_code), []).append(i)
        for (type_code, issuer), members in groups.items():
            serials = allocate_serials(s, type_code, issuer, year, len(members))
            for i, serial in zip(members, serials, strict=True):
                lid = license_identifier(type_code, issuer, serial, 1)
                ids[i] = (lid, serial)
                req = todo[i][0]
                s.add(
                    LicenseIntent(
                        license_id=lid,
                        idempotency_key=req.idempotency_key,
                        request_hash=todo[i][2],
                        type_code=type_code,
                        issuer_code=issuer,
                        state="allocated",
                        created_at=now.isoformat(),
                    )
                )
        s.flush()
    prepared: dict[int, Prepared] = {}
    for i, (lid, serial) in ids.items():
        if i in outcomes:
            continue
        req, t, fp, uniq, seal = todo[i]
        try:
            prepared[i] = prepare(req, t, lid, serial, 1, fp, uniq, seal, now, verify_url=verify_url)
        except LicenseError as exc:
            outcomes[i] = IssueOutcome(req, error=exc)
    return outcomes, prepared


def prepare(
    req: IssueRequest,
    t: LicenseType,
    license_id: str,
    serial: str,
    version: int,
    fingerprint: str,
    uniqueness: str,
    seal: Seal,
    now: datetime,
    *,
    verify_url: str,
) -> Prepared:
    """The metadata and face of one license (dates, derived fields, license number, verify code)."""
    issue_date = req.issue_date or local_date(now)
    valid_from = req.valid_from or issue_date
    valid_until = req.valid_until if req.valid_until is not None else t.validity_end(valid_from)
    fields = {**_face.derived_fields(t, req), **req.fields}
    fields.update(_face.date_fields(t, fields, issue_date, valid_until))
    license_no = req.license_no or _default_license_no(t, req, serial)
    verify_code = new_verify_code()
    meta = _face.build_metadata(
        t,
        req,
        license_id=license_id,
        license_no=license_no,
        issuer_name=seal.department_name,
        seal_name=seal.seal_name,
        issue_date=issue_date,
        valid_from=valid_from,
        valid_until=valid_until,
        fields=fields,
        signed_at=now.astimezone(CN_TZ),
    )
    face = _face.build_face(
        t,
        meta,
        verify_code=verify_code,
        qr_payload=_face.qr_payload(verify_url, license_id, verify_code),
        seal_text=seal.department_name,
        sample=seal.sample,
    )
    check_glyphs(face)
    return Prepared(
        req, t, license_id, serial, version, verify_code, seal, meta, face, uniqueness, fingerprint
    )


def _default_license_no(t: LicenseType, req: IssueRequest, serial: str) -> str:
    first = req.holders[0]
    if t.key == "business_license" and first.code_type == "001":
        return first.code
    return f"{req.issuer_code[2:8]}{t.type_code[-3:]}{serial}"
