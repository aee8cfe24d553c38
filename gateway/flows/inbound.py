"""Department results inbound (``department_results_inbound``): approval data and status changes.

Both come from each department system in the peer registry as cursor-paged REST feeds
(:class:`connectors.feeds.FeedClient`); every page is checked and landed **in the same
transaction** that advances the feed's cursor (``connector_pull_cursor``, keys
``<peer>:approvals`` and ``<peer>:status``), so a crash resumes with no gap and no duplicate.

The gate for approval data (审批结果数据): the contract's model
(:class:`contracts.models.DepartmentApproval`) and the service item catalog — the item exists and
ends in a license, the license type and the approving department are the item's, and every face
field the catalog sources from ``approval`` is present. Failing rows go to the case store's
quarantine (table ``department_approval``) with every reason; passing ones to ``flow_approvals``
(idempotent by ``approval_id``).

Status changes (:func:`apply_status_changes`) go through the license lifecycle rules
(:meth:`licenses.LicenseRegistry.transition`): a change naming a license nobody issued is
quarantined ``status.unknown_license``; a transition the rules refuse ``status.illegal_transition``
(with the refusal); a change for a license whose case is still waiting to be issued stays
``pending``. A change is applied at most once: its ``change_id`` is written into the status
history's reason, and a re-run that finds it there only records it as applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.feeds import FeedClient, Page, read_cursor, save_cursor
from connectors.hooks import rest_auth
from contracts import rules as R
from contracts.catalog import load_catalog
from contracts.errors import CatalogError
from contracts.models import DepartmentApproval, DepartmentStatusChange
from contracts.wire import APPROVALS_PATH, STATUS_CHANGES_PATH
from core.casestore import CaseStore, QuarantineIn
from core.db import utcnow
from gateway.flows.context import FlowContext
from gateway.flows.models import (
    APPLIED,
    AWAITING,
    FAILED,
    PENDING,
    QUARANTINED,
    Approval,
    CaseLicense,
    StatusChange,
)

APPROVAL_TABLE = "department_approval"
STATUS_TABLE = "license_status_change"


@dataclass
class InboundReport:
    peer: str
    feed: str
    pages: int = 0
    rows: int = 0
    accepted: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def department_ids(ctx: FlowContext) -> list[str]:
    return [p.id for p in ctx.peers.peers("department")]


def _reason(rule_id: str, fld: str | None, detail: str) -> dict[str, Any]:
    return {"rule_id": rule_id, "field": fld, "detail": detail[:300]}


def check_approval(row: Mapping[str, Any]) -> tuple[DepartmentApproval | None, list[dict[str, Any]]]:
    """The approval and no reasons, or None and every reason it fails."""
    try:
        appr = DepartmentApproval.model_validate({k: v for k, v in row.items() if k != "late"})
    except ValidationError as exc:
        return None, [
            _reason(R.APPROVAL_SCHEMA, ".".join(str(p) for p in e["loc"]) or None, e["msg"])
            for e in exc.errors()
        ]
    reasons: list[dict[str, Any]] = []
    try:
        item = load_catalog().item(appr.task_code)
    except CatalogError:
        return None, [_reason(R.APPROVAL_UNKNOWN_ITEM, "task_code", f"no service item {appr.task_code}")]
    if item.license is None:
        return None, [_reason(R.APPROVAL_NO_LICENSE, "task_code", f"{item.name} does not end in a license")]
    if appr.type_code != item.license.type_code:
        reasons.append(
            _reason(R.APPROVAL_TYPE_MISMATCH, "type_code", f"{item.name} issues {item.license.type_code}")
        )
    if appr.org_code != item.department:
        reasons.append(
            _reason(R.APPROVAL_ORG_MISMATCH, "org_code", f"{item.name} is decided by {item.department}")
        )
    for key in dict.fromkeys(item.approval_keys):
        if key == "holders":
            if not appr.holders:
                reasons.append(
                    _reason(R.APPROVAL_MISSING_FIELD, "holders", "the item takes its holders from approval")
                )
        elif not appr.fields.get(key):
            reasons.append(
                _reason(R.APPROVAL_MISSING_FIELD, f"fields.{key}", f"{key} is sourced from approval")
            )
    return (None if reasons else appr), reasons


def check_status_change(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every reason a status-change record fails its contract (:class:`DepartmentStatusChange`)."""
    try:
        DepartmentStatusChange.model_validate(row)
    except ValidationError as exc:
        return [
            _reason(R.STATUS_SCHEMA, ".".join(str(p) for p in e["loc"]) or None, e["msg"])
            for e in exc.errors()
        ]
    return []


def _insert(session: Session, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _page_hash(peer: str, feed: str, cursor: str | None, page: Page) -> str:
    body = json.dumps([peer, feed, cursor, page.items], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _client(ctx: FlowContext, peer_id: str) -> FeedClient:
    ep = ctx.endpoint(peer_id)
    return FeedClient(ep.url, peer=peer_id, auth=rest_auth(ep), timing=ctx.timing, recorder=ctx.recorder())


def _pull(ctx: FlowContext, peer_id: str, feed: str, path: str, land: Any) -> InboundReport:
    rep = InboundReport(peer_id, feed)
    key = f"{peer_id}:{feed}"
    client = _client(ctx, peer_id)
    try:
        with ctx.db.session() as s:
            cursor = read_cursor(s, key)
        while True:
            page = client.page(path, cursor, ctx.settings.pipeline.pull_page_rows)
            with ctx.db.session() as s:
                land(s, rep, _page_hash(peer_id, feed, cursor, page), [r for _, r in page.items])
                if page.next_cursor != cursor:
                    save_cursor(s, key, page.next_cursor, len(page.items))
            rep.pages += 1
            rep.rows += len(page.items)
            cursor = page.next_cursor
            if not page.has_more or not page.items:
                return rep
    finally:
        if client.recorder is not None:
            client.recorder.flush()  # type: ignore[attr-defined]
        client.close()


def _quarantine(
    s: Session,
    rep: InboundReport,
    batch: str,
    table: str,
    bad: list[tuple[Mapping[str, Any], list[dict[str, Any]], str | None]],
) -> None:
    if not bad:
        return
    CaseStore().add_quarantined(
        s,
        [
            QuarantineIn(
                batch_hash=batch,
                reasons=reasons,
                row_guid=guid,
                table=table,
                project_no=row.get("project_no") if isinstance(row.get("project_no"), str) else None,
                raw=json.dumps(row, ensure_ascii=False, default=str),
            )
            for row, reasons, guid in bad
        ],
    )
    rep.quarantined += len(bad)
    for _, reasons, _ in bad:
        for r in {r["rule_id"] for r in reasons}:
            rep.reasons[r] = rep.reasons.get(r, 0) + 1


def pull_approvals(ctx: FlowContext, peer_id: str) -> dict[str, Any]:
    def land(s: Session, rep: InboundReport, batch: str, rows: list[dict[str, Any]]) -> None:
        now = utcnow().isoformat(timespec="microseconds")
        good: list[dict[str, Any]] = []
        bad: list[tuple[Mapping[str, Any], list[dict[str, Any]], str | None]] = []
        for row in rows:
            appr, reasons = check_approval(row)
            if appr is None:
                aid = row.get("approval_id")
                bad.append((row, reasons, aid if isinstance(aid, str) else None))
                continue
            good.append(
                {
                    "approval_id": appr.approval_id,
                    "peer": peer_id,
                    "project_no": appr.project_no,
                    "task_code": appr.task_code,
                    "type_code": appr.type_code,
                    "payload": appr.model_dump_json(),
                    "received_at": now,
                }
            )
        if good:
            stmt = _insert(s, Approval).values(good).on_conflict_do_nothing(index_elements=["approval_id"])
            rep.accepted += int(getattr(s.execute(stmt), "rowcount", 0) or 0)
        _quarantine(s, rep, batch, APPROVAL_TABLE, bad)

    return _pull(ctx, peer_id, "approvals", APPROVALS_PATH, land).as_dict()


def pull_status_changes(ctx: FlowContext, peer_id: str) -> dict[str, Any]:
    def land(s: Session, rep: InboundReport, batch: str, rows: list[dict[str, Any]]) -> None:
        now = utcnow().isoformat(timespec="microseconds")
        good: list[dict[str, Any]] = []
        bad: list[tuple[Mapping[str, Any], list[dict[str, Any]], str | None]] = []
        for row in rows:
            reasons = check_status_change(row)
            if reasons:
                cid = row.get("change_id")
                bad.append((row, reasons, cid if isinstance(cid, str) else None))
                continue
            good.append(
                {
                    "change_id": row["change_id"],
                    "peer": peer_id,
                    "type_code": row["type_code"],
                    "license_no": row["license_no"],
                    "project_no": row.get("project_no"),
                    "action": row["action"],
                    "reason": str(row["reason"])[:400],
                    "changed_at": row["changed_at"],
                    "state": PENDING,
                    "received_at": now,
                }
            )
        if good:
            stmt = _insert(s, StatusChange).values(good).on_conflict_do_nothing(index_elements=["change_id"])
            rep.accepted += int(getattr(s.execute(stmt), "rowcount", 0) or 0)
        _quarantine(s, rep, batch, STATUS_TABLE, bad)

    return _pull(ctx, peer_id, "status", STATUS_CHANGES_PATH, land).as_dict()


def _license_for(s: Session, type_code: str, license_no: str) -> str | None:
    from licenses.models import LicenseRecord

    return s.scalar(
        select(LicenseRecord.license_id)
        .where(LicenseRecord.type_code == type_code, LicenseRecord.license_no == license_no)
        .order_by(LicenseRecord.id.desc())
        .limit(1)
    )


def _settle(
    ctx: FlowContext,
    change: StatusChange,
    state: str,
    *,
    license_id: str | None,
    detail: str | None,
    rule: str | None,
) -> None:
    now = utcnow().isoformat(timespec="microseconds")
    with ctx.db.session() as s:
        row = s.get(StatusChange, change.id)
        assert row is not None
        if row.state != PENDING:
            return
        row.state, row.license_id, row.detail, row.settled_at = state, license_id, detail, now
        if rule is not None:
            doc = {
                "change_id": change.change_id,
                "type_code": change.type_code,
                "license_no": change.license_no,
                "project_no": change.project_no,
                "action": change.action,
                "reason": change.reason,
                "changed_at": change.changed_at,
            }
            CaseStore().add_quarantined(
                s,
                [
                    QuarantineIn(
                        batch_hash=hashlib.sha256(f"status:{change.change_id}".encode()).hexdigest(),
                        reasons=[
                            _reason(
                                rule,
                                "license_no" if rule.endswith("unknown_license") else "action",
                                detail or "",
                            )
                        ],
                        row_guid=change.change_id,
                        table=STATUS_TABLE,
                        project_no=change.project_no,
                        raw=json.dumps(doc, ensure_ascii=False),
                    )
                ],
            )


def apply_status_changes(ctx: FlowContext) -> dict[str, Any]:
    """Apply pending status changes in arrival order (see the module docstring)."""
    from gateway.flows.issue import discover_finished
    from licenses import TransitionRefused

    counts = {"applied": 0, "quarantined": 0, "pending": 0}
    discover_finished(ctx)  # a change may name the license of a case that finished a moment ago
    with ctx.db.session() as s:
        pending = list(
            s.scalars(select(StatusChange).where(StatusChange.state == PENDING).order_by(StatusChange.id))
        )
    for ch in pending:
        with ctx.db.session() as s:
            license_id = _license_for(s, ch.type_code, ch.license_no)
            waiting = None
            if license_id is None:
                waiting = s.scalar(
                    select(CaseLicense.project_no).where(
                        CaseLicense.type_code == ch.type_code,
                        CaseLicense.license_no == ch.license_no,
                        CaseLicense.state.in_((AWAITING, FAILED)),
                    )
                )
        if license_id is None:
            if waiting is not None:
                counts["pending"] += 1
                continue
            _settle(
                ctx,
                ch,
                QUARANTINED,
                license_id=None,
                detail=f"no license {ch.type_code} no. {ch.license_no} was issued here",
                rule=R.STATUS_UNKNOWN_LICENSE,
            )
            counts["quarantined"] += 1
            continue
        marker = f"[{ch.change_id}]"
        view = ctx.licenses.get(license_id)
        if any(marker in e.reason for e in view.history):
            _settle(ctx, ch, APPLIED, license_id=license_id, detail="found in the status history", rule=None)
            counts["applied"] += 1
            continue
        try:
            ctx.licenses.transition(
                license_id, ch.action, reason=f"{ch.reason} {marker}", actor=f"department:{ch.peer}"
            )
        except TransitionRefused as exc:
            _settle(
                ctx, ch, QUARANTINED, license_id=license_id, detail=str(exc), rule=R.STATUS_ILLEGAL_TRANSITION
            )
            counts["quarantined"] += 1
            continue
        _settle(ctx, ch, APPLIED, license_id=license_id, detail=None, rule=None)
        counts["applied"] += 1
    return counts


def inbound_counts(ctx: FlowContext) -> dict[str, Any]:
    from sqlalchemy import func

    with ctx.db.session() as s:
        approvals = int(s.scalar(select(func.count()).select_from(Approval)) or 0)
        states = dict(s.execute(select(StatusChange.state, func.count()).group_by(StatusChange.state)).all())
    return {"approvals": approvals, "status_changes": {str(k): int(v) for k, v in states.items()}}
