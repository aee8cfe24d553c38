"""``tongban cases joint``: joint cases (联办件, 一件事一次办) and their one result (see ``register``).

    tongban cases joint list [--state open|overdue|granted|refused|all] [--limit N] [--refresh] [--json]
    tongban cases joint show JOINT_NO [--json]

``--refresh`` tracks joint cases now (``pipeline.joint.track`` then ``flag``), as the issue and
SLA flows do. ``show`` prints the theme, the joint promise date, every member's window and
result, the result record (its licenses) and the holder, masked. Exit codes: 0 shown; 1 no such
joint case; 2 missing setup.
"""

from __future__ import annotations

from typing import Any

import typer

from contracts.errors import TongbanError
from core.errors import CoreError
from tongban.cli._common import EXIT_USAGE, JsonOpt, console, emit_json, fail

app = typer.Typer(no_args_is_help=True, help="Joint cases (联办件): one application, several departments.")
STATES = ("open", "overdue", "granted", "refused", "all")


@app.command("list")
def list_(
    state: str = typer.Option("all", "--state", help="open, overdue, granted, refused or all."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    refresh: bool = typer.Option(False, "--refresh", help="Track joint cases now before listing."),
    json_out: bool = JsonOpt,
) -> None:
    """Joint cases by promise date."""
    from sqlalchemy import select

    from core.jointcases import JointCase
    from pipeline import FlowContext, joint
    from tongban.cli._common import settings

    if state not in STATES:
        fail(f"unknown state {state!r}", hint=f"use one of {', '.join(STATES)}")
    ctx = FlowContext(settings())
    try:
        ran: dict[str, Any] = {}
        if refresh:
            ran = {**joint.track(ctx), "flagged": joint.flag(ctx)}
        with ctx.db.session() as s:
            q = select(JointCase).order_by(JointCase.promise_date, JointCase.joint_no).limit(limit)
            if state != "all":
                q = q.where(JointCase.state == state)
            rows = [
                {
                    "joint_no": c.joint_no,
                    "theme_code": c.theme_code,
                    "state": c.state,
                    "accept_date": c.accept_date,
                    "promise_date": c.promise_date,
                    "provisional": c.provisional,
                    "members": c.members,
                    "days_saved": c.sequential_days - c.joint_days,
                    "result": c.result_at is not None,
                }
                for c in s.scalars(q)
            ]
    except CoreError as exc:
        fail(f"{exc} [{exc.code}]", hint="run `tongban init` first (database and migrations)")
    finally:
        ctx.close()
    if json_out:
        emit_json({"refresh": ran or None, "joint_cases": rows})
        return
    if ran:
        console.print(f"tracked: {ran}")
    if not rows:
        console.print("no joint cases")
    for r in rows:
        console.print(
            f"  {r['joint_no']}  {r['state']:<8} theme {r['theme_code']}  accepted {r['accept_date']}  "
            f"promised {r['promise_date']}{' (provisional)' if r['provisional'] else ''}  "
            f"{r['members']} members, {r['days_saved']} working days saved"
        )


@app.command()
def show(
    joint_no: str = typer.Argument(..., help="The joint case number (联办件编号)."), json_out: bool = JsonOpt
) -> None:
    """One joint case: members, their results, the licenses issued together (holder masked)."""
    from pipeline import FlowContext, joint
    from pipeline.errors import JointCaseError
    from tongban.cli._common import settings

    ctx = FlowContext(settings())
    try:
        doc = joint.show(ctx, joint_no)
    except JointCaseError as exc:
        fail(f"{exc} [{exc.code}]", code=1, hint="`tongban cases joint list --refresh` lists the known ones")
    except (CoreError, TongbanError) as exc:
        fail(f"{exc} [{exc.code}]", code=EXIT_USAGE, hint="run `tongban init` first")
    finally:
        ctx.close()
    if json_out:
        emit_json(doc)
        return
    console.print(
        f"{doc['joint_no']}  {doc['theme']} ({doc['theme_code']})  state {doc['state']}"
        + (f" — {doc['reason']}" if doc["reason"] else "")
    )
    console.print(
        f"  holder {doc['holder']['name']} {doc['holder']['id']}  accepted {doc['accept_date']}  "
        f"promised {doc['promise_date']}{' (provisional)' if doc['provisional'] else ''}  "
        f"({doc['joint_days']} working days; {doc['sequential_days']} one after another)"
    )
    for m in doc["members"]:
        console.print(
            f"  member {m['project_no']}  item {m['task_code']}  {m['start_date']} → {m['promise_date']}  "
            f"result {m['result_type'] or '-'} {m['result_date'] or ''}"
        )
    result = doc["result"]
    if result is None:
        console.print("  result: not yet (a member is working, or a license is being issued)")
    else:
        console.print(f"  result: {len(result['licenses'])} license(s) issued together")
        for lid in result["licenses"]:
            console.print(f"    {lid}")


def register(cases_app: typer.Typer) -> None:
    cases_app.add_typer(app, name="joint")
