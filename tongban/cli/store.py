"""``tongban store``: look into, read, check and sweep the object store (``core.store``).

Exit codes: 0 ok; 1 a negative answer (object not found, integrity check failed); 2 a usage,
input or configuration error (unknown zone, malformed key, store unreachable) with what to do.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer

from core.errors import CoreError, IntegrityError, ObjectNotFound
from core.runtime import open_database
from core.store import ObjectStore, Zone, open_store
from tongban.cli._common import EXIT_NEGATIVE, EXIT_USAGE, JsonOpt, console, emit_json, fail, settings
from tongban.progress import progress_bar

app = typer.Typer(
    name="store",
    help="Object store: content-addressed zones (raw, held, quarantine, licenses, reports).",
    no_args_is_help=True,
)

ZoneArg = typer.Argument(..., help="Zone: raw, curated, held, quarantine, licenses or reports.")
KeyArg = typer.Argument(..., help="Object key (the 64-hex-digit address put returned).")
FileArg = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="File to store.")
ZonesOpt = typer.Option(None, "--zone", help="Only these zones (repeatable).")


def _store() -> ObjectStore:
    try:
        return open_store(settings())
    except CoreError as exc:
        _fail(exc)


def _fail(exc: CoreError) -> NoReturn:
    negative = isinstance(exc, ObjectNotFound | IntegrityError)
    fail(f"{exc} [{exc.code}]", code=EXIT_NEGATIVE if negative else EXIT_USAGE)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@app.command("ls")
def ls(
    zone: str | None = typer.Argument(None, help="Zone to list; all zones' totals when left out."),
    prefix: str = typer.Option("", "--prefix", help="Only keys starting with these hex digits."),
    long: bool = typer.Option(False, "--long", "-l", help="Read each object's metadata too."),
    json_out: bool = JsonOpt,
) -> None:
    """List objects of a zone (key, size, time), or the totals of every zone."""
    store = _store()
    try:
        if zone is None:
            totals = []
            for z in Zone:
                rows = list(store.ls(z))
                totals.append(
                    {"zone": z.value, "objects": len(rows), "stored_bytes": sum(r.stored_size for r in rows)}
                )
            if json_out:
                emit_json({"backend": store.describe(), "zones": totals})
                return
            console.print(store.describe())
            for t in totals:
                console.print(f"  {t['zone']:11} {t['objects']:8} objects  {_human(int(t['stored_bytes']))}")
            return
        rows_out: list[dict[str, Any]] = []
        for summary in store.ls(zone, prefix):
            row = store.stat(zone, summary.key).as_dict() if long else summary.as_dict()
            rows_out.append(row)
            if not json_out:
                if long:
                    console.print(
                        f"{row['key']}  {_human(row['size']):>10}  {row['created'][:19]}  "
                        f"{row['content_type']}  {row['source']}"
                    )
                else:
                    console.print(f"{row['key']}  {_human(row['stored_size']):>10}  {row['modified'][:19]}")
        if json_out:
            emit_json(rows_out)
    except CoreError as exc:
        _fail(exc)


@app.command()
def stat(zone: str = ZoneArg, key: str = KeyArg, json_out: bool = JsonOpt) -> None:
    """Show an object's metadata (no body read)."""
    store = _store()
    try:
        info = store.stat(zone, key)
    except CoreError as exc:
        _fail(exc)
    if json_out:
        emit_json(info.as_dict())
        return
    for name, value in info.as_dict().items():
        console.print(f"{name:15} {value}")


@app.command()
def get(
    zone: str = ZoneArg,
    key: str = KeyArg,
    out: str = typer.Option(..., "--out", "-o", help="File to write, or - for standard output."),
) -> None:
    """Write an object's verified content to a file (it appears only if the object verifies)."""
    store = _store()
    try:
        if out == "-":
            with store.get(zone, key) as reader:
                for chunk in reader.chunks():
                    sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        info = store.get_to_file(zone, key, Path(out))
    except CoreError as exc:
        _fail(exc)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    console.print(f"wrote {out} ({_human(info.size)}, verified)", highlight=False)


@app.command()
def put(
    zone: str = ZoneArg,
    file: Path = FileArg,
    content_type: str = typer.Option("application/octet-stream", "--content-type"),
    source: str = typer.Option("", "--source", help="Where the data came from (no personal data)."),
    schema_version: str = typer.Option("", "--schema-version"),
    json_out: bool = JsonOpt,
) -> None:
    """Store a file (streamed; idempotent: the same content gets the same key)."""
    store = _store()
    try:
        ref = store.put_file(
            zone, file, content_type=content_type, source=source, schema_version=schema_version
        )
    except CoreError as exc:
        _fail(exc)
    if json_out:
        emit_json(ref.as_dict())
        return
    state = "already stored" if ref.existed else "stored"
    console.print(f"{state} {ref.locator} ({_human(ref.size)})")


@app.command()
def verify(
    zone: str | None = typer.Argument(None, help="Zone to verify (all zones when left out)."),
    key: str | None = typer.Argument(None, help="One object (else every object of the zone)."),
    json_out: bool = JsonOpt,
) -> None:
    """Read objects through their integrity checks; exit 1 if any fails."""
    store = _store()
    failed: list[dict[str, str]] = []
    checked = 0
    try:
        if key is not None and zone is not None:
            targets: list[tuple[str, str]] = [(zone, key)]
        else:
            zones = [Zone.parse(zone)] if zone is not None else list(Zone)
            targets = [(z.value, s.key) for z in zones for s in store.ls(z)]
        with progress_bar(console, json_out=json_out) as bar:
            task = bar.add_task("verifying objects", total=len(targets))
            for z, k in targets:
                checked += 1
                try:
                    store.verify(z, k)
                except (IntegrityError, ObjectNotFound) as exc:
                    failed.append({"zone": z, "key": k, "code": exc.code, "error": str(exc)})
                    if not json_out:
                        console.print(f"[red]FAIL[/red] {z}/{k}: {exc}")
                bar.advance(task)
    except CoreError as exc:
        _fail(exc)
    ok = not failed
    if json_out:
        emit_json({"ok": ok, "checked": checked, "failed": failed})
    else:
        console.print(f"{'ok' if ok else 'FAILED'}: {checked} checked, {len(failed)} failed")
    if not ok:
        raise typer.Exit(EXIT_NEGATIVE)


@app.command()
def sweep(
    zone: list[str] | None = ZonesOpt,
    now: str | None = typer.Option(None, "--now", help="Pretend it is this ISO time (UTC if no zone)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be deleted; delete nothing."),
    json_out: bool = JsonOpt,
) -> None:
    """Delete objects past their zone's retention; each deletion is recorded in the audit ledger."""
    when = None
    if now is not None:
        try:
            when = datetime.fromisoformat(now)
        except ValueError:
            fail(f"--now {now!r} is not an ISO date/time", hint="e.g. --now 2027-01-31T00:00:00+00:00")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    s = settings()
    store = _store()
    db = open_database(s)
    try:
        report = store.sweep(db, now=when, zones=zone, dry_run=dry_run)
    except CoreError as exc:
        _fail(exc)
    finally:
        db.dispose()
    if json_out:
        emit_json(report.as_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    for name, counts in report.zones.items():
        console.print(f"  {name:11} examined {counts['examined']:6}  expired {counts['expired']:6}")
    console.print(f"{verb} {len(report.deleted)} objects (ledger stream store.retention)")
    for item in report.skipped:
        console.print(f"[yellow]kept[/yellow] {item['zone']}/{item['key']}: {item['error']}")


@app.command("rotate-key")
def rotate_key(json_out: bool = JsonOpt) -> None:
    """Make a new data-encryption key for new objects; old objects stay readable with their key."""
    store = _store()
    try:
        key_id = store.rotate_data_key()
    except CoreError as exc:
        _fail(exc)
    if json_out:
        emit_json({"data_key": key_id})
        return
    console.print(f"new data key {key_id}; existing objects keep theirs")
