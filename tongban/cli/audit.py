"""``tongban audit``: verify every ledger chain and every RFC 3161 anchor of the chain heads."""

from __future__ import annotations

import typer

from tongban.cli._common import EXIT_NEGATIVE, JsonOpt, console, emit_json, fail_core, settings

app = typer.Typer(
    help="The audit ledger: chains (用证记录 and others) and their timestamp anchors.", no_args_is_help=True
)


@app.command("verify")
def verify(json_out: bool = JsonOpt) -> None:
    """Recompute every chain and check every anchor; exit 1 naming the first broken entry."""
    from core import ledger
    from core.errors import CoreError
    from core.runtime import open_database
    from gateway.anchors import verify_anchors

    s = settings()
    db = open_database(s)
    try:
        with db.session() as session:
            chains = ledger.verify_chain(session)
            anchors = verify_anchors(session)
    except CoreError as exc:
        fail_core(exc)
    finally:
        db.dispose()
    ok = all(c.ok for c in chains) and all(a.ok for a in anchors)
    if json_out:
        emit_json(
            {"ok": ok, "chains": [c.as_dict() for c in chains], "anchors": [a.as_dict() for a in anchors]}
        )
    else:
        for c in chains:
            mark = "[green]ok[/green]  " if c.ok else "[red]FAIL[/red]"
            detail = f"{c.entries} entries" if c.ok else f"broken at seq {c.broken_seq}: {c.reason}"
            console.print(f"{mark} chain  {c.stream:40} {detail}")
        for a in anchors:
            mark = "[green]ok[/green]  " if a.ok else "[red]FAIL[/red]"
            detail = f"{a.heads} heads at {a.gen_time}" if a.ok else "; ".join(a.problems)
            console.print(f"{mark} anchor {a.event_id} {detail}")
        if not anchors:
            console.print(
                "[yellow]no anchors yet[/yellow] (run `tongban audit anchor` or let the API anchor)"
            )
    if not ok:
        raise typer.Exit(EXIT_NEGATIVE)


@app.command("anchor")
def anchor(json_out: bool = JsonOpt) -> None:
    """Timestamp the current chain heads now (RFC 3161) and record the anchor event."""
    from core.errors import CoreError
    from core.runtime import open_database
    from gateway.anchors import anchor_heads
    from gateway.workers import timestamper

    s = settings()
    db = open_database(s)
    try:
        stamp, label = timestamper(s)
        result = anchor_heads(db, stamp, tsa_label=label)
    except CoreError as exc:
        fail_core(exc)
    finally:
        db.dispose()
    if json_out:
        emit_json(result or {"anchored": False})
    elif result is None:
        console.print("nothing new to anchor")
    else:
        console.print(
            f"anchored {len(result['heads'])} chain heads at {result['gen_time']} ({result['tsa']})"
        )
