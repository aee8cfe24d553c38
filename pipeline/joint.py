"""Joint cases (联办件, 一件事一次办): one application of a theme, one 办件 per member, one result.

A member case is an accepted ``up_pro_accept`` row with a ``joint_no`` (and its ``theme_code``;
the quality gate quarantines a member that names no theme or is not an item of it). Its members
may arrive in any order and across batches.

1. :func:`track` — registers each joint case the first time one of its members is seen (the
   joint promise date from :func:`contracts.joint.plan_joint`: the longest path through the
   members in working days), adds members as they arrive, records their results, and settles the
   joint case: ``granted`` when every member of the theme finished with 准予 (result type 1),
   ``refused`` as soon as one member ended otherwise (不予许可, 撤回, 终止: the reason names the
   member and its result). :func:`flag` marks open joint cases past their promise date
   ``overdue``, once each, with a ``joint.overdue`` ledger entry (no personal data).
2. :func:`held_select` — member cases of a joint case that is still open: the issue flow holds
   their licenses (:func:`pipeline.issue.issue_ready`), so the licenses of a joint case are issued
   together, in one run, once every member has finished.
3. :func:`record_results` — for a settled joint case whose granted members' licenses are all
   issued, writes the one result record the holder gets: every member's result and license.

:func:`show` reads a joint case for the CLI (the holder from the members' sealed accept rows,
masked). Every step is idempotent.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from contracts.calendar import default_calendar
from contracts.catalog import load_catalog
from contracts.codes import CODE_LISTS
from contracts.errors import CatalogError
from contracts.joint import plan_joint
from core import ledger
from core.casestore import CaseRow, CaseStore
from core.db import utcnow
from core.jointcases import GRANTED, OPEN, OVERDUE, REFUSED, JointCase, JointMember
from core.masking import mask_id, mask_name
from core.sealing import open_value
from pipeline.context import FLOW_STREAM, FlowContext
from pipeline.errors import JointCaseError
from pipeline.models import ISSUED, CaseLicense

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ACCEPT, RESULT = "up_pro_accept", "up_pro_result"
RESULT_GRANTED = "1"


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="microseconds")


def _new_members(s: Session, page: int) -> dict[str, dict[str, Any]]:
    """Accept rows with a joint_no whose case is not a known member yet (first row per case)."""
    known = {str(p) for p in s.scalars(select(JointMember.project_no))}
    out: dict[str, dict[str, Any]] = {}
    after = 0
    while True:
        q = (
            select(CaseRow.id, CaseRow.project_no, CaseRow.row_guid, CaseRow.data)
            .where(CaseRow.table_name == ACCEPT, CaseRow.project_no.is_not(None), CaseRow.id > after)
            .order_by(CaseRow.id)
            .limit(page)
        )
        rows = list(s.execute(q))
        if not rows:
            return out
        after = rows[-1][0]
        for _id, pno, guid, data in rows:
            if str(pno) in known or str(pno) in out:
                continue
            row = json.loads(open_value(s, data, "case_rows", "data", guid))
            if row.get("joint_no"):
                out[str(pno)] = row


def _register(s: Session, members: dict[str, dict[str, Any]], stamp: str) -> tuple[int, list[str]]:
    """Add the new members (and their joint cases); returns (added, problems naming record and field).

    The quality gate quarantines a member naming no theme or an item outside it; a row that reached
    the case store around it is not registered, and is named in the problems (and the log) each run."""
    catalog, cal = load_catalog(), default_calendar()
    added = 0
    problems: list[str] = []
    for pno, row in sorted(members.items()):
        joint_no, theme_code = str(row["joint_no"]), str(row.get("theme_code") or "")
        try:
            theme = catalog.theme(theme_code)
            theme.member(str(row.get("task_code")))
        except CatalogError as exc:
            problems.append(f"up_pro_accept {pno}: theme_code / task_code of joint_no {joint_no}: {exc}")
            continue
        accept = date.fromisoformat(str(row["accept_date"])[:10])
        case = s.get(JointCase, joint_no)
        if case is None:
            plan = plan_joint(theme, catalog, accept, cal)
            case = JointCase(
                joint_no=joint_no,
                theme_code=theme.theme_code,
                region_code=theme.region_code,
                accept_date=accept.isoformat(),
                promise_date=plan.promise_date.isoformat(),
                provisional=plan.provisional,
                members=len(theme.members),
                joint_days=plan.joint_days,
                sequential_days=plan.sequential_days,
                state=OPEN,
                updated_at=stamp,
            )
            s.add(case)
            s.flush()
        elif case.theme_code != theme.theme_code:
            problems.append(
                f"up_pro_accept {pno}: theme_code {theme.theme_code}: joint_no {joint_no} is a joint "
                f"case of theme {case.theme_code}"
            )
            continue
        plan = plan_joint(theme, catalog, date.fromisoformat(case.accept_date), cal)
        m = plan.member(str(row["task_code"]))
        s.add(
            JointMember(
                project_no=pno,
                joint_no=joint_no,
                task_code=m.task_code,
                start_date=m.start.isoformat(),
                promise_date=m.promise_date.isoformat(),
            )
        )
        added += 1
    s.flush()
    for p in problems:
        log.warning("joint case member not registered: %s", p)
    return added, problems


def _reason(task_code: str, result_type: str) -> str:
    try:
        name = load_catalog().item(task_code).name
    except CatalogError:
        name = task_code
    label = CODE_LISTS["result_type"].codes.get(result_type, result_type)
    return f"{name} ({task_code}): {label}"


def track(ctx: FlowContext, *, now: datetime | None = None, page: int = 5000) -> dict[str, int]:
    """Register new joint cases and members, record member results, settle finished joint cases."""
    stamp = _stamp(now or utcnow())
    with ctx.db.session() as s:
        added, problems = _register(s, _new_members(s, page), stamp)
        open_cases = {
            c.joint_no: c for c in s.scalars(select(JointCase).where(JointCase.state.in_((OPEN, OVERDUE))))
        }
        members = list(s.scalars(select(JointMember).where(JointMember.joint_no.in_(sorted(open_cases)))))
        results = CaseStore().rows_by_project(s, RESULT, [m.project_no for m in members])
        by_case: dict[str, list[JointMember]] = {}
        for m in members:
            by_case.setdefault(m.joint_no, []).append(m)
            done = [r for r in results.get(m.project_no, []) if r.get("result_type")]
            if done and m.result_type is None:
                m.result_type = str(done[0]["result_type"])
                m.result_date = str(done[0].get("result_date") or "")[:10] or None
        settled = 0
        for joint_no, case in open_cases.items():
            ms = by_case.get(joint_no, [])
            bad = sorted(
                (m for m in ms if m.result_type not in (None, RESULT_GRANTED)),
                key=lambda m: (m.result_date or "", m.project_no),
            )
            finished = [m for m in ms if m.result_type is not None]
            if bad:
                case.state, case.reason = REFUSED, _reason(bad[0].task_code, str(bad[0].result_type))[:500]
            elif len(finished) == case.members:
                case.state = GRANTED
            else:
                continue
            case.done_date = max((m.result_date or "" for m in finished), default="") or None
            case.updated_at = stamp
            settled += 1
    return {"added": added, "settled": settled, "open": len(open_cases) - settled, "rejected": len(problems)}


def flag(ctx: FlowContext, *, now: datetime | None = None) -> int:
    """Mark open joint cases past their joint promise date (today in Asia/Shanghai) overdue, once."""
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date().isoformat()
    with ctx.db.session() as s:
        due = list(
            s.scalars(
                select(JointCase)
                .where(JointCase.state == OPEN, JointCase.promise_date < today)
                .order_by(JointCase.promise_date, JointCase.joint_no)
            )
        )
        stamp = _stamp(now)
        for c in due:
            c.state, c.flagged_at, c.updated_at = OVERDUE, stamp, stamp
        if due:
            ledger.append_many(
                s,
                FLOW_STREAM,
                [
                    (
                        "joint.overdue",
                        {
                            "joint_no": c.joint_no,
                            "theme_code": c.theme_code,
                            "promise_date": c.promise_date,
                            "provisional": c.provisional,
                            "as_of": today,
                        },
                    )
                    for c in due
                ],
                now=now,
            )
        return len(due)


def held_select() -> Select[Any]:
    """The case numbers of members of joint cases still open (their licenses wait), as a subquery."""
    return (
        select(JointMember.project_no)
        .join(JointCase, JointCase.joint_no == JointMember.joint_no)
        .where(JointCase.state.in_((OPEN, OVERDUE)))
    )


def record_results(ctx: FlowContext, *, now: datetime | None = None) -> int:
    """Write the result record of every settled joint case whose granted licenses are all issued."""
    catalog = load_catalog()
    stamp = _stamp(now or utcnow())
    written = 0
    with ctx.db.session() as s:
        cases = list(
            s.scalars(
                select(JointCase).where(
                    JointCase.state.in_((GRANTED, REFUSED)), JointCase.result_at.is_(None)
                )
            )
        )
        for case in cases:
            members = list(s.scalars(select(JointMember).where(JointMember.joint_no == case.joint_no)))
            licenses = {
                c.project_no: c
                for c in s.scalars(
                    select(CaseLicense).where(CaseLicense.project_no.in_([m.project_no for m in members]))
                )
            }
            entries: list[dict[str, Any]] = []
            waiting = False
            theme = catalog.theme(case.theme_code)
            seen = {m.task_code: m for m in members}
            for code in theme.order():
                item = catalog.item(code)
                m = seen.get(code)
                lic = licenses.get(m.project_no) if m is not None else None
                granted = m is not None and m.result_type == RESULT_GRANTED and item.license is not None
                if granted and (lic is None or lic.state != ISSUED):
                    waiting = True  # finished and granted: its license is on its way
                entries.append(
                    {
                        "task_code": code,
                        "item": item.name,
                        "project_no": m.project_no if m is not None else None,
                        "result_type": m.result_type if m is not None else None,
                        "result_date": m.result_date if m is not None else None,
                        "type_code": item.license.type_code if item.license is not None else None,
                        "license_id": lic.license_id if lic is not None and lic.state == ISSUED else None,
                    }
                )
            if waiting:
                continue
            case.result = json.dumps(
                {
                    "joint_no": case.joint_no,
                    "theme_code": case.theme_code,
                    "theme": theme.name,
                    "state": case.state,
                    "reason": case.reason,
                    "members": entries,
                    "licenses": [e["license_id"] for e in entries if e["license_id"]],
                },
                ensure_ascii=False,
            )
            case.result_at = case.updated_at = stamp
            written += 1
    return written


def show(ctx: FlowContext, joint_no: str) -> dict[str, Any]:
    """One joint case with its members and result record, the holder masked (CLI and summary)."""
    with ctx.db.session() as s:
        case = s.get(JointCase, joint_no)
        if case is None:
            raise JointCaseError(f"no joint case (联办件) {joint_no!r}")
        members = list(
            s.scalars(
                select(JointMember).where(JointMember.joint_no == joint_no).order_by(JointMember.start_date)
            )
        )
        accepts = CaseStore().rows_by_project(s, ACCEPT, [m.project_no for m in members])
        first = next((rows[0] for rows in accepts.values() if rows), {})
        return {
            "joint_no": case.joint_no,
            "theme_code": case.theme_code,
            "theme": load_catalog().theme(case.theme_code).name,
            "state": case.state,
            "reason": case.reason,
            "accept_date": case.accept_date,
            "promise_date": case.promise_date,
            "provisional": case.provisional,
            "joint_days": case.joint_days,
            "sequential_days": case.sequential_days,
            "days_saved": case.sequential_days - case.joint_days,
            "holder": {
                "name": mask_name(str(first.get("applyer_name") or "")),
                "id": mask_id(str(first.get("applyer_id") or "")),
            },
            "members": [
                {
                    "project_no": m.project_no,
                    "task_code": m.task_code,
                    "start_date": m.start_date,
                    "promise_date": m.promise_date,
                    "result_type": m.result_type,
                    "result_date": m.result_date,
                }
                for m in members
            ],
            "result": json.loads(case.result) if case.result else None,
        }
