"""The wire contracts in contracts/wire are generated from the field table and stay current; the
province sandbox (spyne) speaks the same schema as the contract's WSDL; the exchange DDL matches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import etree

from contracts.fields import CASE_TABLES, TABLES
from contracts.wire import wire_path
from contracts.wire.ddl import exchange_ddl
from contracts.wire.openapi import DOCUMENTS
from contracts.wire.wsdl import province_wsdl
from sandbox.province import ProvinceStore, make_province_app
from sandbox.server import start

XS = "{http://www.w3.org/2001/XMLSchema}"


def test_committed_documents_are_current() -> None:
    assert wire_path("province.wsdl").read_text(encoding="utf-8") == province_wsdl(), (
        "regenerate province.wsdl"
    )
    assert wire_path("exchange_tables.sql").read_text(encoding="utf-8") == exchange_ddl()
    for name, fn in DOCUMENTS.items():
        assert json.loads(wire_path(name).read_text(encoding="utf-8")) == fn(), f"regenerate {name}"


def _types(wsdl: bytes) -> dict[str, list[tuple[str, str, bool]]]:
    """complexType name -> [(element, base type, required)] from a WSDL's schema."""
    doc = etree.fromstring(wsdl, etree.XMLParser(resolve_entities=False, no_network=True))
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for ct in doc.iter(f"{XS}complexType"):
        els = []
        for el in ct.iter(f"{XS}element"):
            typ = el.get("type")
            if typ is None:
                typ = el.find(f".//{XS}restriction").get("base")
            els.append((el.get("name"), typ.split(":")[-1], el.get("minOccurs", "1") != "0"))
        out[ct.get("name")] = els
    return out


def test_wsdl_carries_every_column_of_the_field_table() -> None:
    types = _types(province_wsdl().encode())
    for name in CASE_TABLES:
        expected = [
            (f.name, "int" if f.type == "integer" else "string", f.required) for f in TABLES[name].fields
        ]
        assert types[name] == expected


def test_sandbox_province_serves_the_contract_schema(tmp_path) -> None:
    import requests

    srv = start(make_province_app(ProvinceStore(tmp_path / "p.db")))
    try:
        served = _types(requests.get(srv.url + "/?wsdl", timeout=10).content)
    finally:
        srv.close()
    ours = _types(province_wsdl().encode())
    for name in [*CASE_TABLES, "CaseRow", "RowReceipt", "DayCount", "RowPresence", "CatalogEvent"]:
        assert [(n, t) for n, t, _ in served[name]] == [(n, t) for n, t, _ in ours[name]], name


def _page_validator(document: str, page: str) -> Any:
    from jsonschema import Draft202012Validator

    doc = json.loads(wire_path(document).read_text(encoding="utf-8"))
    return Draft202012Validator({**doc, "$ref": f"#/components/schemas/{page}"})


def test_sandbox_feeds_serve_what_the_openapi_documents_say() -> None:
    """The county and department feeds the pipeline pulls from answer exactly the documented shape,
    with every record valid against the contract's schema; a defective record is not."""
    import httpx

    from contracts.wire import APPROVALS_PATH, STATUS_CHANGES_PATH
    from contracts.wire import COUNTY_FEED_PATH as FEED_PATH
    from sandbox.countyfeed import CountyFeed
    from sandbox.deptsystem import DepartmentSystem, plan_status_changes
    from sandbox.runner import approvals, county_rows

    rows = county_rows(3, "510129", 60)
    appr = approvals(3, "510129", 60, late_every=0)
    results = {a["project_no"]: {"result_cert_no": f"NO-{i:04d}"} for i, a in enumerate(appr)}
    changes = plan_status_changes(appr, results, seed=3)
    county = start(CountyFeed("510129", rows, token="t"))
    dept = start(DepartmentSystem("510129", appr, changes, token="t"))
    try:
        auth = {"Authorization": "Bearer t"}
        checks = [
            ("county_feed.openapi.json", "CasePage", county.url + FEED_PATH, len(rows)),
            ("department.openapi.json", "ApprovalPage", dept.url + APPROVALS_PATH, len(appr)),
            ("department.openapi.json", "StatusChangePage", dept.url + STATUS_CHANGES_PATH, len(changes)),
        ]
        for document, page, url, total in checks:
            body = httpx.get(url, params={"limit": 1000}, headers=auth, timeout=10).json()
            errors = [e.message for e in _page_validator(document, page).iter_errors(body)]
            assert errors == [], (page, errors[:3])
            assert len(body["items"]) == total > 0 and body["has_more"] is False
        bad = httpx.get(county.url + FEED_PATH, params={"limit": 1}, headers=auth, timeout=10).json()
        bad["items"][0]["row"]["promise_day"] = "three"
        assert not _page_validator("county_feed.openapi.json", "CasePage").is_valid(bad)
    finally:
        county.close()
        dept.close()


@pytest.mark.pg
def test_exchange_ddl_creates_every_table(pg_admin_url: str) -> None:
    from sandbox.exchange import ExchangeProvince

    ex = ExchangeProvince(pg_admin_url).create()
    try:
        import psycopg2

        conn = psycopg2.connect(ex.dsn)
        with conn.cursor() as cur:
            for name in CASE_TABLES:
                cur.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position",
                    (name,),
                )
                cols = [c for (c,) in cur.fetchall()]
                assert cols == ["ex_id", *TABLES[name].columns]
        conn.close()
    finally:
        ex.drop()
