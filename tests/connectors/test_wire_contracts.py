"""The wire contracts in contracts/wire are generated from the field table and stay current; the
province sandbox (spyne) speaks the same schema as the contract's WSDL; the exchange DDL matches."""

from __future__ import annotations

import json

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
