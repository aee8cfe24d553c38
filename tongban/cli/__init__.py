"""The ``tongban`` command line: one typer app, subcommands grouped by noun."""

from __future__ import annotations

import os
from importlib.metadata import version as dist_version

import typer

from tongban.cli import (  # noqa: F401
    airflow,
    api,
    audit,
    bench,
    bench_push,
    cases,
    docs,
    keys,
    license,
    outbox,
    pki,
    quality,
    sandbox,
    store,
    system,
)

app = typer.Typer(
    name="tongban",
    help="tongban (通办): county case-data and e-license exchange gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tongban {dist_version('tongban')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log set-up and PKI details too (log level DEBUG)."
    ),
) -> None:
    """tongban (通办): county case-data and e-license exchange gateway."""
    if verbose:  # read by the one settings object (TONGBAN_LOG_LEVEL) when a command loads it
        os.environ["TONGBAN_LOG_LEVEL"] = "DEBUG"


system.register(app)
app.add_typer(store.app, name="store")
app.add_typer(cases.app, name="cases")
app.add_typer(api.app, name="api")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(license.app, name="license")
app.add_typer(pki.app, name="pki")
app.add_typer(bench.app, name="bench")  # bench_push adds `bench push` to it
app.add_typer(outbox.app, name="outbox")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(airflow.app, name="airflow")
app.add_typer(quality.app, name="quality")
app.add_typer(docs.app, name="docs")


def main() -> None:
    app()
