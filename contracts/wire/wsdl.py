"""The provincial platform's WSDL (SOAP 1.1, document/literal, wrapped), generated from the field table.

Operations::

    SubmitCaseRows(batch_id, sender, rows: CaseRow[])      -> RowReceipt[]   (per row: stored | duplicate |
                                                                               rejected | skipped)
    SubmitCatalogEvents(batch_id, sender, events: CatalogEvent[]) -> RowReceipt[]  (license catalog
                                                                               entries and status changes)
    QueryCounts(table?, day_from?, day_to?)                 -> DayCount[]     (rows per table and cd_time day)
    LookupRows(row_guids: string[])                         -> RowPresence[]  (lookup by row_guid)

A ``CaseRow`` carries exactly one element named after its table (``up_pro_accept`` …), so one
request keeps the order of rows across tables. Semantics the peer promises: rows are stored once
per ``row_guid`` (a repeat answers ``duplicate``); rows are applied in message order; after a
``rejected`` row, the later rows of the same ``project_no`` in the same request are ``skipped``.
Dates and timestamps travel as the strings of the field table (``YYYY-MM-DD``; ISO 8601 with
offset), integers as ``xs:int``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from contracts.fields import CASE_TABLES, TABLES, FieldSpec
from contracts.wire import PROVINCE_NAMESPACE

SERVICE_NAME = "ProvinceExchange"
OPERATIONS = ("SubmitCaseRows", "SubmitCatalogEvents", "QueryCounts", "LookupRows")


def _field_element(f: FieldSpec) -> str:
    occurs = "" if f.required else ' minOccurs="0" nillable="true"'
    doc = f.label + (
        f" ({f.type}{', max ' + str(f.length) if f.length else ''}"
        f"{', code list ' + f.code_list if f.code_list else ''})"
    )
    ann = f"<xs:annotation><xs:documentation>{escape(doc)}</xs:documentation></xs:annotation>"
    if f.type == "integer":
        facets = ""
        if f.minimum is not None:
            facets += f'<xs:minInclusive value="{f.minimum}"/>'
        if f.maximum is not None:
            facets += f'<xs:maxInclusive value="{f.maximum}"/>'
        base = "xs:int"
    else:
        facets = f'<xs:maxLength value="{f.length}"/>' if f.length else ""
        base = "xs:string"
    if not facets:
        return f'<xs:element name="{f.name}" type="{base}"{occurs}>{ann}</xs:element>'
    return (
        f'<xs:element name="{f.name}"{occurs}>{ann}<xs:simpleType>'
        f'<xs:restriction base="{base}">{facets}</xs:restriction></xs:simpleType></xs:element>'
    )


def _complex(name: str, elements: list[str], doc: str = "") -> str:
    ann = f"<xs:annotation><xs:documentation>{escape(doc)}</xs:documentation></xs:annotation>" if doc else ""
    return (
        f'<xs:complexType name="{name}">{ann}<xs:sequence>{"".join(elements)}</xs:sequence></xs:complexType>'
    )


def _el(name: str, typ: str, *, optional: bool = False, many: bool = False) -> str:
    occ = ' minOccurs="0"' if optional or many else ""
    occ += ' maxOccurs="unbounded"' if many else ""
    return f'<xs:element name="{name}" type="{typ}"{occ}/>'


def _array(item: str, typ: str) -> str:
    return _complex(f"{item}Array", [_el(item, typ, many=True)])


def schema_types() -> list[str]:
    out: list[str] = []
    for name in CASE_TABLES:
        spec = TABLES[name]
        out.append(
            _complex(name, [_field_element(f) for f in spec.fields], f"{spec.label}: {spec.description}")
        )
    out.append(
        _complex(
            "CaseRow",
            [_el(n, f"tns:{n}", optional=True) for n in CASE_TABLES],
            "one row of one case table: exactly one of the elements is present",
        )
    )
    out.append(_array("CaseRow", "tns:CaseRow"))
    out.append(
        _complex(
            "RowReceipt",
            [
                _el("row_guid", "xs:string"),
                _el("status", "xs:string"),
                _el("reason", "xs:string", optional=True),
            ],
            "status: stored | duplicate | rejected | skipped",
        )
    )
    out.append(_array("RowReceipt", "tns:RowReceipt"))
    out.append(
        _complex(
            "CatalogEvent",
            [
                _el("event_id", "xs:string"),
                _el("kind", "xs:string"),
                _el("aggregate_id", "xs:string"),
                _el("occurred_at", "xs:string"),
                _el("payload", "xs:string"),
            ],
            "a license catalog entry or status change (payload: canonical JSON of the event)",
        )
    )
    out.append(_array("CatalogEvent", "tns:CatalogEvent"))
    out.append(
        _complex("DayCount", [_el("table", "xs:string"), _el("day", "xs:string"), _el("count", "xs:long")])
    )
    out.append(_array("DayCount", "tns:DayCount"))
    out.append(
        _complex(
            "RowPresence",
            [
                _el("row_guid", "xs:string"),
                _el("found", "xs:boolean"),
                _el("table", "xs:string", optional=True),
                _el("seq", "xs:long", optional=True),
            ],
        )
    )
    out.append(_array("RowPresence", "tns:RowPresence"))
    out.append(_complex("stringArray", [_el("string", "xs:string", many=True)]))
    # wrappers
    out.append(
        _complex(
            "SubmitCaseRows",
            [_el("batch_id", "xs:string"), _el("sender", "xs:string"), _el("rows", "tns:CaseRowArray")],
        )
    )
    out.append(
        _complex(
            "SubmitCaseRowsResponse", [_el("SubmitCaseRowsResult", "tns:RowReceiptArray", optional=True)]
        )
    )
    out.append(
        _complex(
            "SubmitCatalogEvents",
            [
                _el("batch_id", "xs:string"),
                _el("sender", "xs:string"),
                _el("events", "tns:CatalogEventArray"),
            ],
        )
    )
    out.append(
        _complex(
            "SubmitCatalogEventsResponse",
            [_el("SubmitCatalogEventsResult", "tns:RowReceiptArray", optional=True)],
        )
    )
    out.append(
        _complex(
            "QueryCounts",
            [
                _el("table", "xs:string", optional=True),
                _el("day_from", "xs:string", optional=True),
                _el("day_to", "xs:string", optional=True),
            ],
        )
    )
    out.append(
        _complex("QueryCountsResponse", [_el("QueryCountsResult", "tns:DayCountArray", optional=True)])
    )
    out.append(_complex("LookupRows", [_el("row_guids", "tns:stringArray")]))
    out.append(
        _complex("LookupRowsResponse", [_el("LookupRowsResult", "tns:RowPresenceArray", optional=True)])
    )
    for op in OPERATIONS:
        out.append(f'<xs:element name="{op}" type="tns:{op}"/>')
        out.append(f'<xs:element name="{op}Response" type="tns:{op}Response"/>')
    return out


def province_wsdl(location: str = "http://127.0.0.1:8701/") -> str:
    """The WSDL text (deterministic; ``location`` is only the default address)."""
    ns = PROVINCE_NAMESPACE
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
        'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        f'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{ns}" targetNamespace="{ns}" '
        f'name="{SERVICE_NAME}">',
        "<wsdl:documentation>省一体化政务服务平台 数据交换服务 (tongban wire contract, generated from "
        "contracts.fields; do not edit by hand)</wsdl:documentation>",
        f'<wsdl:types><xs:schema targetNamespace="{ns}" elementFormDefault="qualified">',
        *schema_types(),
        "</xs:schema></wsdl:types>",
    ]
    for op in OPERATIONS:
        parts.append(f'<wsdl:message name="{op}"><wsdl:part name="{op}" element="tns:{op}"/></wsdl:message>')
        parts.append(
            f'<wsdl:message name="{op}Response"><wsdl:part name="{op}Response" element="tns:{op}Response"/>'
            "</wsdl:message>"
        )
    parts.append(f'<wsdl:portType name="{SERVICE_NAME}">')
    for op in OPERATIONS:
        parts.append(
            f'<wsdl:operation name="{op}"><wsdl:input name="{op}" message="tns:{op}"/>'
            f'<wsdl:output name="{op}Response" message="tns:{op}Response"/></wsdl:operation>'
        )
    parts.append("</wsdl:portType>")
    parts.append(
        f'<wsdl:binding name="{SERVICE_NAME}" type="tns:{SERVICE_NAME}">'
        '<soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>'
    )
    for op in OPERATIONS:
        parts.append(
            f'<wsdl:operation name="{op}"><soap:operation soapAction="{op}" style="document"/>'
            f'<wsdl:input name="{op}"><soap:body use="literal"/></wsdl:input>'
            f'<wsdl:output name="{op}Response"><soap:body use="literal"/></wsdl:output></wsdl:operation>'
        )
    parts.append("</wsdl:binding>")
    parts.append(
        f'<wsdl:service name="{SERVICE_NAME}"><wsdl:port name="{SERVICE_NAME}" binding="tns:{SERVICE_NAME}">'
        f'<soap:address location="{escape(location)}"/></wsdl:port></wsdl:service>'
    )
    parts.append("</wsdl:definitions>")
    return "\n".join(parts) + "\n"
