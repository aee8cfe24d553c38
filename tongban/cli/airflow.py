"""``tongban airflow up``: a local Airflow on the demo's data (see :mod:`tongban.airflow_local`)."""

from __future__ import annotations

import threading

import typer

from tongban.cli._common import console, fail, settings

app = typer.Typer(help="A local Airflow (UI, scheduler, …) on the demo's data.", no_args_is_help=True)


@app.command("up")
def up(
    port: int = typer.Option(8080, "--port", help="Port of the Airflow UI and REST API (0: a free one)."),
    demo_first: bool = typer.Option(
        True, "--demo/--no-demo", help="Run `tongban demo` first when the demo's data dir is missing."
    ),
) -> None:
    """Start the sandbox peers and Airflow on the demo's data; Ctrl-C stops everything it started."""
    from tongban import airflow_local, demo

    base = settings()
    if not (demo.demo_settings(base).data_path / "day" / "cases.jsonl").is_file():
        if not demo_first:
            fail("no demo data yet: run `./run demo` first (or drop --no-demo)")
        console.print("no demo data yet: running the demo first …")
        if demo.run(base, console) != 0:
            fail("the demo did not succeed; see its summary above", code=1)
    try:
        run = airflow_local.start(base, port=port or None, say=console.print)
    except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
        fail(str(exc), code=1)
    console.rule("[bold]Airflow is up[/bold]")
    console.print(f"UI         {run.url}")
    console.print(f"login      {run.user} / {run.password}")
    console.print(f"REST API   {run.url}/api/v2  (token: POST {run.url}/auth/token)")
    console.print("Ctrl-C stops Airflow and the sandbox peers.")
    try:
        while all(run.alive().values()):
            threading.Event().wait(2.0)
        dead = [n for n, ok in run.alive().items() if not ok]
        logs = run.home / "logs" / "local"
        console.print(f"[red]Airflow {', '.join(dead)} exited[/red]; stopping the rest (logs: {logs})")
    except KeyboardInterrupt:
        console.print("stopping …")
    finally:
        run.stop()
