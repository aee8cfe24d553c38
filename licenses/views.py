"""What the registry hands back: an issued license, one outcome of a batch, a license's view and its
status history — and the two ways they are read from the registry's rows (:func:`issued`,
:func:`license_view`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.codes import CODE_LISTS
from core.masking import mask_id
from licenses._face import Holder, IssueRequest
from licenses.errors import LicenseError
from licenses.models import LicenseHolderRow, LicenseRecord, LicenseStatusChange

STATUS_NAMES = CODE_LISTS["license_status"].codes
OPERATION_NAMES = CODE_LISTS["license_operation"].codes


@dataclass(frozen=True)
class IssuedLicense:
    license_id: str
    object_key: str
    sha256: str  # SHA-256 of the certified revision
    status: str
    verify_code: str
    version: int
    existed: bool = False  # True: an earlier request with the same idempotency key issued it

    def as_dict(self) -> dict[str, Any]:
        return {
            "license_id": self.license_id,
            "object_key": self.object_key,
            "sha256": self.sha256,
            "status": self.status,
            "verify_code": self.verify_code,
            "version": self.version,
            "existed": self.existed,
        }


@dataclass(frozen=True)
class IssueOutcome:
    """One request of a batch: the license, or the error that refused it."""

    request: IssueRequest
    license: IssuedLicense | None = None
    error: LicenseError | None = None

    @property
    def ok(self) -> bool:
        return self.license is not None


@dataclass(frozen=True)
class StatusEntry:
    operation: str
    operation_name: str
    from_status: str | None
    to_status: str
    reason: str
    actor: str
    at: str


@dataclass(frozen=True)
class LicenseView:
    """What the registry holds about one license instance."""

    license_id: str
    type_code: str
    type_name: str
    version: int
    status: str
    status_name: str
    license_no: str
    issuer_code: str
    issuer_name: str
    holders: tuple[Holder, ...]
    issue_date: str
    valid_from: str
    valid_until: str | None
    verify_code: str
    certified_sha256: str
    object_key: str
    profile: str
    previous_license_id: str | None
    lineage: str | None
    metadata: dict[str, Any]
    history: tuple[StatusEntry, ...] = ()

    @property
    def valid(self) -> bool:
        return self.status == "01"

    def as_dict(self, *, mask: bool = False) -> dict[str, Any]:
        def code(c: str) -> str:
            return mask_id(c) if mask else c

        return {
            "license_id": self.license_id,
            "type_code": self.type_code,
            "type_name": self.type_name,
            "version": self.version,
            "status": self.status,
            "status_name": self.status_name,
            "license_no": self.license_no,
            "issuer": {"code": self.issuer_code, "name": self.issuer_name},
            "holders": [
                {"name": h.name, "code": code(h.code), "code_type": h.code_type} for h in self.holders
            ],
            "issue_date": self.issue_date,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "verify_code": self.verify_code,
            "certified_sha256": self.certified_sha256,
            "object_key": self.object_key,
            "profile": self.profile,
            "previous_license_id": self.previous_license_id,
            "lineage": self.lineage,
            "history": [e.__dict__ for e in self.history],
        }


def issued(rec: LicenseRecord, *, existed: bool = False) -> IssuedLicense:
    return IssuedLicense(
        license_id=rec.license_id,
        object_key=rec.object_key,
        sha256=rec.certified_sha256,
        status=rec.status,
        verify_code=rec.verify_code,
        version=rec.version,
        existed=existed,
    )


def license_view(s: Session, rec: LicenseRecord, *, history: bool) -> LicenseView:
    holders = tuple(
        Holder(h.name, h.code, h.code_type)
        for h in s.scalars(
            select(LicenseHolderRow)
            .where(LicenseHolderRow.license_pk == rec.id)
            .order_by(LicenseHolderRow.position)
        )
    )
    entries: tuple[StatusEntry, ...] = ()
    if history:
        entries = tuple(
            StatusEntry(
                h.operation,
                OPERATION_NAMES.get(h.operation, h.operation),
                h.from_status,
                h.to_status,
                h.reason,
                h.actor,
                h.at,
            )
            for h in s.scalars(
                select(LicenseStatusChange)
                .where(LicenseStatusChange.license_pk == rec.id)
                .order_by(LicenseStatusChange.id)
            )
        )
    return LicenseView(
        license_id=rec.license_id,
        type_code=rec.type_code,
        type_name=rec.type_name,
        version=rec.version,
        status=rec.status,
        status_name=STATUS_NAMES.get(rec.status, rec.status),
        license_no=rec.license_no,
        issuer_code=rec.issuer_code,
        issuer_name=rec.issuer_name,
        holders=holders,
        issue_date=rec.issue_date,
        valid_from=rec.valid_from,
        valid_until=rec.valid_until,
        verify_code=rec.verify_code,
        certified_sha256=rec.certified_sha256,
        object_key=rec.object_key,
        profile=rec.profile,
        previous_license_id=rec.previous_license_id,
        lineage=rec.lineage,
        metadata=json.loads(rec.metadata_json),
        history=entries,
    )
