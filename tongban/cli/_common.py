"""Shared CLI plumbing: settings, output as text or JSON, exit codes (0 ok, 1 negative, 2 usage/input)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from contracts.errors import TongbanError
from core.logging import configure_logging
from core.settings import Settings, load_settings

EXIT_OK, EXIT_NEGATIVE, EXIT_USAGE = 0, 1, 2
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

JsonOpt = typer.Option(False, "--json", help="Print the result as JSON.")


def settings() -> Settings:
    s = load_settings()
    configure_logging(s.log_level, json_format=s.log_json)
    return s


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str, *, code: int = EXIT_USAGE, hint: str | None = None) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    if hint:
        err_console.print(f"[dim]→ {hint}[/dim]")
    raise typer.Exit(code)


def fail_core(exc: TongbanError, *, code: int = EXIT_USAGE) -> NoReturn:
    """Exit with the error's message and its stable code (any package's error: they share the kernel)."""
    fail(f"{exc} [{exc.code}]", code=code)
