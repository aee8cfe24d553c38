"""Changing a license after issue (DOMAIN.md §3): a status transition of the table in
:mod:`licenses.transitions` (暂扣, 撤销, 注销, 吊销, 转出 …), a new version (变更 change, 延续 renew:
the old version becomes 04 注销 in the same transaction that registers the new one), and the expiry
sweep. Each change locks the license row, records the status history, a ledger entry (stream
``license.lifecycle``) and a domain event; a refused change raises
:class:`~licenses.errors.TransitionRefused` naming the allowed actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import failpoints
from core.events import record_event
from core.ledger import append_many
from licenses import _face
from licenses._context import RegistryContext
from licenses._face import IssueRequest
from licenses._render import render
from licenses.allocation import local_date, prepare
from licenses.errors import (
    LicenseError,
    LicenseNotFound,
    RegistryError,
    TransitionRefused,
    UniquenessConflict,
)
from licenses.identifiers import license_identifier
from licenses.models import LicenseRecord, LicenseStatusChange
from licenses.queries import Queries
from licenses.registration import (
    AFTER_REGISTER,
    AFTER_STORE,
    LEDGER_STREAM,
    event_payload,
    insert_one,
    store_file,
)
from licenses.transitions import NEW_VERSION_ACTIONS, TRANSITIONS, refuse
from licenses.views import IssuedLicense, LicenseView, issued, license_view


class Lifecycle:
    """Status transitions, new versions and the expiry sweep over the registry."""

    def __init__(self, ctx: RegistryContext, queries: Queries) -> None:
        self.ctx = ctx
        self.queries = queries

    def transition(self, license_id: str, action: str, *, reason: str, actor: str = "system") -> LicenseView:
        """Apply one status change of DOMAIN.md §3; anything else raises TransitionRefused."""
        t = TRANSITIONS.get(action)
        if t is None:
            raise TransitionRefused(
                f"unknown action {action!r}: use one of {', '.join([*TRANSITIONS, *NEW_VERSION_ACTIONS])}",
                license_id=license_id,
                status="",
                action=action,
            )
        if not reason.strip():
            raise LicenseError("a status change needs a reason", code="LICENSE_REASON")
        now = self.ctx.clock()
        with self.ctx.db.session() as s:
            rec = _lock(s, license_id)
            _apply(s, rec, t.to_status, t.operation, f"{t.label}：{reason}", actor, now, action)
            return license_view(s, rec, history=True)

    def change(
        self, license_id: str, fields: Mapping[str, str], *, reason: str = "变更", actor: str = "system"
    ) -> IssuedLicense:
        """变更: a new version with changed face fields; the old one becomes 04 注销 (op 09)."""
        return self._new_version(license_id, "change", fields, reason=reason, actor=actor)

    def renew(
        self,
        license_id: str,
        fields: Mapping[str, str] | None = None,
        *,
        valid_until: date | None = None,
        reason: str = "延续",
        actor: str = "system",
    ) -> IssuedLicense:
        """延续: a new version with a new validity period; the old one becomes 04 注销 (op 02)."""
        return self._new_version(
            license_id, "renew", fields or {}, reason=reason, actor=actor, valid_until=valid_until
        )

    def expire_due(
        self, *, today: date | None = None, actor: str = "expiry-sweep", limit: int = 1000
    ) -> list[str]:
        """Expiry sweep: every live license whose validity ended before ``today`` becomes 05 失效."""
        now = self.ctx.clock()
        day = (today or local_date(now)).isoformat()
        expired: list[str] = []
        with self.ctx.db.session() as s:
            recs = list(
                s.scalars(
                    select(LicenseRecord)
                    .where(
                        LicenseRecord.status.in_(("01", "02")),
                        LicenseRecord.valid_until.is_not(None),
                        LicenseRecord.valid_until < day,
                    )
                    .order_by(LicenseRecord.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            for rec in recs:
                _apply(s, rec, "05", "04", f"过期失效：有效期至 {rec.valid_until}", actor, now, "expire")
                expired.append(rec.license_id)
        return expired

    def _new_version(
        self,
        license_id: str,
        action: str,
        fields: Mapping[str, str],
        *,
        reason: str,
        actor: str,
        valid_until: date | None = None,
    ) -> IssuedLicense:
        old = self.queries.get(license_id, history=False)
        if old.status != "01":
            with self.ctx.db.session() as s:  # a repeated request: the new version already exists
                done = s.scalar(
                    select(LicenseRecord).where(
                        LicenseRecord.previous_license_id == license_id, LicenseRecord.lineage == action
                    )
                )
                if done is not None:
                    return issued(done, existed=True)
            raise refuse(license_id, old.status, action)
        if old.version >= 999:
            raise RegistryError(f"license {license_id} has reached version 999", code="LICENSE_VERSION")
        t = _face.resolve_type(old.type_code)
        now = self.ctx.clock()
        day = local_date(now)
        kz = {**old.metadata.get("KZ", {}), **dict(fields)}
        renew = action == "renew"
        for k in _face.DATE_FIELDS:  # recomputed for the new dates
            if renew and k not in fields:
                kz.pop(k, None)
        req = IssueRequest(
            type_code=t.type_code,
            issuer_code=old.issuer_code,
            holders=old.holders,
            fields=kz,
            license_no=old.license_no,
            issue_date=day,
            valid_from=day if renew else date.fromisoformat(old.valid_from),
            valid_until=valid_until
            if valid_until is not None
            else (None if renew else (date.fromisoformat(old.valid_until) if old.valid_until else None)),
            idempotency_key=f"{license_id}:{action}",
            operation="01",
            actor=actor,
        )
        if renew and valid_until is None:
            req = replace(req, valid_until=t.validity_end(day))
        _face.check_request(t, req)
        if renew:
            _face.check_validity(t, req, day)
        serial = license_id.split(".")[-3]
        version = old.version + 1
        new_id = license_identifier(t.type_code, old.issuer_code, serial, version)
        uniq = _face.uniqueness_hash(
            t, req.holders, {**_face.derived_fields(t, req), **req.fields}, crypt=self.ctx.crypt
        )
        seal = self.ctx.material.seal(old.issuer_code)
        p = prepare(
            req,
            t,
            new_id,
            serial,
            version,
            req.fingerprint(),
            uniq,
            seal,
            now,
            verify_url=self.ctx.verify_url,
        )
        p.previous, p.lineage = license_id, action
        p.signed = self.ctx.material.signer(seal).sign(render(p.face))
        p.object_key = store_file(self.ctx.store, p.signed.pdf)
        failpoints.hit(AFTER_STORE)
        op, label = NEW_VERSION_ACTIONS[action]
        with self.ctx.db.session() as s:
            existing = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == new_id))
            if existing is not None:
                return issued(existing, existed=True)
            rec_old = _lock(s, license_id)
            _apply(s, rec_old, "04", op, f"{label}：{reason}（新版本 {new_id}）", actor, now, action)
            try:
                with s.begin_nested():
                    rec = insert_one(s, p, now.isoformat(), profile=self.ctx.profile)
            except IntegrityError as exc:
                raise UniquenessConflict(f"cannot register the new version {new_id}: {exc.orig}") from exc
            failpoints.hit(AFTER_REGISTER)
            append_many(
                s,
                LEDGER_STREAM,
                [
                    (
                        f"license.{action}",
                        {
                            "license_id": new_id,
                            "operation": op,
                            "to_status": "01",
                            "previous": license_id,
                            "certified_sha256": rec.certified_sha256,
                            "actor": actor,
                        },
                    )
                ],
                now=now,
            )
            record_event(s, "license.issued", "license", new_id, event_payload(rec, p))
            return issued(rec)


def _lock(s: Session, license_id: str) -> LicenseRecord:
    rec = s.scalar(
        select(LicenseRecord)
        .where(LicenseRecord.license_id == license_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if rec is None:
        raise LicenseNotFound(f"no license {license_id} in the registry")
    return rec


def _apply(
    s: Session,
    rec: LicenseRecord,
    to_status: str,
    operation: str,
    reason: str,
    actor: str,
    now: datetime,
    action: str,
) -> None:
    """One status change of a locked row: history, ledger entry and ``license.status_changed``."""
    t = TRANSITIONS.get(action)
    allowed = t.from_statuses if t is not None else frozenset({"01"})
    if rec.status not in allowed:
        raise refuse(rec.license_id, rec.status, action)
    before = rec.status
    stamp = now.isoformat()
    rec.status = to_status
    rec.status_changed_at = stamp
    rec.row_version += 1
    s.add(
        LicenseStatusChange(
            license_pk=rec.id,
            operation=operation,
            from_status=before,
            to_status=to_status,
            reason=reason[:500],
            actor=actor,
            at=stamp,
        )
    )
    payload = {
        "license_id": rec.license_id,
        "type_code": rec.type_code,
        "operation": operation,
        "from_status": before,
        "to_status": to_status,
        "reason": reason[:500],
        "actor": actor,
        "at": stamp,
    }
    append_many(s, LEDGER_STREAM, [(f"license.{action}", payload)], now=now)
    record_event(s, "license.status_changed", "license", rec.license_id, payload)
    s.flush()
