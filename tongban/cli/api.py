"""``tongban api``: serve the sharing API and manage its department clients."""

from __future__ import annotations

from pathlib import Path

import typer

from core.errors import CoreError
from tongban.cli._common import EXIT_NEGATIVE, JsonOpt, console, emit_json, fail, fail_core, settings

app = typer.Typer(
    help="The sharing API (电子证照共享接口): serve it, register department clients.", no_args_is_help=True
)
client_app = typer.Typer(help="Department clients and their grants.", no_args_is_help=True)
app.add_typer(client_app, name="client")


@app.command("serve")
def serve(
    host: str = typer.Option(None, "--host", help="Bind address (default: TONGBAN_API__HOST, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port (default: TONGBAN_API__PORT, 8700)."),
    workers: int = typer.Option(
        None, "--workers", help="Worker processes (default: TONGBAN_API__WORKERS, 1)."
    ),
) -> None:
    """Run the API with uvicorn (OpenAPI at /openapi.json, docs at /docs, verify page at /verify/...)."""
    import uvicorn

    s = settings()
    try:
        from core.runtime import keystore

        keystore(s).token_signer()  # fail early, with the reason, if keys are missing
    except CoreError as exc:
        fail_core(exc)
    n = workers or s.api.workers
    if n > 1:
        metrics_dir = prepare_multiprocess_metrics(s.data_dir)
        console.print(f"[dim]{n} workers; /metrics adds up every worker ({metrics_dir})[/dim]")
    from gateway.http_protocol import BoundedHttpToolsProtocol

    uvicorn.run(
        "tongban.api_app:app_from_env",
        http=BoundedHttpToolsProtocol,
        factory=True,
        host=host or s.api.host,
        port=port or s.api.port,
        workers=n,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        timeout_keep_alive=s.api.keep_alive_s,
    )


def prepare_multiprocess_metrics(data_dir: Path) -> Path:
    """``PROMETHEUS_MULTIPROC_DIR`` for the workers (the operator's, or one under the data dir),
    emptied of an earlier run's metric files so their counts do not add up with this one's."""
    import os

    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = Path(chosen) if chosen else data_dir / "run" / "prometheus"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def _split(value: str) -> list[str]:
    return [v for v in (p.strip() for p in value.split(",")) if v]


RoleOpt = typer.Option(
    ["share"],
    "--role",
    help="share (search/copy/verify), status (issuer status changes), holder_portal, "
    "quality (operators: the data-quality site at /quality/).",
)


@client_app.command("add")
def client_add(
    dept: str = typer.Argument(..., help="Department code (USCC of the department)."),
    types: str = typer.Option("", "--types", help="License type codes it may see, comma separated."),
    purposes: str = typer.Option("", "--purposes", help="Purpose codes it may state, comma separated."),
    role: list[str] = RoleOpt,
    name: str = typer.Option("", "--name", help="Display name."),
    json_out: bool = JsonOpt,
) -> None:
    """Register a client; prints its id and a one-time secret (only a hash is stored)."""
    from core.runtime import open_database
    from gateway.clients import ClientError, add_client

    s = settings()
    db = open_database(s)
    try:
        new = add_client(db, dept, types=_split(types), purposes=_split(purposes), roles=role, name=name)
    except ClientError as exc:
        fail(str(exc))
    except CoreError as exc:
        fail_core(exc)
    finally:
        db.dispose()
    if json_out:
        emit_json({"client_id": new.client_id, "client_secret": new.secret, "dept": new.dept_code})
        return
    console.print(f"client_id     {new.client_id}")
    console.print(f"client_secret {new.secret}")
    console.print("[yellow]The secret is shown once; only its hash is stored.[/yellow]")


SANDBOX_CLIENT_ID = "c-sandbox-dayi"
SANDBOX_SECRET = "tongban-sandbox-secret-0001"  # noqa: S105 - documented sandbox credential, embedded data only
SANDBOX_TYPES = ("11100000YL0000012P001", "11100000YL0000012P002")  # 营业执照, 食品经营许可证
SANDBOX_PURPOSES = ("510129-GS-001",)


@client_app.command("sandbox")
def client_sandbox(json_out: bool = JsonOpt) -> None:
    """Register the documented sandbox client (大邑县市场监督管理局, all roles) — never in production."""
    from core.runtime import open_database
    from gateway.clients import add_client, load_principal

    s = settings()
    if not s.db_url.startswith("sqlite"):
        fail("the sandbox client is for the embedded default only (SQLite data dir), not a shared database")
    db = open_database(s)
    try:
        if load_principal(db, SANDBOX_CLIENT_ID) is None:
            add_client(
                db,
                "11510129008589710X",
                types=SANDBOX_TYPES,
                purposes=SANDBOX_PURPOSES,
                roles=["share", "status", "holder_portal", "quality"],
                name="沙箱客户端（样例）",
                client_id=SANDBOX_CLIENT_ID,
                secret=SANDBOX_SECRET,
            )
    finally:
        db.dispose()
    doc = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_SECRET, "types": SANDBOX_TYPES}
    if json_out:
        emit_json(doc)
    else:
        console.print(f"sandbox client {SANDBOX_CLIENT_ID} / {SANDBOX_SECRET} (embedded data only)")


@client_app.command("list")
def client_list(json_out: bool = JsonOpt) -> None:
    """List clients and their grants (never secrets)."""
    from core.runtime import open_database
    from gateway.clients import list_clients

    s = settings()
    db = open_database(s)
    try:
        rows = list_clients(db)
    finally:
        db.dispose()
    if json_out:
        emit_json(rows)
        return
    for r in rows:
        console.print(
            f"{r['client_id']}  {r['dept_code']}  {'disabled' if r['disabled'] else 'active'}  {r['grants']}"
        )


@client_app.command("disable")
def client_disable(client_id: str) -> None:
    """Disable a client (its tokens stop working within the grant cache time)."""
    from core.runtime import open_database
    from gateway.clients import disable_client

    s = settings()
    db = open_database(s)
    try:
        ok = disable_client(db, client_id)
    finally:
        db.dispose()
    if not ok:
        fail(f"no client {client_id!r}", code=EXIT_NEGATIVE)
    console.print(f"disabled {client_id}")
