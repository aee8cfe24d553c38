"""Peer registry validation, Airflow Connection lookup outside Airflow, hook-built clients with bearer
and HMAC auth against the sandbox county and department systems, late approvals after the cursor."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import AuthError, ConfigurationError
from connectors.feeds import Auth, FeedClient
from connectors.hooks import PeerHook, get_connection, rest_auth
from connectors.peer_registry import DEFAULT_REGISTRY, PeerEntry, load_registry
from connectors.soap import ProvinceSoapClient
from contracts.wire import APPROVALS_PATH
from contracts.wire import COUNTY_FEED_PATH as FEED_PATH
from sandbox.countyfeed import CountyFeed
from sandbox.deptsystem import DepartmentSystem
from sandbox.runner import approvals, county_rows
from sandbox.server import start
from tests.connectors.conftest import FAST

SECRET = "dept-secret"


def _registry_doc(**change: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DEFAULT_REGISTRY.read_text(encoding="utf-8"))
    doc.update(change)
    return doc


def _county(**over: Any) -> dict[str, Any]:
    peer = {"id": "c", "kind": "county", "region_code": "510129", "conn_id": "c", "protocol": "rest"}
    peer.update(over)
    return peer


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"peers": [_county(kind="city")]}, "kind"),
        ({"peers": [_county(protocol="ftp")]}, "protocol"),
        ({"peers": [{k: v for k, v in _county().items() if k != "conn_id"}]}, "conn_id"),
        ({"peers": [_county(mapping="nope")]}, "unknown mapping 'nope'"),
        ({"peers": [_county(), _county()]}, "peer ids repeat"),
        ({"peers": [_county(region_code="51")]}, "region_code"),
        ({"peers": [_county(secret="x")]}, "secret"),  # no secrets in the registry: extra keys refused
        (
            {"peers": [], "mappings": {"m": {"tables": {"SL": "up_pro_nope"}}}},
            "unknown tables",
        ),
        (
            {"peers": [], "mappings": {"m": {"fields": {"X": "not_a_column"}}}},
            "not contract columns",
        ),
        (
            {"peers": [], "mappings": {"m": {"fields": {"A": "project_no", "B": "project_no"}}}},
            "same contract column",
        ),
    ],
)
def test_registry_is_validated_at_load(doc: dict[str, Any], message: str, tmp_path: Path) -> None:
    path = tmp_path / "peers.json"
    path.write_text(json.dumps(_registry_doc(**doc)), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message) as info:
        load_registry(path)
    assert str(path) in str(info.value)  # the error names the file to fix


def test_the_shipped_registry_loads_and_adding_a_county_is_one_entry(tmp_path: Path) -> None:
    reg = load_registry()
    assert [p.id for p in reg.peers("county")] == ["county_510129", "county_511825"]
    assert reg.mapping_for("county_511825") is not None and reg.mapping_for("county_510129") is None
    doc = _registry_doc()
    doc["peers"].append(_county(id="county_510132", region_code="510132", conn_id="tongban_county_510132"))
    (tmp_path / "peers.json").write_text(json.dumps(doc), encoding="utf-8")
    bigger = load_registry(tmp_path / "peers.json")
    assert bigger.get("county_510132").conn_id == "tongban_county_510132"
    with pytest.raises(ConfigurationError, match="not in the peer registry"):
        bigger.get("county_999999")


def test_connection_from_env_json_and_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PROVINCE_SOAP",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 8701, "login": "u", "password": "p"}),
    )
    c = get_connection("province_soap")
    assert c.url == "http://127.0.0.1:8701" and c.login == "u"
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEPT",
        json.dumps(
            {
                "conn_type": "http",
                "host": "10.0.0.5",
                "port": 9000,
                "schema": "api",
                "login": "dept",
                "password": "s/ecret",
                "extra": {"auth": "hmac"},
            }
        ),
    )
    d = get_connection("dept")
    assert (d.login, d.password, d.extra["auth"], d.url) == (
        "dept",
        "s/ecret",
        "hmac",
        "http://10.0.0.5:9000/api",
    )
    assert rest_auth(d) == Auth("hmac", key_id="dept", secret="s/ecret")
    monkeypatch.setenv("AIRFLOW_CONN_CTY", "http://:t%2Fok@10.0.0.6:9001")
    cty = get_connection("cty")
    assert (cty.url, cty.token) == ("http://10.0.0.6:9001", "t/ok")
    assert rest_auth(cty) == Auth("bearer", token="t/ok")
    assert "t/ok" not in repr(cty) and "s/ecret" not in repr(rest_auth(d))  # secrets never printed
    with pytest.raises(ConfigurationError, match="AIRFLOW_CONN_MISSING"):
        get_connection("missing")
    with pytest.raises(ConfigurationError, match="secret"):
        Auth("hmac", key_id="dept")


def test_connectors_do_not_import_airflow_at_import_time() -> None:
    import subprocess

    code = (
        "import connectors.hooks, connectors.outbox, connectors.feeds, sys; print('airflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, port: int, **fields: Any) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, **fields}),
    )


@pytest.mark.integration
def test_hooks_build_rest_clients_with_bearer_and_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    county = start(CountyFeed("510129", county_rows(1, "510129", 10), token="county-token"))
    dept = DepartmentSystem("510129", approvals(1, "510129", 30, late_every=0), hmac_keys={"dept": SECRET})
    dsrv = start(dept)
    try:
        c_peer = PeerEntry(id="c", kind="county", region_code="510129", conn_id="cty", protocol="rest")
        d_peer = PeerEntry(id="d", kind="department", region_code="510129", conn_id="dpt", protocol="rest")
        _conn(monkeypatch, "cty", county.port, password="county-token")
        _conn(monkeypatch, "dpt", dsrv.port, login="dept", password=SECRET, extra={"auth": "hmac"})
        c = PeerHook(c_peer, timing=FAST).get_conn()
        assert isinstance(c, FeedClient) and c.auth.kind == "bearer"
        assert len(c.page(FEED_PATH, None, 5).items) == 5
        d = PeerHook(d_peer, timing=FAST).get_conn()
        assert isinstance(d, FeedClient) and d.auth.kind == "hmac"
        page = d.page(APPROVALS_PATH, None, 100)
        assert len(page.items) == 10 and not page.has_more  # 30 cases, every third finished
        # a wrong secret, and a bearer token the department does not know: refused, not retried
        _conn(monkeypatch, "dpt", dsrv.port, login="dept", password="wrong", extra={"auth": "hmac"})
        before = dept.requests
        with pytest.raises(AuthError):
            PeerHook(d_peer, timing=FAST).get_conn().page(APPROVALS_PATH, None, 10)
        assert dept.requests == before + 1
        _conn(monkeypatch, "dpt", dsrv.port, password="county-token")
        with pytest.raises(AuthError):
            PeerHook(d_peer, timing=FAST).get_conn().page(APPROVALS_PATH, None, 10)
        # the province over SOAP and a hook that cannot be built say why
        p_peer = PeerEntry(id="p", kind="province", region_code="510000", conn_id="prv", protocol="soap")
        _conn(monkeypatch, "prv", 8701, login="u", password="p")
        assert isinstance(PeerHook(p_peer).get_conn(), ProvinceSoapClient)
        x_peer = PeerEntry(
            id="x", kind="province", region_code="510000", conn_id="prv", protocol="exchange_table"
        )
        ok, why = PeerHook(x_peer).test_connection()
        assert not ok and "extra.url" in why
    finally:
        county.close()
        dsrv.close()


@pytest.mark.integration
def test_an_old_hmac_signature_is_refused() -> None:
    """A captured request replayed later than the window does not get in."""
    import httpx

    from sandbox.feedhttp import HMAC_WINDOW_S, hmac_signature

    dsrv = start(DepartmentSystem("510129", approvals(1, "510129", 9), hmac_keys={"dept": SECRET}))
    try:
        path_qs = f"{APPROVALS_PATH}?limit=5"
        old = str(int(time.time()) - HMAC_WINDOW_S - 5)
        headers = {
            "X-Key-Id": "dept",
            "X-Timestamp": old,
            "X-Signature": hmac_signature(SECRET, "GET", path_qs, old),
        }
        r = httpx.get(dsrv.url + path_qs, headers=headers, timeout=5)
        assert r.status_code == 401 and "window" in r.json()["error"]
        now = str(int(time.time()))
        headers = {
            "X-Key-Id": "dept",
            "X-Timestamp": now,
            "X-Signature": hmac_signature(SECRET, "GET", path_qs, now),
        }
        assert httpx.get(dsrv.url + path_qs, headers=headers, timeout=5).status_code == 200
    finally:
        dsrv.close()


@pytest.mark.integration
def test_department_late_approvals_arrive_after_the_cursor_without_gap() -> None:
    dept = DepartmentSystem("510129", approvals(1, "510129", 60, late_every=4), hmac_keys={"dept": SECRET})
    srv = start(dept)
    try:
        c = FeedClient(srv.url, peer="d", auth=Auth("hmac", key_id="dept", secret=SECRET), timing=FAST)
        seen, cursor = [], None
        while True:
            p = c.page(APPROVALS_PATH, cursor, 7)
            seen += [r["project_no"] for _seq, r in p.items]
            cursor = p.next_cursor
            if not p.has_more:
                break
        assert len(seen) == 15 and dept.late_pending == 5  # 20 finished, 5 late
        dept.release_late()  # keyed in days later
        p = c.page(APPROVALS_PATH, cursor, 100)
        seen += [r["project_no"] for _seq, r in p.items]
        assert len(seen) == len(set(seen)) == 20
    finally:
        srv.close()
