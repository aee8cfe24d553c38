"""``tongban keys``: the data keys that seal citizen data in the database (core.sealing)."""

from __future__ import annotations

import sys

import typer

from tongban.cli._common import JsonOpt, console, emit_json, fail_core, settings

app = typer.Typer(help="Data-encryption keys of the sealed database columns.", no_args_is_help=True)


@app.command("rotate-data-key")
def rotate_data_key(
    resume: bool = typer.Option(
        False, "--resume", help="Do not make a new key: finish moving every value to the current one."
    ),
    batch: int = typer.Option(500, "--batch", min=1, help="Rows per committed batch."),
    json_out: bool = JsonOpt,
) -> None:
    """Make a new field key and re-encrypt every sealed value under it, in committed batches with
    progress. Interrupted, run it again with --resume: values already under the current key are
    skipped. Older keys stay in the key store (backups sealed under them still open)."""
    from core.errors import CoreError
    from core.runtime import fieldcrypt, open_database
    from core.sealing import reseal_existing

    s = settings()
    crypt = fieldcrypt(s)
    db = open_database(s)
    try:
        previous = crypt.current_key_id()
        kid = previous if resume else crypt.rotate()

        def progress(label: str, done: int, total: int) -> None:
            if total and not json_out:
                sys.stderr.write(f"re-encrypting {label}: {done}/{total}\n")
                sys.stderr.flush()

        with db.engine.connect() as conn:
            counts = reseal_existing(conn, crypt, batch=batch, progress=progress)
        db.checkpoint()  # no WAL frame keeps a value as it was before
    except CoreError as exc:
        fail_core(exc)
    finally:
        db.dispose()
    doc = {"key_id": kid, "previous_key_id": previous, "rotated": not resume, "resealed": counts}
    if json_out:
        emit_json(doc)
        return
    console.print(f"field key {kid} ({'new' if not resume else 'current'}); re-encrypted:")
    for label, n in counts.items():
        console.print(f"  {label}: {n}")
