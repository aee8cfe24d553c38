"""``tongban bench push``: registered on the ``bench`` sub-app (tongban/cli/bench.py)."""

from __future__ import annotations

import typer

from tongban.cli._common import JsonOpt, console, emit_json
from tongban.cli.bench import app, running


@app.command()
def push(
    rows: int = typer.Option(100_000, "--rows", help="Rows through our batched outbox path."),
    sample: int = typer.Option(2_000, "--sample", help="Rows through the plain per-record zeep call."),
    batch_rows: int = typer.Option(500, "--batch-rows"),
    concurrency: int = typer.Option(2, "--concurrency"),
    json_out: bool = JsonOpt,
) -> None:
    """Rows to the sandbox province: outbox batches vs one zeep call per record (extrapolated)."""
    from bench.push import run

    with running("push", json_out):
        record = run(rows=rows, sample=sample, batch_rows=batch_rows, concurrency=concurrency)
    if json_out:
        emit_json(record)
        return
    console.print(
        f"[bold]push[/bold]: ours {record['ours_per_s']}/s, plain {record['baseline_per_s']}/s, "
        f"ratio {record['ratio']}×"
    )
    for k, v in record["params"].items():
        console.print(f"  {k}: {v}")
