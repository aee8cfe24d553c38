"""``tongban cases``: case data (办件). ``generate`` writes synthetic county data with planted
defects (``sandbox.generator``); ``validate``, ``receipt`` and ``quarantine`` belong to the
quality layer and register on this same sub-app.

Exit codes: 0 ok; 2 a usage or input error with what to do.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from contracts.calendar import WorkCalendar
from contracts.errors import ContractError
from sandbox.generator import GeneratorOptions, write_case_files
from tongban.cli._common import JsonOpt, console, emit_json, err_console, fail

app = typer.Typer(
    name="cases",
    help="Case data (办件): generate synthetic county data; validate, receipts and quarantine.",
    no_args_is_help=True,
)


@app.callback()
def _cases() -> None:
    """Case data (办件): generate synthetic county data; validate, receipts and quarantine."""


OutOpt = typer.Option(..., "--out", dir_okay=False, help="Case file to write (JSON Lines).")
CalendarDirOpt = typer.Option(
    None, "--calendar-dir", file_okay=False, help="Folder with working-day supplements <year>.json."
)


@app.command()
def generate(
    count: int = typer.Option(..., "--count", min=1, help="Number of rows to write (all six tables)."),
    out: Path = OutOpt,
    bad_ratio: float = typer.Option(
        0.0, "--bad-ratio", min=0.0, max=1.0, help="Share of rows with one defect."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same files."),
    joint_ratio: float = typer.Option(
        0.0,
        "--joint-ratio",
        min=0.0,
        max=1.0,
        help="Share of applications that are a theme (一件事): joint cases (联办件), one case per member.",
    ),
    batches: int = typer.Option(
        1, "--batches", min=1, max=999, help="Cut the rows into this many consecutive files FILE-stem.bNNN."
    ),
    calendar_dir: Path | None = CalendarDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Write FILE (case rows), FILE.defects.jsonl (planted defects) and FILE.approvals.jsonl."""
    try:
        calendar = WorkCalendar.from_folders(calendar_dir) if calendar_dir else None
    except ContractError as exc:
        fail(f"{exc} [{exc.code}]", hint="--calendar-dir must hold valid <year>.json files")
    tty = sys.stderr.isatty() and not json_out
    started = time.perf_counter()

    def progress(done: int) -> None:
        pct = 100 * done // count
        if tty:
            err_console.print(f"\r  {done:>10,} / {count:,} rows ({pct}%)", end="")
        elif done < count:
            err_console.print(f"generated {done} / {count} rows ({pct}%)")

    try:
        summary = write_case_files(
            out,
            count,
            batches=batches,
            calendar=calendar,
            options=GeneratorOptions(seed=seed, bad_ratio=bad_ratio, joint_ratio=joint_ratio),
            progress=progress,
            progress_every=max(10_000, count // 20),
        )
    except OSError as exc:
        fail(f"cannot write {out}: {exc}", hint="choose a writable --out path")
    except ValueError as exc:
        fail(str(exc), hint="--batches must not exceed --count")
    seconds = time.perf_counter() - started
    if tty:
        err_console.print()
    doc = {
        **summary.as_dict(),
        "seed": seed,
        "bad_ratio": bad_ratio,
        "joint_ratio": joint_ratio,
        "seconds": round(seconds, 3),
        "rows_per_s": round(summary.rows / seconds) if seconds > 0 else None,
    }
    if json_out:
        emit_json(doc)
        return
    console.print(
        f"[green]wrote[/green] {summary.rows:,} rows ({summary.cases:,} cases) to {summary.files['cases']} "
        f"in {seconds:.1f} s ({doc['rows_per_s']:,} rows/s)"
    )
    console.print(f"  defects:   {summary.bad_rows:,} → {summary.files['defects']}")
    console.print(
        f"  approvals: {summary.approvals:,} ({summary.late_approvals:,} late) → {summary.files['approvals']}"
    )


# quality commands (validate, receipt verify, quarantine …) live in cases_quality.py,
# the SLA monitor's view (deadlines) in cases_sla.py, joint cases (联办件) in cases_joint.py
from tongban.cli import cases_joint, cases_materials, cases_quality, cases_sla  # noqa: E402

cases_quality.register(app)
cases_sla.register(app)
cases_materials.register(app)
cases_joint.register(app)
