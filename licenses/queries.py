"""Reading the registry: one license by identifier (with or without its status history), every
license of a holder, the metadata as issued with the current status, the face as drawn, and the
current stored file. Nothing here writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.sealing import crypt_of, holder_kind
from core.store import Zone
from licenses import _face
from licenses._context import RegistryContext
from licenses._render import Face
from licenses.errors import LicenseNotFound
from licenses.models import LIVE_STATUSES, LicenseHolderRow, LicenseRecord
from licenses.views import LicenseView, license_view


class Queries:
    """Look-ups over the registry tables and the licenses zone."""

    def __init__(self, ctx: RegistryContext) -> None:
        self.ctx = ctx

    def get(self, license_id: str, *, history: bool = True) -> LicenseView:
        with self.ctx.db.session() as s:
            rec = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == license_id))
            if rec is None:
                raise LicenseNotFound(f"no license {license_id} in the registry")
            return license_view(s, rec, history=history)

    def find(self, license_id: str) -> LicenseView | None:
        try:
            return self.get(license_id, history=False)
        except LicenseNotFound:
            return None

    def find_with_history(self, license_id: str) -> LicenseView | None:
        try:
            return self.get(license_id, history=True)
        except LicenseNotFound:
            return None

    def find_by_holder(
        self, code: str, code_type: str, *, type_code: str | None = None, live_only: bool = False
    ) -> list[LicenseView]:
        """Every license one holder holds (any position among co-holders), newest first."""
        with self.ctx.db.session() as s:
            q = (
                select(LicenseRecord)
                .join(LicenseHolderRow, LicenseHolderRow.license_pk == LicenseRecord.id)
                .where(
                    LicenseHolderRow.code_bidx == crypt_of(s).blind(code, kind=holder_kind(code_type)),
                    LicenseHolderRow.code_type == code_type,
                )
            )
            if type_code:
                q = q.where(LicenseRecord.type_code == _face.resolve_type(type_code).type_code)
            if live_only:
                q = q.where(LicenseRecord.status.in_(LIVE_STATUSES))
            recs = list(s.scalars(q.order_by(LicenseRecord.id.desc())).unique())
            return [license_view(s, r, history=False) for r in recs]

    def metadata(self, license_id: str) -> dict[str, Any]:
        """The DOMAIN.md §3 metadata as issued, with the current status (ZZZT)."""
        view = self.get(license_id, history=False)
        meta = dict(view.metadata)
        meta["ZZZT"] = view.status
        return meta

    def face(self, license_id: str) -> Face:
        """The license face as drawn on the file (for annotated copies: draw it again with a note)."""
        view = self.get(license_id, history=False)
        t = _face.resolve_type(view.type_code)
        seal = self.ctx.material.seal(view.issuer_code)
        return _face.build_face(
            t,
            view.metadata,
            verify_code=view.verify_code,
            qr_payload=_face.qr_payload(self.ctx.verify_url, view.license_id, view.verify_code),
            seal_text=seal.department_name,
            sample=seal.sample,
        )

    def file(self, license_id: str) -> bytes:
        """The current stored file of a license (checked against its address by the store)."""
        view = self.get(license_id, history=False)
        return self.ctx.store.get_bytes(Zone.LICENSES, view.object_key)
