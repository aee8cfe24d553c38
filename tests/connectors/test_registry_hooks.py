"""Peer registry validation, vendor mapping, Airflow Connection lookup outside Airflow, hook-built clients."""

from __future__ import annotations

import json
import sys

import pytest

from connectors.errors import AuthError, ConfigurationError
from connectors.hooks import ConnectorHook, get_connection
from connectors.registry import VENDOR_B_MAPPING, parse_registry
from connectors.rest import RestClient
from sandbox.county import CountyFeed, DepartmentSystem, to_vendor_b
from sandbox.data import case_rows
from sandbox.server import start
from tests.connectors.conftest import FAST


def test_vendor_mapping_round_trips_every_table() -> None:
    reg = parse_registry({"peers": [], "mappings": {"vendor_b": VENDOR_B_MAPPING}})
    assert not reg.peers
    from connectors.registry import _mapping

    m = _mapping("vendor_b", VENDOR_B_MAPPING)
    tables = set()
    for table, row in case_rows(2, "511825", 30, region="511825"):
        t, mapped = m.apply(to_vendor_b(table, row))
        assert (t, mapped) == (table, row)
        tables.add(t)
    assert len(tables) == 6


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"peers": [{"name": "x", "kind": "city", "conn_id": "c", "protocol": "rest"}]}, "kind"),
        ({"peers": [{"name": "x", "kind": "county", "conn_id": "c", "protocol": "ftp"}]}, "protocol"),
        ({"peers": [{"name": "x", "kind": "county", "protocol": "rest"}]}, "conn_id"),
        (
            {"peers": [{"name": "x", "kind": "county", "conn_id": "c", "protocol": "rest", "mapping": "m"}]},
            "not defined",
        ),
        ({"mappings": {"m": {**VENDOR_B_MAPPING, "default": None}}}, "no source"),
        ({"mappings": {"m": {**VENDOR_B_MAPPING, "columns": {"nope": "X"}}}}, "unknown contract columns"),
        (
            {"mappings": {"m": {**VENDOR_B_MAPPING, "table": {"from": "T", "codes": {"A": "up_pro_x"}}}}},
            "unknown tables",
        ),
    ],
)
def test_registry_is_validated_at_load(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_registry(doc)


def test_connection_from_env_json_and_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PROVINCE_SOAP",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 8701, "login": "u", "password": "p"}),
    )
    c = get_connection("province_soap")
    assert c.base_url() == "http://127.0.0.1:8701" and c.login == "u"
    monkeypatch.setenv("AIRFLOW_CONN_DEPT", "http://dept:s%2Fecret@10.0.0.5:9000/api?auth=hmac")
    d = get_connection("dept")
    assert (d.login, d.password, d.extra["auth"], d.base_url()) == (
        "dept",
        "s/ecret",
        "hmac",
        "http://10.0.0.5:9000/api",
    )
    with pytest.raises(ConfigurationError, match="AIRFLOW_CONN_MISSING"):
        get_connection("missing")


def test_connectors_do_not_import_airflow_at_import_time() -> None:
    import subprocess

    code = "import connectors.hooks, connectors.outbox, connectors.pull, sys; print('airflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.integration
def test_hooks_build_rest_clients_with_bearer_and_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    county = start(CountyFeed("510129", 10))
    dept = DepartmentSystem("510129", 30, late_after_s=0.0)
    dsrv = start(dept)
    try:
        reg = parse_registry(
            {
                "peers": [
                    {"name": "c", "kind": "county", "conn_id": "cty", "protocol": "rest"},
                    {
                        "name": "d",
                        "kind": "department",
                        "conn_id": "dpt",
                        "protocol": "rest",
                        "path": "/v1/approvals",
                    },
                ]
            }
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_CTY",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": "127.0.0.1",
                    "port": county.port,
                    "password": "county-token",
                    "extra": {"auth": "bearer"},
                }
            ),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_DPT",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": "127.0.0.1",
                    "port": dsrv.port,
                    "login": "dept",
                    "password": "dept-secret",
                    "extra": {"auth": "hmac"},
                }
            ),
        )
        c = ConnectorHook(reg.get("c"), timing=FAST).get_conn()
        assert isinstance(c, RestClient)
        assert len(c.page("/v1/cases/changes", None, 5).rows) == 5
        d = ConnectorHook(reg.get("d"), timing=FAST).get_conn()
        page = d.page("/v1/approvals", None, 100)
        assert len(page.rows) == 10 and not page.has_more  # 30 cases, every third finished
        monkeypatch.setenv(
            "AIRFLOW_CONN_DPT",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": "127.0.0.1",
                    "port": dsrv.port,
                    "login": "dept",
                    "password": "wrong",
                    "extra": {"auth": "hmac"},
                }
            ),
        )
        with pytest.raises(AuthError):
            ConnectorHook(reg.get("d"), timing=FAST).get_conn().page("/v1/approvals", None, 10)
    finally:
        county.close()
        dsrv.close()


@pytest.mark.integration
def test_department_late_approvals_arrive_after_the_cursor_without_gap() -> None:
    import time

    dept = DepartmentSystem("510129", 60, late_every=4, late_after_s=0.3)
    srv = start(dept)
    try:
        from connectors.rest import Auth

        c = RestClient(srv.url, peer="d", auth=Auth("hmac", key_id="dept", secret="dept-secret"), timing=FAST)
        seen, cursor = [], None
        while True:
            p = c.page("/v1/approvals", cursor, 7)
            seen += [r["project_no"] for r in p.rows]
            cursor = p.next_cursor
            if not p.has_more:
                break
        assert len(seen) == 15  # 20 finished, 5 late
        time.sleep(0.35)
        p = c.page("/v1/approvals", cursor, 100)
        seen += [r["project_no"] for r in p.rows]
        assert len(seen) == len(set(seen)) == 20
    finally:
        srv.close()
