"""``tongban license``: license types, issuing, lookup, export, verification and the lifecycle verbs.

Outputs as in ARCHITECTURE.md; every reporting command takes ``--json``. Exit codes: 0 success,
1 a negative answer (not valid, transition refused, conflict), 2 a usage or input error.

Why one module of this length: it is one typer command group; every command is a thin wrapper over
:class:`licenses.LicenseRegistry`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

from tongban.cli import license_copy
from tongban.cli._common import EXIT_NEGATIVE, JsonOpt, console, emit_json, fail, settings

app = typer.Typer(help="E-licenses (电子证照): issue, show, verify, change status.", no_args_is_help=True)
FieldOpt = typer.Option(
    [], "--field", help="A face field, KEY=VALUE (repeatable; keys from `license types`)."
)
ReasonOpt = typer.Option(..., "--reason", help="Why (recorded in the history and the ledger).")
ActorOpt = typer.Option("cli", "--actor", help="Who makes the change.")
HoldersOpt = typer.Option(
    None, "--holders", help='JSON file: [{"CZZT":…, "CZZTDM":…, "CZZTDMLX":…}, …] (several holders).'
)
BatchFileArg = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines of requests or cases.")
PdfArg = typer.Argument(..., exists=True, dir_okay=False, help="The PDF (license or annotated copy).")
OutOpt = typer.Option(..., "--out", help="Where to write the PDF.")


def _fields(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--field {item!r} is not KEY=VALUE", hint="e.g. --field KZ_JYFW=餐饮服务")
        out[key.strip()] = value
    return out


def _registry(workers: int = 1) -> Any:
    from licenses import open_registry

    return open_registry(settings(), workers=workers)


def _license_fail(exc: Exception) -> NoReturn:
    from licenses import LicenseNotFound, TransitionRefused, UniquenessConflict
    from licenses.errors import IdempotencyConflict, LicenseError, LicenseTypeError

    code = getattr(exc, "code", "ERROR")
    if isinstance(exc, LicenseTypeError | LicenseNotFound):
        fail(f"{exc} [{code}]")
    if isinstance(exc, TransitionRefused | UniquenessConflict | IdempotencyConflict | LicenseError):
        fail(f"{exc} [{code}]", code=EXIT_NEGATIVE)
    fail(f"{exc} [{code}]")


@app.command("types")
def types_(json_out: bool = JsonOpt) -> None:
    """The license types (from the contracts' data files)."""
    from contracts.licensetypes import load_license_types

    docs: list[dict[str, Any]] = [
        {
            "type_code": t.type_code,
            "key": t.key,
            "name": t.name,
            "holder_code_types": list(t.holder_code_types),
            "max_holders": t.max_holders,
            "uniqueness_key": list(t.uniqueness_key),
            "validity": t.validity.model_dump(),
            "face_fields": [{"key": f.key, "label": f.label, "required": f.required} for f in t.face_fields],
        }
        for t in load_license_types().values()
    ]
    if json_out:
        emit_json(docs)
        return
    for d in docs:
        console.print(f"[bold]{d['name']}[/bold] {d['type_code']} ({d['key']})")
        console.print(
            f"  holders {', '.join(d['holder_code_types'])}; unique by {' + '.join(d['uniqueness_key'])}"
        )
        console.print("  fields " + ", ".join(f"{f['key']} {f['label']}" for f in d["face_fields"]))


def _default_issuer(type_code: str) -> str:
    """The department of the first catalog service item that issues this type."""
    from contracts.catalog import load_catalog
    from licenses import resolve_license_type

    type_code = resolve_license_type(type_code).type_code
    for item in load_catalog().items:
        if item.license is not None and item.license.type_code == type_code:
            return item.department
    fail(f"no service item issues type {type_code}: give --issuer USCC")


@app.command()
def issue(
    type_: str = typer.Option(..., "--type", help="Type code (ZZLXDM) or key, see `license types`."),
    holder_name: str = typer.Option("", "--holder-name"),
    holder_code: str = typer.Option("", "--holder-code"),
    holder_code_type: str = typer.Option("", "--holder-code-type", help="111 resident ID, 001 USCC, …"),
    holders: Path | None = HoldersOpt,
    field: list[str] = FieldOpt,
    issuer: str | None = typer.Option(None, "--issuer", help="USCC of the issuing department."),
    key: str | None = typer.Option(None, "--key", help="Idempotency key (e.g. <project_no>:<type>)."),
    valid_until: str | None = typer.Option(
        None,
        "--valid-until",
        help="End of validity (有效期截止日期) YYYY-MM-DD; default: the type's rule. A date that has "
        "passed is refused (LICENSE_VALIDITY_ENDED).",
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Issue one license: identifier, face, PAdES seal, store, registry."""
    from datetime import date

    from licenses import Holder, IssueRequest, LicenseError, resolve_license_type

    try:
        t = resolve_license_type(type_)
    except LicenseError as exc:
        _license_fail(exc)
    people: list[Holder] = []
    if holders is not None:
        try:
            people = [
                Holder(h["CZZT"], h["CZZTDM"], h["CZZTDMLX"]) for h in json.loads(holders.read_text("utf-8"))
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"--holders {holders}: {exc}", hint='a JSON list of {"CZZT","CZZTDM","CZZTDMLX"}')
    elif holder_name and holder_code and holder_code_type:
        people = [Holder(holder_name, holder_code, holder_code_type)]
    else:
        fail("give --holder-name, --holder-code and --holder-code-type, or --holders FILE")
    until = None
    if valid_until:
        try:
            until = date.fromisoformat(valid_until)
        except ValueError:
            fail(f"--valid-until {valid_until!r} is not a date", hint="--valid-until 2030-12-31")
    req = IssueRequest(
        type_code=t.type_code,
        issuer_code=issuer or _default_issuer(t.type_code),
        holders=people,
        fields=_fields(field),
        valid_until=until,
        idempotency_key=key,
        actor="cli",
    )
    try:
        lic = _registry().issue(req)
    except LicenseError as exc:
        _license_fail(exc)
    doc = {
        k: v
        for k, v in lic.as_dict().items()
        if k in ("license_id", "object_key", "sha256", "status", "verify_code")
    }
    if json_out:
        emit_json(doc)
    else:
        console.print(f"[green]issued[/green] {lic.license_id}{' (existing)' if lic.existed else ''}")
        console.print(f"  核验码 {lic.verify_code}  sha256 {lic.sha256}  object {lic.object_key}")


def _batch_requests(path: Path) -> Iterator[Any]:
    """Lines of FILE: an issue request, or a finished case {"accept","result","approval"}."""
    from licenses import Holder, IssueRequest
    from licenses.from_case import request_from_case

    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                if "accept" in doc:
                    yield request_from_case(doc["accept"], doc["result"], doc.get("approval"))
                else:
                    yield IssueRequest(
                        type_code=doc["type"],
                        issuer_code=doc.get("issuer") or _default_issuer(doc["type"]),
                        holders=[Holder(h["CZZT"], h["CZZTDM"], h["CZZTDMLX"]) for h in doc["holders"]],
                        fields=doc.get("fields", {}),
                        idempotency_key=doc.get("idempotency_key"),
                        actor="cli",
                    )
            except typer.Exit:
                raise
            except Exception as exc:
                fail(f"{path}:{n}: {exc}", hint="one JSON object per line: an issue request or a case")


@app.command("issue-batch")
def issue_batch(
    file: Path = BatchFileArg,
    workers: int = typer.Option(0, "--workers", help="Signing processes (0: one per CPU)."),
    json_out: bool = JsonOpt,
) -> None:
    """Issue many licenses (batch transactions), with a progress bar on a terminal."""
    import os

    requests = list(_batch_requests(file))
    registry = _registry(workers or os.cpu_count() or 1)
    done = {"issued": 0, "existing": 0, "refused": 0}
    errors: list[dict[str, str]] = []

    def count(o: Any) -> None:
        if o.license is not None:
            done["existing" if o.license.existed else "issued"] += 1
        else:
            done["refused"] += 1
            errors.append({"key": o.request.idempotency_key or "", "error": f"{o.error} [{o.error.code}]"})

    if sys.stderr.isatty() and not json_out:
        from rich.progress import Progress

        with Progress(console=console) as progress:
            task = progress.add_task("issuing", total=len(requests))

            def tick(o: Any) -> None:
                count(o)
                progress.advance(task)

            registry.issue_many(requests, on_progress=tick)
    else:
        total = len(requests)

        def line(o: Any) -> None:
            count(o)
            n = sum(done.values())
            if not json_out and (n % 50 == 0 or n == total):
                sys.stderr.write(f"issued {n}/{total}\n")

        registry.issue_many(requests, on_progress=line)
    registry.close()
    doc = {"requests": len(requests), **done, "errors": errors[:100]}
    if json_out:
        emit_json(doc)
    else:
        console.print(
            f"{done['issued']} issued, {done['existing']} already issued, {done['refused']} refused"
        )
        for e in errors[:20]:
            console.print(f"  [red]refused[/red] {e['key']}: {e['error']}")
    if done["refused"]:
        raise typer.Exit(EXIT_NEGATIVE)


RevealOpt = typer.Option(
    False,
    "--reveal",
    help="Operator: print holder identifiers in full (default: masked, 5101**********1238).",
)


@app.command()
def show(
    license_id: str = typer.Argument(..., help="The identifier (ZZBS)."),
    json_out: bool = JsonOpt,
    reveal: bool = RevealOpt,
) -> None:
    """What the registry holds: metadata, holders, status, history, lineage (holder codes masked
    unless --reveal)."""
    from core.masking import mask_personal
    from licenses import LicenseError

    try:
        view = _registry().get(license_id)
    except LicenseError as exc:
        _license_fail(exc)
    if json_out:
        meta = view.metadata if reveal else mask_personal(view.metadata)
        emit_json(view.as_dict(mask=not reveal) | {"metadata": meta})
        return
    console.print(f"[bold]{view.type_name}[/bold] {view.license_id} (v{view.version})")
    console.print(
        f"  状态 {view.status} {view.status_name}  编号 {view.license_no}  核验码 {view.verify_code}"
    )
    until = view.valid_until or "长期"
    console.print(
        f"  发证机关 {view.issuer_name}  发证日期 {view.issue_date}  有效期 {view.valid_from}–{until}"
    )
    for h in view.holders:
        console.print(f"  持证主体 {h.name} ({h.code_type})")
    if view.previous_license_id:
        console.print(f"  {view.lineage} of {view.previous_license_id}")
    for e in view.history:
        change = f"{e.from_status or '—'}→{e.to_status}"
        console.print(f"  {e.at}  {e.operation} {e.operation_name}  {change}  {e.actor}: {e.reason}")


@app.command()
def export(
    license_id: str = typer.Argument(...),
    out: Path = OutOpt,
) -> None:
    """Write the stored license file."""
    from licenses import LicenseError

    try:
        pdf = _registry().file(license_id)
    except LicenseError as exc:
        _license_fail(exc)
    out.write_bytes(pdf)
    console.print(f"{license_id} → {out} ({len(pdf)} bytes)")


@app.command()
def verify(
    file: Path = PdfArg,
    as_dept: str | None = typer.Option(None, "--as", help="The presenting department (for copies)."),
    at: str | None = typer.Option(
        None,
        "--at",
        help="Judge at another moment: YYYY-MM-DD (the end of that day, Asia/Shanghai) or ISO 8601 "
        '("was it valid on that day?"). Default: now.',
    ),
    json_out: bool = JsonOpt,
    reveal: bool = RevealOpt,
) -> None:
    """Verify a license or an annotated copy: signature, chain, revocation, validity period, registry
    (exit 1: not valid)."""
    from licenses import LicenseError, judgement_moment
    from licenses.copies import verify_document

    moment = None
    if at is not None:
        try:
            moment = judgement_moment(at)
        except LicenseError as exc:
            fail(f"{exc} [{exc.code}]", hint="--at 2024-01-02 or --at 2024-01-02T09:30:00+08:00")
    registry = _registry()
    report = verify_document(
        file.read_bytes(),
        trust=registry.seals.trust(),
        registry=registry,
        provider=registry.seals,
        as_dept=as_dept,
        at=moment,
    )
    doc = report.as_dict()
    if not reveal and isinstance(doc.get("metadata"), dict):
        from core.masking import mask_personal

        doc["metadata"] = mask_personal(doc["metadata"])
    if json_out:
        emit_json(doc)
    else:
        mark = "[green]valid 有效[/green]" if report.valid else "[red]NOT VALID 无效[/red]"
        when = f" at {moment.isoformat()}" if moment else ""
        console.print(f"{mark} {report.kind} {report.license_id or '?'} status {report.status or '—'}{when}")
        v = report.validity or {}
        if v:
            console.print(f"  有效期 {v.get('from') or '—'} 至 {v.get('until') or '长期'}")
        for r, text in zip(report.reasons, report.messages(), strict=True):
            console.print(f"  reason: {r} — {text}")
        for n in report.notes:
            console.print(f"  note: {n}")
    if not report.valid:
        raise typer.Exit(EXIT_NEGATIVE)


def _transition(action: str) -> Any:
    def command(
        license_id: str = typer.Argument(...),
        reason: str = ReasonOpt,
        actor: str = ActorOpt,
        json_out: bool = JsonOpt,
    ) -> None:
        from licenses import LicenseError

        try:
            view = _registry().transition(license_id, action, reason=reason, actor=actor)
        except LicenseError as exc:
            _license_fail(exc)
        if json_out:
            emit_json({"license_id": view.license_id, "status": view.status, "status_name": view.status_name})
        else:
            console.print(f"{view.license_id}: {view.status} {view.status_name}")

    command.__doc__ = f"Status change: {action} (DOMAIN.md §3)."
    return command


for _action in ("suspend", "reinstate", "withdraw", "cancel", "revoke", "transfer-out", "cancel-transfer"):
    app.command(_action)(_transition(_action))


def _new_version(action: str) -> Any:
    def command(
        license_id: str = typer.Argument(...),
        field: list[str] = FieldOpt,
        reason: str = typer.Option("", "--reason"),
        actor: str = ActorOpt,
        json_out: bool = JsonOpt,
    ) -> None:
        from licenses import LicenseError

        registry = _registry()
        label = "变更" if action == "change" else "延续"
        try:
            if action == "change":
                lic = registry.change(license_id, _fields(field), reason=reason or label, actor=actor)
            else:
                lic = registry.renew(license_id, _fields(field), reason=reason or label, actor=actor)
        except LicenseError as exc:
            _license_fail(exc)
        doc = {k: v for k, v in lic.as_dict().items() if k != "existed"} | {"previous_license_id": license_id}
        if json_out:
            emit_json(doc)
        else:
            console.print(f"{label}: {license_id} → {lic.license_id} (核验码 {lic.verify_code})")

    command.__doc__ = (
        f"{'Change (变更)' if action == 'change' else 'Renew (延续)'}: a new version linked to this one."
    )
    return command


app.command("change")(_new_version("change"))
app.command("renew")(_new_version("renew"))


@app.command("expire-due")
def expire_due(json_out: bool = JsonOpt) -> None:
    """Expiry sweep: live licenses past their validity become 05 失效."""
    ids = _registry().expire_due()
    if json_out:
        emit_json({"expired": ids})
    else:
        console.print(f"{len(ids)} expired")


@app.command("orphans")
def orphans(
    grace_minutes: float = typer.Option(10.0, "--grace-minutes", help="Leave younger files alone."),
    json_out: bool = JsonOpt,
) -> None:
    """Find stored license files no registered license owns (a crash between store and register)."""
    from datetime import timedelta

    report = _registry().reconcile_orphans(grace=timedelta(minutes=grace_minutes))
    if json_out:
        emit_json(report.as_dict())
    else:
        console.print(f"scanned {report.scanned}, {len(report.orphans)} new orphan(s) recorded void")


license_copy.register(app)
