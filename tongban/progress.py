"""Progress bars for long commands: a rich bar on a terminal, nothing at all elsewhere (a pipe, a
log file, CI) or with ``--json``, so machine-read output stays clean."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


def progress_bar(console: Console, *, json_out: bool = False) -> Progress:
    """A transient bar (it disappears when done) on ``console``; disabled off a terminal or for JSON."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=json_out or not console.is_terminal,
    )
