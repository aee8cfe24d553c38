"""The JSON Schemas in contracts/schemas are current, and agree with the field table."""

from __future__ import annotations

import json

import jsonschema

from contracts import codes, fields, models
from contracts.schemas import SCHEMA_FOLDER, render, schema_documents


def test_schema_files_are_current() -> None:
    docs = schema_documents()
    on_disk = {p.name for p in SCHEMA_FOLDER.glob("*.json")}
    assert on_disk == set(docs), "run: python -m contracts.schemas"
    for name, doc in docs.items():
        assert (SCHEMA_FOLDER / name).read_text(encoding="utf-8") == render(doc), (
            f"{name} is stale: run python -m contracts.schemas"
        )


def test_schemas_agree_with_field_table() -> None:
    docs = schema_documents()
    for table, spec in fields.TABLES.items():
        schema = json.loads((SCHEMA_FOLDER / f"{table}.json").read_text(encoding="utf-8"))
        props = schema["properties"]
        extra = {"table"} if table in fields.CASE_TABLES else {"holders", "KZ"}
        assert set(props) - extra == set(spec.columns), table
        required = set(schema.get("required", [])) - {"table"}
        assert required == set(spec.required_columns), table
        for f in spec.fields:
            p = props[f.name]
            if f.type == "string" and f.length:
                branch = p if "maxLength" in p else next(b for b in p["anyOf"] if b.get("type") == "string")
                assert branch["maxLength"] == f.length, (table, f.name)
            if f.code_list:
                enum = [str(e) for e in p["enum"]]
                assert enum == list(codes.CODE_LISTS[f.code_list].codes), (table, f.name)
            assert p["x-rules"] == list(f.rule_ids)
        assert docs[f"{table}.json"]["x-spec-version"] == fields.SPEC_VERSION


def test_schema_validates_what_the_model_validates() -> None:
    row = {
        "table": "up_pro_result",
        "project_no": "P1",
        "result_date": "2026-03-05",
        "result_type": "1",
        "result_cert_name": "营业执照",
        "result_cert_no": "92510129MA6C00001X",
        "row_guid": "g1",
        "cd_batch": "b1",
        "cd_operation": "I",
        "cd_time": "2026-03-05T10:00:00+08:00",
        "data_source": "county-window",
    }
    models.parse_case_row(row)
    schema = json.loads((SCHEMA_FOLDER / "case_row.json").read_text(encoding="utf-8"))
    jsonschema.validate(row, schema)
    table_schema = json.loads((SCHEMA_FOLDER / "up_pro_result.json").read_text(encoding="utf-8"))
    jsonschema.validate(row, table_schema)
    for bad in (
        {**row, "result_type": "7"},
        {**row, "extra": 1},
        {k: v for k, v in row.items() if k != "table"},
    ):
        try:
            jsonschema.validate(bad, table_schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"schema accepted {bad}")
