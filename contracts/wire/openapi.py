"""OpenAPI 3.1 documents of the county window feed and the department system, generated from the
field table and the contract models.

Every feed is ``GET <path>?cursor&limit`` → ``{"items": [{"seq", "row"}], "next_cursor", "has_more"}``
(records in recording order; ``seq`` is the record's position; the cursor is opaque), authenticated
by a bearer token or an HMAC signature.

* County feed ``/v1/changes``: case rows, each tagged with its ``table`` (the contract layout; a
  vendor with another layout is mapped by the peer registry).
* Department ``/v1/approvals``: approval data (the license face fields) of finished cases, late ones
  appended so a cursor never skips them (:class:`contracts.models.DepartmentApproval`);
  ``/v1/status-changes``: status changes of licenses the department issued
  (:class:`contracts.models.DepartmentStatusChange`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts.fields import CASE_TABLES, TABLES, FieldSpec
from contracts.models import DepartmentApproval, DepartmentStatusChange
from contracts.wire import APPROVALS_PATH, COUNTY_FEED_PATH, STATUS_CHANGES_PATH


def _prop(f: FieldSpec) -> dict[str, Any]:
    p: dict[str, Any] = {"description": f.label}
    if f.type == "integer":
        p["type"] = "integer"
        if f.minimum is not None:
            p["minimum"] = f.minimum
        if f.maximum is not None:
            p["maximum"] = f.maximum
    else:
        p["type"] = "string"
        if f.type == "date":
            p["format"] = "date"
        elif f.type == "timestamp":
            p["format"] = "date-time"
        elif f.length:
            p["maxLength"] = f.length
    if not f.required:
        p["type"] = [p["type"], "null"]
    return p


def _table_schema(name: str) -> dict[str, Any]:
    spec = TABLES[name]
    props: dict[str, Any] = {"table": {"const": name}}
    props.update({f.name: _prop(f) for f in spec.fields})
    return {
        "type": "object",
        "title": f"{name} ({spec.label})",
        "properties": props,
        "required": ["table", *spec.required_columns],
    }


def _paged(item_ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor", "has_more"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["seq", "row"],
                    "properties": {
                        "seq": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "position in the feed, one more per record, never reused",
                        },
                        "row": item_ref,
                    },
                },
            },
            "next_cursor": {"type": "string", "description": "opaque; pass back as ?cursor="},
            "has_more": {"type": "boolean"},
        },
    }


_PAGING = [
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2000},
    },
]

_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "hmac": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Signature",
        "description": "hex HMAC-SHA256 over METHOD\\nPATH?QUERY\\nTIMESTAMP, with X-Key-Id and "
        "X-Timestamp (Unix seconds, within 300 s of the server's clock)",
    },
}


def _feed_get(operation: str, summary: str, page_schema: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation,
            "summary": summary,
            "parameters": _PAGING,
            "security": [{"bearer": []}, {"hmac": []}],
            "responses": {
                "200": {
                    "description": "a page",
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{page_schema}"}}
                    },
                },
                "400": {"description": "bad cursor or limit"},
                "401": {"description": "bad token or signature"},
            },
        }
    }


def _model_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model's JSON Schema and its nested definitions, with refs into ``components/schemas``."""
    doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = doc.pop("$defs", {})
    return doc, defs


def county_feed_openapi() -> dict[str, Any]:
    schemas: dict[str, Any] = {name: _table_schema(name) for name in CASE_TABLES}
    schemas["CaseRow"] = {
        "oneOf": [{"$ref": f"#/components/schemas/{n}"} for n in CASE_TABLES],
        "discriminator": {"propertyName": "table"},
    }
    schemas["CasePage"] = _paged({"$ref": "#/components/schemas/CaseRow"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "县窗口系统 办件变更数据 (county window feed)", "version": "2.0.0"},
        "paths": {
            COUNTY_FEED_PATH: _feed_get(
                "getCaseChanges", "Case rows recorded after the cursor, in recording order", "CasePage"
            )
        },
        "components": {"schemas": schemas, "securitySchemes": _SECURITY_SCHEMES},
    }


def department_openapi() -> dict[str, Any]:
    approval, defs = _model_schema(DepartmentApproval)
    change, more = _model_schema(DepartmentStatusChange)
    return {
        "openapi": "3.1.0",
        "info": {"title": "部门审批系统 审批结果与证照状态变更 (department system)", "version": "2.0.0"},
        "paths": {
            APPROVALS_PATH: _feed_get(
                "getApprovals",
                "Approval data of finished cases after the cursor (late ones are appended, never inserted)",
                "ApprovalPage",
            ),
            STATUS_CHANGES_PATH: _feed_get(
                "getStatusChanges",
                "Status changes the department decided on licenses it issued, after the cursor",
                "StatusChangePage",
            ),
        },
        "components": {
            "schemas": {
                **defs,
                **more,
                "Approval": approval,
                "ApprovalPage": _paged({"$ref": "#/components/schemas/Approval"}),
                "StatusChange": change,
                "StatusChangePage": _paged({"$ref": "#/components/schemas/StatusChange"}),
            },
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


DOCUMENTS = {"county_feed.openapi.json": county_feed_openapi, "department.openapi.json": department_openapi}
