"""``tongban outbox list|replay ID|release ID|reconcile|deliver``: the delivery outbox of connectors."""

from __future__ import annotations

import typer
from sqlalchemy import inspect

from connectors import outbox as ob
from connectors.models import STATES
from core.db import Database
from core.runtime import open_database
from tongban.cli._common import EXIT_NEGATIVE, JsonOpt, console, emit_json, fail, settings

app = typer.Typer(
    help="Delivery outbox: rows and events waiting for, or parked on the way to, peers.", no_args_is_help=True
)


def _db() -> Database:
    db = open_database(settings())
    if "connector_outbox" not in inspect(db.engine).get_table_names():
        fail("the database has no outbox tables", hint="run `tongban init` (migrates the database)")
    return db


@app.command("list")
def list_(
    peer: str | None = typer.Option(None, "--peer", help="Only this peer."),
    state: str | None = typer.Option(
        None, "--state", help="pending | inflight | delivered | dead | released"
    ),
    limit: int = typer.Option(50, "--limit"),
    json_out: bool = JsonOpt,
) -> None:
    """Counts per peer and state, then rows (dead-letter rows first when no state is given)."""
    if state and state not in STATES:
        fail(f"unknown state {state!r}", hint="one of: " + ", ".join(STATES))
    db = _db()
    counts = ob.summary(db, peer)
    rows = ob.list_rows(db, peer=peer, state=state or "dead", limit=limit)
    if json_out:
        emit_json({"counts": counts, "rows": rows})
        return
    for p, by_state in counts.items():
        console.print(f"[bold]{p}[/bold] " + "  ".join(f"{k}={v}" for k, v in sorted(by_state.items())))
    if not counts:
        console.print("outbox is empty")
    for r in rows:
        console.print(
            f"{r['id']:>8} {r['state']:<9} {r['table']:<26} {r['project_no']:<20} {r['cd_time']:<26} "
            f"attempts={r['attempts']} {r['last_code'] or ''} {(r['last_error'] or '')[:80]}"
        )


@app.command()
def replay(
    row_id: int = typer.Argument(..., help="Outbox row id (from `tongban outbox list`)."),
    json_out: bool = JsonOpt,
) -> None:
    """Put a dead-letter (or released) row back to pending; the later rows of its case flow after it."""
    db = _db()
    ok = ob.replay(db, row_id)
    if json_out:
        emit_json({"id": row_id, "replayed": ok})
    elif ok:
        console.print(f"row {row_id} is pending again")
    if not ok:
        fail(
            f"row {row_id} is not dead or released",
            code=EXIT_NEGATIVE,
            hint="see `tongban outbox list --state dead`",
        )


@app.command()
def release(
    row_id: int = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why this row is given up (kept in the row)."),
    json_out: bool = JsonOpt,
) -> None:
    """Give up on a dead-letter row (kept, marked released): the later rows of its case are unblocked."""
    db = _db()
    ok = ob.release(db, row_id, reason)
    if json_out:
        emit_json({"id": row_id, "released": ok})
    elif ok:
        console.print(f"row {row_id} released")
    if not ok:
        fail(f"row {row_id} is not dead", code=EXIT_NEGATIVE)
