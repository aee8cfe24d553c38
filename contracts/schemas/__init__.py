"""JSON Schema export of every contract model into this folder (``contracts/schemas/*.json``).

The files are generated, never edited by hand: ``python -m contracts.schemas`` rewrites them (the
writing lives in that script, ``__main__.py``: nothing importable in ``contracts`` writes files), and
a test fails when they drift from the models (which a test in turn keeps equal to the field
table). ``field_table.json`` is the field table itself (:func:`contracts.fields.field_table_document`)
for readers that are not Python.

Public API::

    SCHEMA_FOLDER: Path
    schema_documents() -> dict[str, dict]     # file name -> JSON document
    render(doc) -> str                        # the exact text of a schema file
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from contracts.catalog import Catalog
from contracts.fields import CASE_TABLES, SPEC_VERSION, field_table_document
from contracts.licensetypes import LicenseType
from contracts.models import MODEL_FOR_TABLE, CaseRow, DepartmentApproval

SCHEMA_FOLDER = Path(__file__).resolve().parent
BASE_ID = "https://tongban.example/contracts/schemas/"


def _doc(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE_ID + name,
        "x-spec-version": SPEC_VERSION,
        **schema,
    }


def schema_documents() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    models: dict[str, type[BaseModel]] = {
        **MODEL_FOR_TABLE,
        "department_approval": DepartmentApproval,
        "license_type": LicenseType,
        "service_item_catalog": Catalog,
    }
    for name, model in models.items():
        schema = model.model_json_schema()
        if name in CASE_TABLES:  # on the wire the table tag is mandatory
            schema["required"] = ["table", *schema.get("required", [])]
        docs[f"{name}.json"] = _doc(f"{name}.json", schema)
    docs["case_row.json"] = _doc("case_row.json", TypeAdapter(CaseRow).json_schema())
    docs["field_table.json"] = field_table_document()
    return docs


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
