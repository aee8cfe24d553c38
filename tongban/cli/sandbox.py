"""``tongban sandbox serve [province|county|department|all]``: the simulated peers on loopback."""

from __future__ import annotations

import typer

from tongban.cli._common import console, settings

app = typer.Typer(
    help="Simulated peers (province SOAP + county/department REST) with fault injection.",
    no_args_is_help=True,
)


@app.command()
def serve(
    which: str = typer.Argument("all", help="province | county | department | all"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int | None = typer.Option(None, "--port", help="For one peer (default ports: 8701-8704)."),
    faults: str = typer.Option(
        "", "--faults", help='e.g. "error=0.05,reset=0.05,lost=0.05,latency_ms=5,seed=7"'
    ),
    rows: int = typer.Option(10_000, "--rows", help="Rows each county serves."),
) -> None:
    """Serve until Ctrl-C; prints each peer's URL."""
    from sandbox.runner import serve as run

    if which not in ("province", "county", "department", "all"):
        raise typer.BadParameter("province, county, department or all")
    s = settings()
    run(
        which,
        data_dir=s.data_path / "sandbox",
        host=host,
        port=port,
        faults=faults,
        rows=rows,
        ready=lambda name, url: console.print(f"[green]{name}[/green] {url}"),
    )
