"""``tongban license copy``: an annotated copy (加注件) from the command line.

The ``license`` sub-app belongs to the licenses CLI; this module adds its ``copy`` command with
:func:`register` (and :data:`app` is a stand-in ``license`` group until that CLI exists).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from tongban.cli._common import JsonOpt, console, emit_json, fail, fail_core, settings

app = typer.Typer(help="E-licenses (电子证照).", no_args_is_help=True)
OutOpt = typer.Option(..., "--out", help="Where to write the PDF.")


def copy(
    license_id: str = typer.Argument(..., help="The license identifier (ZZBS)."),
    purpose: str = typer.Option(..., "--purpose", help="Purpose code (the matter being handled)."),
    cause: str = typer.Option(..., "--cause", help="Use cause (用证事由), 1–200 characters."),
    to: str = typer.Option(..., "--to", help="Recipient department code (USCC)."),
    until: str = typer.Option(..., "--until", help="Last day of use, YYYY-MM-DD (Asia/Shanghai)."),
    out: Path = OutOpt,
    purpose_text: str = typer.Option(
        "", "--purpose-text", help="Matter printed in the annotation (default: the code)."
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Make an annotated copy certified by the platform seal (DocMDP P=1)."""
    from licenses import LicenseError, LicenseNotFound
    from licenses.copies import CopySpec, open_copy_service

    if not 1 <= len(cause.strip()) <= 200:
        fail("--cause must be 1–200 characters")
    try:
        last_day = date.fromisoformat(until)
    except ValueError:
        fail(f"--until {until!r} is not a date (YYYY-MM-DD)")
    s = settings()
    service = open_copy_service(s)
    spec = CopySpec(license_id, purpose, purpose_text or purpose, cause.strip(), to, last_day)
    try:
        pdf = service.make(spec)
    except LicenseNotFound as exc:
        fail(str(exc), code=1)
    except LicenseError as exc:
        fail(f"{exc} [{exc.code}]", code=1)
    except Exception as exc:  # core errors carry a code
        from core.errors import CoreError

        if isinstance(exc, CoreError):
            fail_core(exc)
        raise
    out.write_bytes(pdf)
    import hashlib

    doc = {
        "license_id": license_id,
        "out": str(out),
        "sha256": hashlib.sha256(pdf).hexdigest(),
        "bytes": len(pdf),
        "purpose": purpose,
        "recipient": to,
        "until": last_day.isoformat(),
    }
    if json_out:
        emit_json(doc)
    else:
        console.print(f"annotated copy of {license_id} for {to} until {last_day} → {out} ({len(pdf)} bytes)")


def register(license_app: typer.Typer) -> None:
    """Add ``copy`` to the ``license`` command group."""
    license_app.command("copy")(copy)


register(app)
