"""``tongban pki``: the certificate hierarchy, seals, CRLs and the timestamp authority (``licenses.pki``).

Commands: ``init``, ``show``, ``serve``, ``export-trust --out DIR``, ``rotate-seal DEPT``,
``revoke-cert SERIAL [--reason R]``, ``crl``, ``timestamp FILE``, ``import-ca``, ``import-cert``.

Exit codes: 0 ok; 1 a negative answer (the TSA refused a request); 2 a usage, input or
configuration error (PKI not initialised, unknown department or serial, bad import) with what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import CoreError
from core.timestamp import TimestampRejected
from licenses.errors import LicenseError
from licenses.pki import REASONS, Pki, timestamp_client
from tongban.cli._common import EXIT_NEGATIVE, EXIT_USAGE, JsonOpt, console, emit_json, fail, settings

app = typer.Typer(
    name="pki",
    help="PKI: root and issuing CA, department seals, CRLs, timestamp authority (样例 TEST by default).",
    no_args_is_help=True,
)

OutDirOpt = typer.Option(..., "--out", file_okay=False, help="Folder for the PEM files and CRLs.")
CrlOutOpt = typer.Option(None, "--out", dir_okay=False, help="Write the CRL (DER; .pem for PEM).")
FileArg = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="File to timestamp.")
TokenOutOpt = typer.Option(..., "--out", dir_okay=False, help="Where to write the token (DER).")
RootOpt = typer.Option(..., "--root", exists=True, dir_okay=False, help="Root CA certificate (PEM or DER).")
IssuingOpt = typer.Option(..., "--issuing", exists=True, dir_okay=False, help="Issuing CA certificate.")
IssuingKeyOpt = typer.Option(None, "--issuing-key", exists=True, dir_okay=False, help="Its key (PEM).")
RootKeyOpt = typer.Option(None, "--root-key", exists=True, dir_okay=False, help="Root key, for its CRL.")
CertOpt = typer.Option(..., "--cert", exists=True, dir_okay=False, help="The certificate (PEM or DER).")
KeyOpt = typer.Option(None, "--key", exists=True, dir_okay=False, help="Its private key (PEM).")
KeyPasswordEnvOpt = typer.Option(None, "--key-password-env", help="Env var holding the key password.")


def _fail(exc: CoreError | LicenseError) -> NoReturn:
    code = EXIT_NEGATIVE if isinstance(exc, TimestampRejected) else EXIT_USAGE
    fail(f"{exc} [{exc.code}]", code=code)


@contextmanager
def _pki() -> Iterator[Pki]:
    try:
        with Pki(settings()) as pki:
            yield pki
    except (CoreError, LicenseError) as exc:
        _fail(exc)


@app.command("init")
def init(json_out: bool = JsonOpt) -> None:
    """Create what is missing: sample CA (样例 TEST), CRLs, TSA, platform and seals (idempotent)."""
    with _pki() as pki:
        steps = pki.init()
        folder = str(pki.folder)
    if json_out:
        emit_json({"folder": folder, "steps": steps})
        return
    for step in steps:
        console.print(f"  • {step}")


def _line(label: str, item: dict[str, Any] | None) -> str:
    if item is None:
        return f"{label:10} —"
    until = item["not_after"][:10]
    return f"{label:10} {item['serial']}  gen {item['generation']}  until {until}  {item['state']}"


@app.command("show")
def show(json_out: bool = JsonOpt) -> None:
    """The hierarchy, every department's current seal, the CRLs and revoked certificates."""
    with _pki() as pki:
        doc = pki.status()
    if json_out:
        emit_json(doc)
        return
    console.print(
        f"PKI in {doc['folder']} ({'sample 样例 TEST' if doc['sample'] else 'imported CA'}, "
        f"keys: {doc['key_backend']})"
    )
    for role in ("root", "issuing", "tsa", "platform"):
        console.print(_line(role, doc[role]))
    console.print("seals:")
    for seal in doc["seals"]:
        console.print("  " + _line(seal["department"], seal["seal"]) + f"  {seal['name']} {seal['uscc']}")
    for crl in doc["crls"]:
        console.print(
            f"CRL {crl['issuer']:8} #{crl['number']}  {crl['this_update']} → {crl['next_update']}  "
            f"revoked {crl['revoked']}"
        )
    for rec in doc["revoked"]:
        console.print(
            f"revoked   {rec['serial']}  {rec['role']}  {rec['revoked_at']}  {rec['revocation_reason']}"
        )
    console.print(f"TSA policy {doc['tsa_policy']}  url {doc['urls']['tsa']}")


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, "--host", help="Bind address (default: TONGBAN_API__HOST)."),
    port: int | None = typer.Option(None, "--port", help="Port (default: TONGBAN_API__PORT)."),
) -> None:
    """Serve the CRLs (with caching headers), CA certificates and the TSA over HTTP until stopped."""
    import uvicorn

    from gateway.pki_routes import create_pki_app

    s = settings()
    with _pki() as pki:
        pki.tsa()  # fail before binding when the PKI is not usable
    app_ = create_pki_app(s)
    bind_host, bind_port = host or s.api.host, port or s.api.port
    console.print(
        f"serving CRL, certificates and TSA on http://{bind_host}:{bind_port}/pki/ (Ctrl-C to stop)"
    )
    uvicorn.run(app_, host=bind_host, port=bind_port, log_level="warning", access_log=False)


@app.command("export-trust")
def export_trust(
    out: Path = OutDirOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Write the trust material as PEM: root and issuing CA, TSA, a bundle and the current CRLs."""
    with _pki() as pki:
        written = pki.export_trust(out)
    if json_out:
        emit_json({name: str(path) for name, path in written.items()})
        return
    for path in written.values():
        console.print(f"  • {path}")


@app.command("rotate-seal")
def rotate_seal(
    department: str = typer.Argument(..., help="Department code (e.g. dayi-scjg) or USCC; or tsa, platform."),
    json_out: bool = JsonOpt,
) -> None:
    """A new key and certificate for a department's seal (or the TSA; the platform: a new certificate).

    The old certificate stays valid for earlier signatures unless it was revoked.
    """
    with _pki() as pki:
        role = (
            department
            if department in ("tsa", "platform")
            else f"seal:{pki.departments.get(department).code}"
        )
        old = pki.current(role)
        material = pki.rotate_seal(department)
    doc = {
        "department": material.department.code if material.department else department,
        "generation": material.generation,
        "serial": material.serial,
        "key_name": material.key_name,
        "not_after": material.certificate.not_valid_after_utc.isoformat(),
        "previous_serial": old.serial if old else None,
    }
    if json_out:
        emit_json(doc)
        return
    if old is None:
        previous = "no previous seal"
    elif old.revoked:
        previous = f"previous {old.serial} is revoked"
    else:
        previous = f"previous {old.serial} stays valid for earlier signatures"
    console.print(
        f"seal of {doc['department']} rotated: generation {doc['generation']}, "
        f"serial {doc['serial']} ({previous})"
    )


def _date_option(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(
            f"--invalid-since {text!r} is not an ISO date or time",
            hint="e.g. 2026-11-20 or 2026-11-20T08:00:00+08:00",
        )
    return when if when.tzinfo is not None else when.astimezone()  # a naive time is local time


@app.command("revoke-cert")
def revoke_cert(
    serial: str = typer.Argument(
        ..., help="Certificate serial number in hex (as `tongban pki show` or openssl print it)."
    ),
    reason: str = typer.Option("unspecified", "--reason", help=f"One of: {', '.join(REASONS)}."),
    invalid_since: str | None = typer.Option(
        None, "--invalid-since", help="When the key became unsafe (ISO date)."
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Revoke a certificate (final) and issue the issuer's next CRL."""
    when = _date_option(invalid_since)
    with _pki() as pki:
        result = pki.revoke(serial, reason, invalidity_date=when)
    doc = {
        "serial": result.record.serial,
        "role": result.record.role,
        "revoked_at": result.record.revoked_at.isoformat() if result.record.revoked_at else None,
        "reason": result.record.revocation_reason,
        "already_revoked": result.already_revoked,
        "crl": result.crl.as_dict(),
    }
    if json_out:
        emit_json(doc)
        return
    verb = "was already revoked" if result.already_revoked else "revoked"
    console.print(
        f"{doc['serial']} ({doc['role']}) {verb} ({doc['reason']}); "
        f"CRL {result.crl.issuer} #{result.crl.number}"
    )


@app.command("crl")
def crl(
    issuer: str = typer.Option("issuing", "--issuer", help="issuing or root."),
    out: Path | None = CrlOutOpt,
    json_out: bool = JsonOpt,
) -> None:
    """The current CRL (re-issued first when half its validity has passed)."""
    with _pki() as pki:
        info = pki.crl(issuer)
    if out is not None:
        out.write_bytes(info.pem if out.suffix == ".pem" else info.der)
    if json_out:
        emit_json(info.as_dict() | {"out": str(out) if out else None})
        return
    console.print(
        f"CRL {info.issuer} #{info.number}: {info.this_update.isoformat()} → {info.next_update.isoformat()}, "
        f"{info.revoked_count} revoked" + (f", written to {out}" if out else "")
    )


@app.command("timestamp")
def timestamp(
    file: Path = FileArg,
    out: Path = TokenOutOpt,
    url: str | None = typer.Option(
        None, "--url", help="A TSA URL (default: TONGBAN_PKI__TSA_URL, else in-process)."
    ),
    json_out: bool = JsonOpt,
) -> None:
    """Get an RFC 3161 token for a file (check it with `openssl ts -verify -data FILE -in OUT -token_in`)."""
    s = settings()
    if url:
        s = s.model_copy(update={"pki": s.pki.model_copy(update={"tsa_url": url})})
    try:
        with Pki(s) as pki, timestamp_client(s, pki) as client:
            token = client.stamp(file.read_bytes())
    except (CoreError, LicenseError) as exc:
        _fail(exc)
    out.write_bytes(token.der)
    doc = {
        "out": str(out),
        "gen_time": token.gen_time.isoformat(),
        "serial": f"{token.serial_number:X}",
        "policy": token.policy,
        "tsa": token.tsa_certificate.subject.rfc4514_string() if token.tsa_certificate else None,
    }
    if json_out:
        emit_json(doc)
        return
    console.print(f"token {doc['serial']} at {doc['gen_time']} (policy {doc['policy']}) written to {out}")


def _load_key(path: Path | None, password_env: str | None) -> ec.EllipticCurvePrivateKey | None:
    if path is None:
        return None
    password = os.environ.get(password_env, "").encode() if password_env else None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=password or None)
    except (ValueError, TypeError) as exc:
        fail(f"cannot read the private key {path}: {exc}", hint="PEM PKCS#8 or SEC1; --key-password-env VAR")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        fail(f"{path} is not an EC private key (ECDSA P-256 expected)")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    try:
        return (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate(data)
        )
    except ValueError as exc:
        fail(f"{path} is not an X.509 certificate (PEM or DER): {exc}")


@app.command("import-ca")
def import_ca(
    root: Path = RootOpt,
    issuing: Path = IssuingOpt,
    issuing_key: Path | None = IssuingKeyOpt,
    root_key: Path | None = RootKeyOpt,
    key_password_env: str | None = KeyPasswordEnvOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Use a real CA instead of the sample (fresh data dir, TONGBAN_PKI__SAMPLE=false), then `pki init`."""
    with _pki() as pki:
        steps = pki.import_ca(
            _load_cert(root),
            _load_cert(issuing),
            issuing_key=_load_key(issuing_key, key_password_env),
            root_key=_load_key(root_key, key_password_env),
        )
    if json_out:
        emit_json({"steps": steps})
        return
    for step in steps:
        console.print(f"  • {step}")


@app.command("import-cert")
def import_cert(
    role: str = typer.Argument(..., help="tsa, platform or seal:<department code>."),
    cert: Path = CertOpt,
    key: Path | None = KeyOpt,
    key_password_env: str | None = KeyPasswordEnvOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Register a certificate our issuing CA issued elsewhere (it becomes the role's next generation)."""
    with _pki() as pki:
        record = pki.import_certificate(role, _load_cert(cert), key=_load_key(key, key_password_env))
    if json_out:
        emit_json(record.as_dict())
        return
    console.print(f"{record.role} generation {record.generation}: {record.serial} imported")
