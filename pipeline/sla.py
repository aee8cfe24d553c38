"""Flow 7, watch: the SLA monitor (办件时限监控) — cases past their promised completion date.

Each accepted case (an ``up_pro_accept`` row in the case store) gets a deadline: its promise_date
(承诺办结日期, the promise_day-th working day after acceptance, checked at intake), extended by the
working days inside its special procedures (听证, 公告, 鉴定, 现场勘查 …: ``up_pro_special_procedure``
rows; DOMAIN.md §6 — overlapping periods merged, both ends counted). A deadline that reaches a year
the working-day calendar does not know is computed weekends-only and marked provisional.

:func:`track` registers new cases and, for every case still open or overdue, recomputes its
deadline from the procedures seen so far and closes it when its result row (``up_pro_result``)
arrives: ``done``, or ``done_late`` when the result date is after the deadline.
:func:`flag` marks open cases whose deadline has passed (in Asia/Shanghai) as ``overdue`` — once
each, with an entry ``case.overdue`` in the flows' ledger stream (case number, item, department,
dates; no personal data). Both are idempotent: running them again with nothing new changes nothing.

容缺 materials (issue 18, README "容缺受理 and 免提交"): :func:`flag_missed` flags each one whose
supply date passed unsupplied, once; while it stays unsupplied its case is not flagged overdue (the
clock is stopped), and when the supply arrives late the days from the day after supply_by to the
supply date (working days, both ends) extend the deadline like a special procedure
(:func:`supply_delays`; ``procedures`` counts both kinds of period).

Joint cases (联办件): each member is a case here like any other (its promise_date is its own
window); :func:`track` also tracks the joint cases (:func:`pipeline.joint.track`) and
:func:`flag` flags those past the joint promise date (``joint.overdue``), counted with the cases.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from contracts.calendar import default_calendar
from core import ledger
from core.casematerials import DEFERRED, MISSING, CaseMaterial
from core.casestore import CaseRow, CaseStore
from core.db import utcnow
from core.sealing import open_value
from pipeline import joint
from pipeline.context import FLOW_STREAM, FlowContext
from pipeline.models import DONE, DONE_LATE, OPEN, OVERDUE, CaseDeadline

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACCEPT, RESULT, SPECIAL = "up_pro_accept", "up_pro_result", "up_pro_special_procedure"


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def supply_delays(materials: list[CaseMaterial]) -> list[dict[str, Any]]:
    """The periods a late supply stopped the clock (README, 容缺受理): from the day after a 容缺
    material's supply_by to the day it was supplied, both included — shaped like special procedures."""
    out = []
    for m in materials:
        due, got = _date(m.supply_by), _date(m.supplied_date)
        if m.kind == DEFERRED and due is not None and got is not None and got > due:
            out.append({"start_date": (due + timedelta(days=1)).isoformat(), "end_date": got.isoformat()})
    return out


def _deadline(promise: date, procedures: list[dict[str, Any]]) -> tuple[date, bool]:
    periods = []
    for p in procedures:
        a, b = _date(p.get("start_date")), _date(p.get("end_date"))
        if a is not None and b is not None and a <= b:
            periods.append((a, b))
    if not periods:
        return promise, False
    res = default_calendar().extended_deadline(promise, periods)
    return res.date, res.provisional


def track(ctx: FlowContext, *, now: datetime | None = None, page: int = 5000) -> dict[str, int]:
    """Register new accepted cases; recompute deadlines and close the cases whose result arrived."""
    stamp = (now or utcnow()).isoformat(timespec="microseconds")
    added = closed = 0
    with ctx.db.session() as s:
        while True:  # new cases, a page at a time
            known = select(CaseDeadline.project_no)
            q = (
                select(CaseRow.project_no, CaseRow.row_guid, CaseRow.data)
                .where(
                    CaseRow.table_name == ACCEPT,
                    CaseRow.project_no.is_not(None),
                    CaseRow.project_no.not_in(known),
                )
                .order_by(CaseRow.id)
                .limit(page)
            )
            fresh: dict[str, dict[str, Any]] = {}
            for pno, guid, data in s.execute(q):
                if str(pno) not in fresh:  # the first accepted row of the case
                    fresh[str(pno)] = json.loads(open_value(s, data, "case_rows", "data", guid))
            if not fresh:
                break
            for pno, row in fresh.items():
                promise = _date(row.get("promise_date"))
                if promise is None:  # intake requires it; nothing to watch without it
                    continue
                s.add(
                    CaseDeadline(
                        project_no=pno,
                        task_code=row.get("task_code"),
                        org_code=row.get("org_code"),
                        region_code=row.get("region_code"),
                        accept_date=str(row.get("accept_date") or "")[:10] or None,
                        promise_date=promise.isoformat(),
                        deadline=promise.isoformat(),
                        provisional=False,
                        procedures=0,
                        state=OPEN,
                        updated_at=stamp,
                    )
                )
                added += 1
            s.flush()
            if len(fresh) < page:
                break
        watched = list(s.scalars(select(CaseDeadline).where(CaseDeadline.state.in_((OPEN, OVERDUE)))))
        by_no = {d.project_no: d for d in watched}
        nos = sorted(by_no)
        cases = CaseStore()
        specials = cases.rows_by_project(s, SPECIAL, nos)
        results = cases.rows_by_project(s, RESULT, nos)
        materials: dict[str, list[CaseMaterial]] = {}
        for i in range(0, len(nos), 500):
            for m in s.scalars(
                select(CaseMaterial).where(
                    CaseMaterial.project_no.in_(nos[i : i + 500]), CaseMaterial.kind == DEFERRED
                )
            ):
                materials.setdefault(m.project_no, []).append(m)
        for pno, d in by_no.items():
            procs = specials.get(pno, []) + supply_delays(materials.get(pno, []))
            if len(procs) != d.procedures:
                deadline, provisional = _deadline(date.fromisoformat(d.promise_date), procs)
                d.deadline, d.provisional, d.procedures = deadline.isoformat(), provisional, len(procs)
                d.updated_at = stamp
            done = [r for r in results.get(pno, []) if _date(r.get("result_date")) is not None]
            if done:
                finished = min(_date(r.get("result_date")) or date.max for r in done)
                d.done_date = finished.isoformat()
                d.state = DONE_LATE if finished > date.fromisoformat(d.deadline) else DONE
                d.updated_at = stamp
                closed += 1
    joint.track(ctx, now=now)
    return {"added": added, "closed": closed, "watched": len(watched) - closed}


def _stopped() -> Any:
    """Case numbers whose clock a missed supply date stopped (a 容缺 material past due, unsupplied)."""
    return select(CaseMaterial.project_no).where(
        CaseMaterial.kind == DEFERRED, CaseMaterial.state == MISSING, CaseMaterial.missed_at.is_not(None)
    )


def flag_missed(ctx: FlowContext, *, now: datetime | None = None) -> int:
    """Flag each 容缺 material whose supply date (补正期限) passed unsupplied — once (``missed_at``,
    one ``material.supply_missed`` entry in the flows' ledger stream); from then on its case's clock
    is stopped until the supply arrives (README, 容缺受理). Returns how many were flagged now."""
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date().isoformat()
    stamp = now.isoformat(timespec="microseconds")
    with ctx.db.session() as s:
        due = list(
            s.scalars(
                select(CaseMaterial)
                .where(
                    CaseMaterial.kind == DEFERRED,
                    CaseMaterial.state == MISSING,
                    CaseMaterial.missed_at.is_(None),
                    CaseMaterial.supply_by < today,
                )
                .order_by(CaseMaterial.supply_by, CaseMaterial.row_guid)
            )
        )
        for m in due:
            m.missed_at, m.updated_at = stamp, stamp
        if due:
            ledger.append_many(
                s,
                FLOW_STREAM,
                [
                    (
                        "material.supply_missed",
                        {
                            "project_no": m.project_no,
                            "material_row_guid": m.row_guid,
                            "material": m.material_name,
                            "supply_by": m.supply_by,
                            "as_of": today,
                        },
                    )
                    for m in due
                ],
                now=now,
            )
        return len(due)


def flag(ctx: FlowContext, *, now: datetime | None = None) -> int:
    """Mark open cases (and joint cases) past their deadline (today in Asia/Shanghai) as overdue,
    once each — except a case whose clock a missed supply date stopped (:func:`flag_missed`);
    returns how many were flagged."""
    now = now or utcnow()
    joint_flagged = joint.flag(ctx, now=now)
    today = now.astimezone(SHANGHAI).date().isoformat()
    with ctx.db.session() as s:
        due = list(
            s.scalars(
                select(CaseDeadline)
                .where(
                    CaseDeadline.state == OPEN,
                    CaseDeadline.deadline < today,
                    CaseDeadline.project_no.not_in(_stopped()),
                )
                .order_by(CaseDeadline.deadline, CaseDeadline.project_no)
            )
        )
        stamp = now.isoformat(timespec="microseconds")
        for d in due:
            d.state, d.flagged_at, d.updated_at = OVERDUE, stamp, stamp
        if due:
            ledger.append_many(
                s,
                FLOW_STREAM,
                [
                    (
                        "case.overdue",
                        {
                            "project_no": d.project_no,
                            "task_code": d.task_code,
                            "org_code": d.org_code,
                            "promise_date": d.promise_date,
                            "deadline": d.deadline,
                            "provisional": d.provisional,
                            "as_of": today,
                        },
                    )
                    for d in due
                ],
                now=now,
            )
        return len(due) + joint_flagged


def counts(ctx: FlowContext) -> dict[str, int]:
    """Cases by SLA state (for the summary and ``tongban cases``)."""
    with ctx.db.session() as s:
        return {
            str(state): int(n)
            for state, n in s.execute(select(CaseDeadline.state, func.count()).group_by(CaseDeadline.state))
        }
