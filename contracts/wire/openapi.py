"""OpenAPI 3.1 documents of the county window feed and the department system, generated from the field table.

County feed: ``GET /v1/cases/changes?cursor&limit`` → ``{"rows": [CaseRow], "next_cursor", "has_more"}``
(rows in change order, each tagged with its ``table``; the cursor is opaque; bearer auth).
Department: ``GET /v1/approvals?cursor&limit`` → approval data (the license face fields) for
finished cases, late ones appended to the change log so a cursor never skips them (HMAC auth).
"""

from __future__ import annotations

from typing import Any

from contracts.fields import CASE_TABLES, TABLES, FieldSpec


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
        "required": ["rows", "next_cursor", "has_more"],
        "properties": {
            "rows": {"type": "array", "items": item_ref},
            "next_cursor": {"type": ["string", "null"], "description": "opaque; pass back as ?cursor="},
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


def county_feed_openapi() -> dict[str, Any]:
    schemas: dict[str, Any] = {name: _table_schema(name) for name in CASE_TABLES}
    schemas["CaseRow"] = {
        "oneOf": [{"$ref": f"#/components/schemas/{n}"} for n in CASE_TABLES],
        "discriminator": {"propertyName": "table"},
    }
    schemas["CasePage"] = _paged({"$ref": "#/components/schemas/CaseRow"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "县窗口系统 办件变更数据 (county window feed)", "version": "1.0.0"},
        "paths": {
            "/v1/cases/changes": {
                "get": {
                    "operationId": "getCaseChanges",
                    "summary": "Case rows changed after the cursor, in change order",
                    "parameters": _PAGING,
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": {
                            "description": "a page",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/CasePage"}}
                            },
                        },
                        "401": {"description": "bad token"},
                    },
                }
            }
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def department_openapi() -> dict[str, Any]:
    approval = {
        "type": "object",
        "required": [
            "approval_id",
            "project_no",
            "task_code",
            "type_code",
            "org_code",
            "approved_date",
            "sent_at",
        ],
        "properties": {
            "approval_id": {
                "type": "string",
                "maxLength": 64,
                "description": "the department's idempotency key",
            },
            "project_no": _prop(TABLES["up_pro_accept"].field("project_no")),
            "task_code": {"type": "string", "maxLength": 64},
            "type_code": {
                "type": "string",
                "minLength": 21,
                "maxLength": 21,
                "description": "license type code (ZZLXDM)",
            },
            "org_code": {"type": "string", "minLength": 18, "maxLength": 18},
            "approved_date": {"type": "string", "format": "date"},
            "sent_at": {"type": "string", "format": "date-time"},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "face fields KZ_*",
            },
            "holders": {"type": "array", "items": {"type": "object"}},
            "valid_from": {"type": ["string", "null"], "format": "date"},
            "valid_until": {"type": ["string", "null"], "format": "date"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "部门审批系统 审批结果数据 (department approvals)", "version": "1.0.0"},
        "paths": {
            "/v1/approvals": {
                "get": {
                    "operationId": "getApprovals",
                    "summary": "Approval data of finished cases after the cursor (late ones are appended)",
                    "parameters": _PAGING,
                    "security": [{"hmac": []}],
                    "responses": {
                        "200": {
                            "description": "a page",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ApprovalPage"}}
                            },
                        },
                        "401": {"description": "bad signature"},
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Approval": approval,
                "ApprovalPage": _paged({"$ref": "#/components/schemas/Approval"}),
            },
            "securitySchemes": {
                "hmac": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Signature",
                    "description": "hex HMAC-SHA256 over METHOD\\nPATH?QUERY\\nTIMESTAMP "
                    "(with X-Key-Id and X-Timestamp)",
                }
            },
        },
    }


DOCUMENTS = {"county_feed.openapi.json": county_feed_openapi, "department.openapi.json": department_openapi}
