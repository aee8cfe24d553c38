"""``tongban bench``: our path against the plain-library path, side by side in one run.

Each benchmark prints ``{"name", "ours_per_s", "baseline_per_s", "ratio", "params"}`` (``--json``).
Benchmarks live in ``bench/``; each adds one command here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from tongban.cli._common import JsonOpt, console, emit_json
from tongban.progress import progress_bar

app = typer.Typer(help="Benchmarks: our path vs the plain library path.", no_args_is_help=True)


@contextmanager
def running(name: str, json_out: bool) -> Iterator[None]:
    """A spinner with the elapsed time while benchmark ``name`` runs (none off a terminal or for JSON)."""
    with progress_bar(console, json_out=json_out) as bar:
        bar.add_task(f"bench {name}: our path, then the plain path", total=None)
        yield


def _print(record: dict[str, Any], json_out: bool) -> None:
    if json_out:
        emit_json(record)
        return
    console.print(
        f"[bold]{record['name']}[/bold]: ours {record['ours_per_s']}/s, "
        f"plain {record['baseline_per_s']}/s, ratio {record['ratio']}×"
    )
    for k, v in record.get("params", {}).items():
        console.print(f"  {k}: {v}")


@app.command()
def issuance(
    count: int = typer.Option(200, "--count", help="Licenses through our pipeline."),
    baseline_count: int = typer.Option(40, "--baseline-count", help="Licenses through the plain path."),
    database_url: str | None = typer.Option(None, "--database-url", help="Default: SQLite in a temp dir."),
    preload: int = typer.Option(0, "--preload", help="Then register N more rows and measure again."),
    batch_size: int = typer.Option(64, "--batch-size"),
    workers: int | None = typer.Option(None, "--workers", help="Signing processes (default: CPUs)."),
    json_out: bool = JsonOpt,
) -> None:
    """Bulk license issuance (identifier, render, sign B-LT, store, register) vs reportlab + sign_pdf."""
    from bench.issuance import run

    with running("issuance", json_out):
        record = run(
            count=count,
            baseline_count=baseline_count,
            database_url=database_url,
            preload=preload,
            batch_size=batch_size,
            workers=workers,
        )
    _print(record, json_out)


@app.command()
def api(
    rate: float = typer.Option(500.0, "--rate", help="Offered requests per second (open loop)."),
    duration: float = typer.Option(30.0, "--duration", help="Seconds of load per server."),
    workers: int = typer.Option(2, "--workers", help="uvicorn worker processes of both servers."),
    json_out: bool = JsonOpt,
) -> None:
    """Authenticated metadata lookups (each ledgered) at a fixed rate vs a bare FastAPI app (PostgreSQL)."""
    from bench.api import run

    with running("api", json_out):
        record = run(rate=rate, duration=duration, workers=workers)
    if json_out:
        emit_json(record)
        return
    _print(
        {**record, "params": {k: v for k, v in record["params"].items() if k not in ("ours", "baseline")}},
        False,
    )
    for side in ("ours", "baseline"):
        r = record["params"][side]
        console.print(
            f"  {side:8}: {r['throughput_per_s']}/s of {r['offered_per_s']}/s offered, "
            f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors'] or 0}"
        )


@app.command()
def quality(
    count: int = typer.Option(100_000, "--count", help="Generated rows (all six case tables)."),
    bad_ratio: float = typer.Option(0.1, "--bad-ratio", help="Share of rows with a planted defect."),
    seed: int = typer.Option(1, "--seed"),
    json_out: bool = JsonOpt,
) -> None:
    """Quality gate (parse, GX suites, split, write, report, receipt) vs a pydantic model per row."""
    from bench.quality import run

    with running("quality", json_out):
        record = run(count, bad_ratio=bad_ratio, seed=seed)
    _print(record, json_out)


@app.command("all")
def all_benchmarks(json_out: bool = JsonOpt) -> None:
    """Every benchmark in turn with its defaults (what ``./run bench`` runs): issuance, quality,
    push, api."""
    # `bench push` registers itself on this app (tongban/cli/bench_push.py); found here by name so
    # that this module does not import it back
    push = next(c.callback for c in app.registered_commands if c.callback and c.callback.__name__ == "push")
    for command, kwargs in (
        (
            issuance,
            {
                "count": 200,
                "baseline_count": 40,
                "database_url": None,
                "preload": 0,
                "batch_size": 64,
                "workers": None,
            },
        ),
        (quality, {"count": 100_000, "bad_ratio": 0.1, "seed": 1}),
        (push, {"rows": 100_000, "sample": 2_000, "batch_rows": 500, "concurrency": 2}),
        (api, {"rate": 500.0, "duration": 30.0, "workers": 2}),
    ):
        command(json_out=json_out, **kwargs)
