"""The figures of a pipeline run, read back from where they live: the database (case store,
outbox, registry, flow tables, ledger), the object store (report and license files) and the
province itself (its SOAP query operations). The demo prints them; a test recomputes them
independently and compares.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from connectors import outbox
from connectors.models import OutboxRow
from core import ledger
from core.casestore import HOLD_OPEN, Q_OPEN, BatchRecord, CaseRow, HeldRow, QuarantinedRow
from core.jointcases import JointCase, JointMember
from core.store import Zone
from licenses.models import LicenseRecord
from pipeline.context import FlowContext
from pipeline.inbound import APPROVAL_TABLE, STATUS_TABLE
from pipeline.models import (
    AWAITING,
    FAILED,
    ISSUED,
    Approval,
    CaseDeadline,
    CaseLicense,
    RawBatch,
    StatusChange,
)
from pipeline.push import province_client, province_peer


def _n(s: Any, q: Any) -> int:
    return int(s.scalar(q) or 0)


def collect(ctx: FlowContext, *, verify: bool = True, verify_limit: int | None = None) -> dict[str, Any]:
    peer = province_peer(ctx)
    doc: dict[str, Any] = {}
    with ctx.db.session() as s:
        doc["raw_batches"] = _n(s, select(func.count()).select_from(RawBatch))
        doc["rows_ingested"] = _n(s, select(func.coalesce(func.sum(RawBatch.rows), 0)))
        doc["rows_by_county"] = {
            str(p): int(n)
            for p, n in s.execute(select(RawBatch.peer, func.sum(RawBatch.rows)).group_by(RawBatch.peer))
        }
        doc["batches_validated"] = _n(
            s,
            select(func.count())
            .select_from(BatchRecord)
            .where(BatchRecord.batch_hash.in_(select(RawBatch.batch_hash))),
        )
        doc["rows_curated"] = _n(s, select(func.count()).select_from(CaseRow))
        doc["rows_held"] = _n(s, select(func.count()).select_from(HeldRow).where(HeldRow.status == HOLD_OPEN))
        case_tables = QuarantinedRow.table_name.notin_(
            (APPROVAL_TABLE, STATUS_TABLE)
        ) | QuarantinedRow.table_name.is_(None)
        quarantined = list(
            s.scalars(select(QuarantinedRow).where(QuarantinedRow.status == Q_OPEN, case_tables))
        )
        doc["rows_quarantined"] = len(quarantined)
        reasons: Counter[str] = Counter()
        for q in quarantined:
            reasons.update({r["rule_id"] for r in q.reason_list()})
        doc["quarantine_top_reasons"] = reasons.most_common(5)
        other = s.execute(
            select(QuarantinedRow.table_name, func.count())
            .where(
                QuarantinedRow.status == Q_OPEN, QuarantinedRow.table_name.in_((APPROVAL_TABLE, STATUS_TABLE))
            )
            .group_by(QuarantinedRow.table_name)
        ).all()
        doc["approvals_quarantined"] = int(dict(other).get(APPROVAL_TABLE, 0))
        doc["status_changes_quarantined"] = int(dict(other).get(STATUS_TABLE, 0))
        doc["status_change_reasons"] = dict(
            Counter(
                r["rule_id"]
                for q in s.scalars(select(QuarantinedRow).where(QuarantinedRow.table_name == STATUS_TABLE))
                for r in q.reason_list()
            )
        )
        doc["rows_pushed"] = _n(
            s,
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.peer == peer, OutboxRow.kind == "case_row", OutboxRow.state == "delivered"),
        )
        doc["rows_not_delivered"] = _n(
            s,
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.peer == peer, OutboxRow.kind == "case_row", OutboxRow.state != "delivered"),
        )
        event_ids = list(
            s.scalars(
                select(OutboxRow.row_guid).where(
                    OutboxRow.peer == peer, OutboxRow.kind == "event", OutboxRow.state == "delivered"
                )
            )
        )
        doc["events_delivered"] = len(event_ids)
        doc["approvals_received"] = _n(s, select(func.count()).select_from(Approval))
        states = dict(s.execute(select(CaseLicense.state, func.count()).group_by(CaseLicense.state)).all())
        doc["finished_license_cases"] = int(sum(states.values()))
        doc["licenses_issued"] = int(states.get(ISSUED, 0))
        doc["issue_failed"] = int(states.get(FAILED, 0))
        doc["awaiting_approval"] = int(states.get(AWAITING, 0))
        doc["awaiting_flagged"] = _n(
            s,
            select(func.count())
            .select_from(CaseLicense)
            .where(CaseLicense.state == AWAITING, CaseLicense.flagged_at.is_not(None)),
        )
        doc["status_changes"] = {
            str(k): int(v)
            for k, v in s.execute(select(StatusChange.state, func.count()).group_by(StatusChange.state))
        }
        doc["licenses_expired"] = _n(  # moved to 05 失效 by the expiry sweep (license_expiry)
            s, select(func.count()).select_from(LicenseRecord).where(LicenseRecord.status == "05")
        )
        doc["case_deadlines"] = {  # the SLA monitor's view (sla_monitor): open, overdue, done, done_late
            str(k): int(v)
            for k, v in s.execute(select(CaseDeadline.state, func.count()).group_by(CaseDeadline.state))
        }
        doc["joint"] = _joint(s)
        last = s.scalars(
            select(BatchRecord)
            .where(BatchRecord.batch_hash.in_(select(RawBatch.batch_hash)))
            .order_by(BatchRecord.quarantined.desc(), BatchRecord.validated_at)
            .limit(1)
        ).first()
        report = last.outcome_doc().get("report") if last else None
        one = s.scalar(
            select(CaseLicense.license_id)
            .where(CaseLicense.state == ISSUED)
            .order_by(CaseLicense.project_no)
            .limit(1)
        )
        chains = ledger.verify_chain(s)
    from pipeline import materials

    doc["materials"] = materials.counts(ctx)  # 容缺 and 免提交 (issue 18)
    doc["ledger_chains"] = {r.stream: {"entries": r.entries, "ok": r.ok} for r in chains}
    doc["ledger_ok"] = all(r.ok for r in chains)
    doc["dq_report"] = _path(ctx, report) if report else None
    doc["license_example"] = None
    if one:
        view = ctx.licenses.get(one, history=False)
        doc["license_example"] = {
            "license_id": one,
            "path": _path(ctx, f"{Zone.LICENSES.value}/{view.object_key}"),
        }
    client = province_client(ctx)  # reads retry refused replies; windows and pages fit the limit
    try:
        span = outbox.delivered_day_span(ctx.db, peer)
        doc["province_rows"] = sum(client.counts(*span).values()) if span else 0
        found = client.lookup(event_ids) if event_ids else {}
        doc["province_events"] = sum(1 for p in found.values() if p.found)
    finally:
        client.close()
    if verify:
        from pipeline.issue import verify_issued

        doc["verification"] = verify_issued(ctx, limit=verify_limit)
    return doc


def _joint(s: Any) -> dict[str, Any]:
    """Joint cases (联办件): how many, their members, the licenses each yielded (issued together, in
    its result record), and the working days saved against doing the members one after another."""
    cases = list(s.scalars(select(JointCase)))
    per_case: Counter[int] = Counter()
    for c in cases:  # over the joint cases whose one result is written
        if c.result:
            per_case[len(json.loads(c.result)["licenses"])] += 1
    return {
        "cases": len(cases),
        "members": _n(s, select(func.count()).select_from(JointMember)),
        "states": dict(Counter(c.state for c in cases)),
        "with_result": sum(1 for c in cases if c.result_at is not None),
        "licenses": sum(n * k for n, k in per_case.items()),
        "licenses_per_case": {str(n): k for n, k in sorted(per_case.items())},
        "working_days_saved": sum(c.sequential_days - c.joint_days for c in cases),
    }


def _path(ctx: FlowContext, locator: str) -> str:
    """A file path for a store locator ``zone/key`` (folder store), else the locator itself."""
    zone, _, key = locator.partition("/")
    path_for = getattr(ctx.store, "path_for", None)
    if path_for is None:
        return locator
    return str(path_for(zone, key))


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1, default=str)
