"""Department results inbound (``department_results_inbound``): approval data and status changes.

Both come from each department system in the peer registry as cursor-paged REST feeds
(:class:`connectors.feeds.FeedClient`); every page is checked and landed **in the same
transaction** that advances the feed's cursor (``connector_pull_cursor``, keys
``<peer>:approvals`` and ``<peer>:status``), so a crash resumes with no gap and no duplicate.

The gate for approval data (审批结果数据) and status changes is the quality package's
(:mod:`quality.inbound`: the contract's model and the service item catalog). Failing rows go to the
case store's quarantine (table ``department_approval``) with every reason; passing ones to ``flow_approvals``
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

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.feeds import FeedClient, Page, pull_pages
from contracts import rules as R
from contracts.wire import APPROVALS_PATH, STATUS_CHANGES_PATH
from core.casestore import CaseStore, QuarantineIn
from core.db import insert_ignore, utcnow
from core.sealing import seal_value
from pipeline.context import FlowContext
from pipeline.models import (
    APPLIED,
    AWAITING,
    FAILED,
    PENDING,
    QUARANTINED,
    Approval,
    CaseLicense,
    StatusChange,
)
from quality.inbound import check_approval, check_status_change, reason

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


def _page_hash(peer: str, feed: str, cursor: str | None, page: Page) -> str:
    body = json.dumps([peer, feed, cursor, page.items], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _pull(ctx: FlowContext, peer_id: str, feed: str, path: str, land: Any) -> InboundReport:
    rep = InboundReport(peer_id, feed)
    hook = ctx.hook(peer_id)
    client: FeedClient = hook.get_conn()

    def land_page(s: Session, cursor: str | None, page: Page) -> None:
        land(s, rep, _page_hash(peer_id, feed, cursor, page), [r for _, r in page.items])

    try:
        rep.pages, rep.rows, _ = pull_pages(
            ctx.db,
            f"{peer_id}:{feed}",
            client,
            path,
            land_page,
            page_size=ctx.settings.pipeline.pull_page_rows,
        )
        return rep
    finally:
        hook.recorder.flush()  # type: ignore[union-attr]
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
                    "payload": seal_value(
                        s, appr.model_dump_json(), "flow_approvals", "payload", appr.approval_id
                    ),
                    "received_at": now,
                }
            )
        rep.accepted += insert_ignore(s, Approval, good, ("approval_id",))
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
        rep.accepted += insert_ignore(s, StatusChange, good, ("change_id",))
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
                            reason(
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
    from licenses import TransitionRefused
    from pipeline.issue import discover_finished

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
