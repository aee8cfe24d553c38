"""The main job on the embedded defaults: ``./run demo``.

At this stage: initialise, check, run the heartbeat DAG in-process and summarise. Later issues grow
this into the whole pipeline (ARCHITECTURE.md, flows 1-7).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from core.settings import Settings
from tongban import setup


def run(settings: Settings, console: Console) -> int:
    console.rule("[bold]tongban demo[/bold] — embedded defaults")
    console.print("1/3 initialising data dir, database and keys …")
    setup.init(settings)
    console.print("2/3 checking the runtime …")
    checks = setup.doctor(settings)
    bad = [c for c in checks if not c.ok]
    if bad:
        for c in bad:
            console.print(f"[red]FAIL[/red] {c.name}: {c.detail}")
        return 1
    console.print("3/3 running DAG tongban_heartbeat with dag.test() …")
    from tongban import airflow_env

    airflow_env.prepare(settings.data_path)
    run = airflow_env.run_dag("tongban_heartbeat")
    state = str(getattr(run, "state", "unknown"))

    from core import ledger
    from core.health import HEARTBEAT_STREAM
    from core.runtime import open_database

    db = open_database(settings)
    with db.session() as s:
        seq, _head = ledger.head(s, HEARTBEAT_STREAM)
        reports = ledger.verify_chain(s)
    db.dispose()

    table = Table(title="demo summary", show_header=False)
    table.add_row("data dir", str(settings.data_path))
    table.add_row("database", db.safe_url)
    for c in checks:
        table.add_row(f"check {c.name}", "ok")
    table.add_row("DAG tongban_heartbeat", state)
    table.add_row("heartbeats in the ledger", str(seq))
    table.add_row(
        "ledger chains",
        ", ".join(f"{r.stream}: {'intact' if r.ok else 'BROKEN'} ({r.entries})" for r in reports),
    )
    console.print(table)
    return 0 if state.endswith("success") and all(r.ok for r in reports) else 1
