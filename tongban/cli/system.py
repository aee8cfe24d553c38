"""``tongban init``, ``doctor`` and ``demo``."""

from __future__ import annotations

import typer

from core.errors import CoreError
from tongban import setup as setup_mod
from tongban.cli._common import EXIT_NEGATIVE, JsonOpt, console, emit_json, fail_core, settings


def init(json_out: bool = JsonOpt) -> None:
    """Create the data dir, migrate the database and create development keys (idempotent)."""
    s = settings()
    try:
        report = setup_mod.init(s)
    except CoreError as exc:
        fail_core(exc)
    if json_out:
        emit_json(report)
        return
    console.print(f"[green]initialised[/green] {report['data_dir']}")
    for step in report["steps"]:
        console.print(f"  • {step}")


def doctor(json_out: bool = JsonOpt) -> None:
    """Check settings, database, key store (and, as they arrive, object store and peers)."""
    s = settings()
    checks = setup_mod.doctor(s)
    ok = all(c.ok for c in checks)
    if json_out:
        emit_json({"ok": ok, "settings": s.describe(), "checks": [c.as_dict() for c in checks]})
    else:
        for c in checks:
            mark = "[green]ok[/green]  " if c.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {c.name:10} {c.detail}")
    if not ok:
        raise typer.Exit(EXIT_NEGATIVE)


def demo() -> None:
    """Run the main job on the embedded defaults and print a summary."""
    from tongban import demo as demo_mod

    s = settings()
    try:
        code = demo_mod.run(s, console)
    except CoreError as exc:
        fail_core(exc)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(doctor)
    app.command()(demo)
