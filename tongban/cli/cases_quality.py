"""The quality commands of ``tongban cases`` (registered on the cases sub-app by ``register``):

    tongban cases validate FILE [--encoding E] [--json]
    tongban cases receipt verify FILE [--no-objects] [--json]
    tongban cases quarantine list [--all] [--batch H] [--rule R] [--limit N] [--json]
    tongban cases quarantine show ID [--json]
    tongban cases quarantine resubmit ID [--set FIELD=VALUE]... [--file F] [--json]
    tongban cases quarantine sweep [--json]          # expire holds older than the hold time

Exit codes: 0 processed (also when rows or the whole file were quarantined) / receipt valid;
1 receipt not valid; 2 usage error, unreadable file, or missing setup (with what to do).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from core.errors import CoreError
from quality.errors import QualityError
from tongban.cli._common import EXIT_NEGATIVE, JsonOpt, console, emit_json, fail, settings
from tongban.progress import progress_bar

receipt_app = typer.Typer(name="receipt", help="Signed data-quality receipts.", no_args_is_help=True)
quarantine_app = typer.Typer(
    name="quarantine", help="Quarantined rows: list, show, resubmit.", no_args_is_help=True
)


BatchArg = typer.Argument(..., help="Case batch (JSON Lines) to validate.")
ReceiptArg = typer.Argument(..., help="Receipt file (compact JWS), or a store locator reports/<key>.")
SetOpt = typer.Option([], "--set", help="FIELD=VALUE to correct (VALUE parsed as JSON, else text).")
FixFileOpt = typer.Option(None, "--file", help="A corrected row / file (JSON Lines).")


def _gate() -> Any:
    from quality.gate import QualityGate

    try:
        return QualityGate(settings())
    except (CoreError, QualityError) as exc:
        fail(f"{exc} [{exc.code}]", hint="run `tongban init` first (database, keys, object store)")


def validate(
    file: Path = BatchArg,
    encoding: str | None = typer.Option(None, "--encoding", help="Declared encoding (default: detect)."),
    json_out: bool = JsonOpt,
) -> None:
    """Validate a batch: curated / held / quarantined, with an HTML report and a signed receipt."""
    from quality.gate import Batch

    try:
        batch = Batch.from_path(file, encoding=encoding)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", hint="give a readable case file (JSON Lines)")
    gate = _gate()
    try:
        with progress_bar(console, json_out=json_out) as bar:
            bar.add_task(f"validating {file.name} ({len(batch.data):,} bytes)", total=None)
            outcome = gate.validate_batch(batch)
    except (CoreError, QualityError) as exc:
        fail(f"{exc} [{exc.code}]")
    doc = outcome.cli_dict()
    if json_out:
        emit_json(doc)
        return
    state = "[red]file quarantined[/red]" if outcome.file_quarantined else "[green]processed[/green]"
    console.print(
        f"{state} {file.name}: {outcome.rows} rows → {outcome.curated} curated, {outcome.held} held, "
        f"{outcome.quarantined} quarantined"
        + (" (replayed: same batch seen before)" if outcome.replayed else "")
    )
    if outcome.fault:
        console.print(
            f"  fault: line {outcome.fault['line']}, byte {outcome.fault['byte_offset']}: "
            f"{outcome.fault['message']}"
        )
    for rule_id, n in sorted(outcome.reasons.items(), key=lambda x: -x[1]):
        console.print(f"  {rule_id}: {n}")
    console.print(f"  report:  {outcome.report}\n  receipt: {outcome.receipt_object}")


def receipt_verify(
    file: Path = ReceiptArg,
    no_objects: bool = typer.Option(False, "--no-objects", help="Do not re-hash the referenced objects."),
    json_out: bool = JsonOpt,
) -> None:
    """Verify a receipt: platform signature, certificate chain (when issued), referenced objects."""
    from quality.receipt import verify_receipt

    gate = _gate()
    text: str
    if file.is_file():
        try:
            text = file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {file}: {exc}", hint="a receipt is a compact JWS (ASCII)")
    elif str(file).startswith("reports/"):
        try:
            text = gate.outputs.get("reports", str(file).split("/", 1)[1]).decode("ascii")
        except CoreError as exc:
            fail(f"{exc} [{exc.code}]")
    else:
        fail(f"{file} is neither a file nor a reports/<key> locator")
    check = verify_receipt(text, keystore=gate.keystore, outputs=gate.outputs, check_objects=not no_objects)
    if json_out:
        emit_json(check.as_dict())
    elif check.valid:
        console.print(
            f"[green]valid[/green] receipt for batch {check.payload and check.payload.get('batch_hash')}"
        )
        console.print(f"  checked: {', '.join(check.checked)}")
    else:
        console.print("[red]not valid[/red]")
        for r in check.reasons:
            console.print(f"  {r}")
    if not check.valid:
        raise typer.Exit(EXIT_NEGATIVE)


def quarantine_list(
    all_: bool = typer.Option(False, "--all", help="Also entries already resubmitted."),
    batch: str | None = typer.Option(None, "--batch", help="Only this batch hash."),
    rule: str | None = typer.Option(None, "--rule", help="Only entries failing this rule id."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    after: int = typer.Option(0, "--after", min=0, help="Page: entries with an id above this."),
    json_out: bool = JsonOpt,
) -> None:
    """List quarantined rows (open ones by default)."""
    from quality.quarantine import list_quarantine

    rows = list_quarantine(
        _gate(), status=None if all_ else "open", batch_hash=batch, rule_id=rule, limit=limit, after_id=after
    )
    if json_out:
        emit_json(rows)
        return
    for r in rows:
        rules = ",".join(sorted({x["rule_id"] for x in r["reasons"]}))
        console.print(
            f"{r['id']:>7}  {r['status']:<11} {r['kind']:<7} line {r['line']!s:<7} "
            f"{r['table'] or '-':<26} {rules}"
        )
    if not rows:
        console.print("no quarantined rows")


def quarantine_show(qid: int = typer.Argument(..., help="Quarantine id."), json_out: bool = JsonOpt) -> None:
    """Show one quarantined row: every failed rule and field, the row (citizen IDs masked)."""
    from quality.quarantine import show_quarantine

    try:
        doc = show_quarantine(_gate(), qid)
    except QualityError as exc:
        fail(f"{exc} [{exc.code}]")
    if json_out:
        emit_json(doc)
        return
    console.print(
        f"quarantine {doc['id']} ({doc['kind']}, {doc['status']}) "
        f"batch {doc['batch_hash']} line {doc['line']}"
    )
    for r in doc["reasons"]:
        console.print(f"  {r['rule_id']}" + (f"  field {r['field']}" if r.get("field") else ""))
    console.print(
        json.dumps(doc["row"] if doc["row"] is not None else doc["raw"], ensure_ascii=False, indent=2)
    )


def _parse_set(values: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"--set {item!r}: use FIELD=VALUE (VALUE as JSON, else text)")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def quarantine_resubmit(
    qid: int = typer.Argument(..., help="Quarantine id."),
    set_: list[str] = SetOpt,
    file: Path | None = FixFileOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Send a corrected row through the same gate; the original stays as evidence."""
    from quality.quarantine import resubmit

    data = None
    if file is not None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
    try:
        res = resubmit(_gate(), qid, patch=_parse_set(set_), data=data)
    except (QualityError, CoreError) as exc:
        fail(f"{exc} [{exc.code}]")
    if json_out:
        emit_json(res.as_dict())
        return
    console.print(f"quarantine {qid} resubmitted → {res.result} (batch {res.outcome.batch_hash[:16]}…)")
    for rule_id, n in res.outcome.reasons.items():
        console.print(f"  {rule_id}: {n}")


def quarantine_sweep(json_out: bool = JsonOpt) -> None:
    """Quarantine held rows whose parent did not arrive within the hold time (child.parent_missing)."""
    res = _gate().sweep_holds()
    doc = {"expired": res.expired, "object": res.object.locator if res.object else None}
    if json_out:
        emit_json(doc)
    else:
        console.print(f"{res.expired} held rows expired")


def register(cases_app: typer.Typer) -> None:
    """Add validate, receipt and quarantine to the ``tongban cases`` sub-app."""
    cases_app.command("validate")(validate)
    receipt_app.command("verify")(receipt_verify)
    quarantine_app.command("list")(quarantine_list)
    quarantine_app.command("show")(quarantine_show)
    quarantine_app.command("resubmit")(quarantine_resubmit)
    quarantine_app.command("sweep")(quarantine_sweep)
    cases_app.add_typer(receipt_app, name="receipt")
    cases_app.add_typer(quarantine_app, name="quarantine")
