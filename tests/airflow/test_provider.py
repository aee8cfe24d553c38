"""The Airflow provider pattern: the ``tongban`` connection type is registered through the
``apache_airflow_provider`` entry point, Airflow's own CLI lists it and accepts it, and a
Connection added that way reaches the flows' clients through the connector hooks; no flow or DAG
builds a client or reads a Connection by hand."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]


def _airflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"},
        timeout=300,
        check=False,
    )


def test_airflow_lists_the_provider_and_its_connection_type(airflow_data_dir: Path) -> None:
    providers = _airflow("providers", "list", "--output", "json")
    assert providers.returncode == 0, providers.stderr[-2000:]
    names = {p["package_name"] for p in json.loads(providers.stdout)}
    assert "tongban" in names
    hooks = _airflow("providers", "hooks", "--output", "json")
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    by_type = {h["connection_type"]: h for h in json.loads(hooks.stdout)}
    assert by_type["tongban"]["class"] == "connectors.airflow_hook.TongbanPeerHook"
    assert by_type["tongban"]["package_name"] == "tongban"


def test_a_connection_added_with_the_cli_builds_the_peer_client(airflow_data_dir: Path) -> None:
    from connectors.airflow_hook import TongbanPeerHook
    from connectors.feeds import FeedClient
    from connectors.hooks import PeerHook
    from connectors.peer_registry import PeerEntry

    conn_id = "tongban_county_999999"
    _airflow("connections", "delete", conn_id)
    added = _airflow(
        "connections",
        "add",
        conn_id,
        "--conn-type",
        "tongban",
        "--conn-host",
        "127.0.0.1",
        "--conn-port",
        "8799",
        "--conn-password",
        "county-token",
        "--conn-extra",
        json.dumps({"auth": "bearer", "protocol": "rest"}),
    )
    assert added.returncode == 0, added.stderr[-2000:]
    try:
        shown = _airflow("connections", "get", conn_id, "--output", "json")
        assert json.loads(shown.stdout)[0]["conn_type"] == "tongban"
        # the flows' hook (Airflow's Connection lookup, no AIRFLOW_CONN_ variable) and Airflow's hook
        os.environ.pop(f"AIRFLOW_CONN_{conn_id.upper()}", None)
        peer = PeerEntry(
            id="county_999999", kind="county", region_code="999999", conn_id=conn_id, protocol="rest"
        )
        client = PeerHook(peer).get_conn()
        assert isinstance(client, FeedClient) and client.base_url == "http://127.0.0.1:8799"
        assert client.auth.kind == "bearer" and client.auth.token == "county-token"
        client.close()
        ok, why = TongbanPeerHook(conn_id).test_connection()
        assert ok, why
    finally:
        _airflow("connections", "delete", conn_id)


# what building a client or reading a Connection by hand looks like
BY_HAND = re.compile(
    r"\b(FeedClient|ProvinceSoapClient|ExchangeTableWriter|httpx\.Client|requests\.Session|zeep\.Client)\("
    r"|BaseHook\.get_connection|Connection\.get\(|AIRFLOW_CONN_|endpoint_from_(env|parts)"
)


def code_lines(path: Path) -> list[tuple[int, str]]:
    """(number, line) of a module's code: docstrings and comment lines left out."""
    text = path.read_text(encoding="utf-8")
    skip: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skip |= set(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    return [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if n not in skip and not line.lstrip().startswith("#")
    ]


@pytest.mark.parametrize("folder", ["pipeline", "dags"])
def test_flows_and_dags_build_no_client_by_hand(folder: str) -> None:
    found = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in sorted((ROOT / folder).rglob("*.py"))
        for n, line in code_lines(p)
        if BY_HAND.search(line)
    ]
    assert found == [], "clients come from connectors.hooks (ctx.hook(peer).get_conn()):\n" + "\n".join(found)


READS = re.compile(r"BaseHook\.get_connection|self\.get_connection\(|AIRFLOW_CONN_")


def test_only_the_hooks_read_connections() -> None:
    readers = {
        str(p.relative_to(ROOT))
        for pkg in ("contracts", "core", "quality", "connectors", "licenses", "pipeline", "gateway", "dags")
        for p in (ROOT / pkg).rglob("*.py")
        if any(READS.search(line) for _, line in code_lines(p))
    }
    assert readers == {"connectors/hooks.py"}


def test_the_by_hand_check_flags_what_it_should() -> None:
    assert BY_HAND.search("    client = FeedClient(ep.url, peer=p)")
    assert BY_HAND.search("c = BaseHook.get_connection(conn_id)")
    assert not BY_HAND.search("    client: FeedClient = ctx.hook(peer_id).get_conn()")
