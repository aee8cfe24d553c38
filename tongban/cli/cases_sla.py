"""``tongban cases deadlines``: the SLA monitor's view of the cases (registered by ``register``).

    tongban cases deadlines [--state overdue|open|done|done_late|all] [--limit N] [--refresh] [--json]

``--refresh`` runs the monitor now (``pipeline.sla``: track deadlines, then flag overdue cases),
as the ``sla_monitor`` DAG does every hour. Exit codes: 0 listed; 2 missing setup (with what to do).
"""

from __future__ import annotations

from typing import Any

import typer

from core.errors import CoreError
from tongban.cli._common import JsonOpt, console, emit_json, fail, settings

STATES = ("overdue", "open", "done", "done_late", "all")


def deadlines(
    state: str = typer.Option("overdue", "--state", help="overdue, open, done, done_late or all."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Cases to list (latest deadline last)."),
    refresh: bool = typer.Option(False, "--refresh", help="Run the SLA monitor now before listing."),
    json_out: bool = JsonOpt,
) -> None:
    """Cases by deadline (承诺办结日期 + special procedures): overdue ones first of all."""
    from sqlalchemy import select

    from pipeline import FlowContext, sla
    from pipeline.models import CaseDeadline

    if state not in STATES:
        fail(f"unknown state {state!r}", hint=f"use one of {', '.join(STATES)}")
    ctx = FlowContext(settings())
    try:
        ran: dict[str, Any] = {}
        if refresh:
            ran = {**sla.track(ctx), "flagged": sla.flag(ctx)}
        with ctx.db.session() as s:
            q = select(CaseDeadline).order_by(CaseDeadline.deadline, CaseDeadline.project_no).limit(limit)
            if state != "all":
                q = q.where(CaseDeadline.state == state)
            rows = [
                {
                    "project_no": d.project_no,
                    "task_code": d.task_code,
                    "org_code": d.org_code,
                    "accept_date": d.accept_date,
                    "promise_date": d.promise_date,
                    "deadline": d.deadline,
                    "provisional": d.provisional,
                    "state": d.state,
                    "done_date": d.done_date,
                    "flagged_at": d.flagged_at,
                }
                for d in s.scalars(q)
            ]
        totals = sla.counts(ctx)
    except CoreError as exc:
        fail(f"{exc} [{exc.code}]", hint="run `tongban init` first (database and migrations)")
    if json_out:
        emit_json({"refresh": ran or None, "counts": totals, "cases": rows})
        return
    if ran:
        console.print(f"monitor: {ran}")
    console.print(f"cases by state: {totals or 'none tracked yet (run with --refresh)'}")
    for r in rows:
        mark = " (provisional)" if r["provisional"] else ""
        done = f", done {r['done_date']}" if r["done_date"] else ""
        console.print(
            f"  {r['project_no']}  {r['state']:<9} deadline {r['deadline']}{mark} "
            f"(promised {r['promise_date']}{done})  item {r['task_code']}  dept {r['org_code']}"
        )


def register(cases_app: typer.Typer) -> None:
    cases_app.command("deadlines")(deadlines)
