"""The :class:`~gateway.ports.LicensePort` over the ``licenses`` package (registry, copies, verification).

One registry and one copy service per API process. Verification codes are compared in constant
time, ignoring the dashes the face prints (the QR carries them without).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from core.db import Database
from core.settings import Settings
from gateway.errors import Conflict, NotFound, Unprocessable
from gateway.ports import CopyRequest, HolderView, LicensePort, LicenseView


def _view(v: Any) -> LicenseView:
    meta = v.metadata or {}
    return LicenseView(
        license_id=v.license_id,
        type_code=v.type_code,
        name=str(meta.get("ZZMC") or v.type_name),
        number=v.license_no,
        issuer_name=v.issuer_name,
        issuer_code=v.issuer_code,
        issue_date=v.issue_date,
        status=v.status,
        status_name=v.status_name,
        valid_from=v.valid_from,
        valid_until=v.valid_until,
        holders=tuple(HolderView(h.name, h.code_type, h.code) for h in v.holders),
        fields={
            k: str(val)
            for k, val in meta.items()
            if k.startswith("KZ_") and not isinstance(val, (dict, list))
        },
    )


def _norm(code: str) -> str:
    return code.replace("-", "").strip().upper()


class LicensesAdapter(LicensePort):
    def __init__(self, settings: Settings, db: Database) -> None:
        from licenses import open_registry
        from licenses.copies import CopyService

        self.settings = settings
        self.registry = open_registry(settings, db=db)
        self.copies = CopyService(self.registry, platform=settings.platform_name)

    def find_by_holder(self, code_type: str, code: str, type_code: str | None = None) -> list[LicenseView]:
        from licenses import LicenseTypeError

        try:
            found = self.registry.find_by_holder(code, code_type, type_code=type_code)
        except LicenseTypeError:
            return []
        return [_view(v) for v in found]

    def get(self, license_id: str) -> LicenseView | None:
        v = self.registry.find(license_id)
        return _view(v) if v is not None else None

    def check_verify_code(self, license_id: str, code: str) -> bool:
        v = self.registry.find(license_id)
        if v is None:
            return False
        return hmac.compare_digest(_norm(v.verify_code).encode(), _norm(code).encode())

    def make_copy(self, request: CopyRequest) -> bytes:
        from licenses import LicenseNotFound
        from licenses.copies import CopyRefused, CopySpec

        spec = CopySpec(
            license_id=request.license_id,
            purpose=request.purpose,
            purpose_text=request.purpose_text,
            cause=request.cause,
            recipient=request.recipient,
            until=request.until,
        )
        try:
            return self.copies.make(spec)
        except LicenseNotFound as exc:
            raise NotFound("no such license", code="LICENSE_NOT_FOUND") from exc
        except CopyRefused as exc:
            raise Conflict(str(exc), code="COPY_REFUSED") from exc

    def verify(self, pdf: bytes, *, as_dept: str | None, at: datetime | None = None) -> dict[str, Any]:
        report = self.copies.verify(pdf, as_dept=as_dept, at=at)
        doc: dict[str, Any] = report.as_dict()
        doc["kind"] = report.kind
        doc["copy"] = report.copy
        return doc

    def change_status(self, license_id: str, action: str, reason: str, *, actor: str) -> LicenseView:
        from licenses import LicenseError, LicenseNotFound, TransitionRefused

        try:
            return _view(self.registry.transition(license_id, action, reason=reason, actor=actor))
        except LicenseNotFound as exc:
            raise NotFound("no such license", code="LICENSE_NOT_FOUND") from exc
        except TransitionRefused as exc:
            raise Conflict(str(exc), code="STATUS_TRANSITION_REFUSED") from exc
        except LicenseError as exc:
            raise Unprocessable(str(exc), code="VALIDATION_FAILED") from exc
