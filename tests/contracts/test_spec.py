"""The field table, the rule ids, the code lists and the pydantic models agree."""

from __future__ import annotations

import json
import types
import typing
from datetime import date, datetime
from typing import Any

import pydantic
import pytest

from contracts import codes, fields, models, rules

TYPE_OF: dict[str, tuple[Any, ...]] = {
    "string": (str,),
    "integer": (int,),
    "date": (date,),
    "timestamp": (datetime, pydantic.AwareDatetime),
}


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(python type, optional?) of a model annotation."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        (annotation,) = args
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation, optional


def test_case_tables_and_sync_columns() -> None:
    assert fields.CASE_TABLES == (
        "up_pro_accept",
        "up_pro_process",
        "up_pro_special_procedure",
        "up_pro_result",
        "up_pro_material",
        "up_pro_evaluation",
    )
    for name in fields.CASE_TABLES:
        spec = fields.TABLES[name]
        assert spec.columns[-5:] == fields.SYNC_COLUMNS
        assert spec.columns[0] == "project_no"
        assert (spec.parent_key is None) == (name == "up_pro_accept")


def test_domain_key_columns_present() -> None:
    expected = {
        "up_pro_accept": "project_no task_code task_version task_name region_code org_code org_name "
        "applyer_type applyer_name applyer_id_type applyer_id apply_date accept_date promise_day "
        "anticipate_day promise_date handle_mode",
        "up_pro_process": "project_no node_name handler handle_date node_result opinion",
        "up_pro_special_procedure": "project_no procedure_type start_date end_date",
        "up_pro_result": "project_no result_date result_type result_cert_name result_cert_no",
        "up_pro_material": "project_no material_name material_type",
        "up_pro_evaluation": "project_no eval_level eval_date channel",
        "license_metadata": "ZZMC ZZLXDM ZZBH ZZBS ZZBFJG ZZBFJGDM ZZBFRQ CZZT CZZTDM CZZTDMLX "
        "ZZYXQQSRQ ZZYXQJZRQ ZZQZR ZZQZSJ ZZQZMC ZZZT",
    }
    for table, cols in expected.items():
        assert set(cols.split()) <= set(fields.TABLES[table].columns), table


def test_every_referenced_rule_and_code_list_exists() -> None:
    for spec in fields.TABLES.values():
        for r in spec.rules:
            assert r in rules.RULES
        for f in spec.fields:
            for r in f.rule_ids:
                assert r in rules.RULES, (spec.name, f.name, r)
            if f.code_list:
                assert f.code_list in codes.CODE_LISTS
                assert f.length is None or f.length >= max(
                    len(c) for c in codes.CODE_LISTS[f.code_list].codes
                )
    for rl in rules.RULES.values():
        assert rl.description.endswith(".")
        assert all(t == "*" or t in fields.TABLES for t in rl.tables)
    assert {"child.parent_missing"} == set(rules.HOLD_RULES)
    assert {"accept.promise_date.provisional"} == set(rules.FLAG_RULES)


def test_code_lists_document_provenance() -> None:
    for cl in codes.CODE_LISTS.values():
        assert cl.source in ("standard", "catalog", "project")
        assert cl.reference
    assert codes.CODE_LISTS["id_type"].contains("111")
    assert codes.CODE_LISTS["id_type"].contains("001")
    assert len(codes.CODE_LISTS["id_type"].codes) > 2  # never only two holder code types
    assert codes.CODE_LISTS["eval_level"].contains(5)
    assert not codes.CODE_LISTS["eval_level"].contains(6)
    assert not codes.CODE_LISTS["eval_level"].contains(True)


def test_models_agree_with_field_table() -> None:
    assert set(models.MODEL_FOR_TABLE) == set(fields.TABLES)
    for table, model in models.MODEL_FOR_TABLE.items():
        spec = fields.TABLES[table]
        model_fields = {k: f for k, f in model.model_fields.items() if k not in ("table", "holders", "KZ")}
        assert set(model_fields) == set(spec.columns), table
        for col in spec.fields:
            info = model_fields[col.name]
            typ, optional = _base_type(info.annotation)
            assert typ in TYPE_OF[col.type], (table, col.name, typ)
            assert optional == (not col.required), (table, col.name)
            assert info.is_required() == col.required, (table, col.name)
            meta = {type(m).__name__: m for m in info.metadata}
            if col.type == "string" and col.length:
                assert meta["MaxLen"].max_length == col.length, (table, col.name)
            if col.minimum is not None:
                assert meta["Ge"].ge == col.minimum
            if col.maximum is not None:
                assert meta["Le"].le == col.maximum
        if table in fields.CASE_TABLES:
            assert model.model_fields["table"].default == table


def test_models_enforce_the_table() -> None:
    row = {
        "table": "up_pro_evaluation",
        "project_no": "P1",
        "eval_level": 5,
        "eval_date": "2026-03-01",
        "channel": "1",
        "row_guid": "g",
        "cd_batch": "b",
        "cd_operation": "I",
        "cd_time": "2026-11-25T09:30:00+08:00",
        "data_source": "s",
    }
    ok = models.parse_case_row(row)
    assert isinstance(ok, models.UpProEvaluation)
    assert ok.model_dump(mode="json") == row
    for change in (
        {"eval_level": 6},
        {"eval_level": "5"},
        {"channel": "99"},
        {"eval_date": "2026/03/01"},
        {"eval_date": "2026-02-30"},
        {"cd_time": "2026-11-25T09:30:00"},
        {"project_no": "P" * 51},
        {"project_no": ""},
        {"extra": 1},
        {"table": "up_pro_nothing"},
    ):
        with pytest.raises(pydantic.ValidationError):
            models.parse_case_row({**row, **change})
    missing = dict(row)
    del missing["eval_date"]
    with pytest.raises(pydantic.ValidationError):
        models.parse_case_row(missing)


def test_license_metadata_holders_and_face_fields() -> None:
    base = {
        "ZZMC": "营业执照",
        "ZZLXDM": "11100000000000000X001",
        "ZZBH": "92510129MA6C000001",
        "ZZBS": "x",
        "ZZBFJG": "大邑县市场监督管理局",
        "ZZBFJGDM": "11510129008589710X",
        "ZZBFRQ": "2026-03-02",
        "CZZT": "大邑县张记小吃店",
        "CZZTDM": "92510129MA6C000001",
        "CZZTDMLX": "001",
        "ZZYXQQSRQ": "2026-03-02",
        "ZZZT": "01",
        "KZ": {"KZ_JYFW": "小吃服务"},
    }
    m = models.LicenseMetadata.model_validate(base)
    assert m.holders[0].CZZTDM == "92510129MA6C000001"
    with pytest.raises(pydantic.ValidationError):
        models.LicenseMetadata.model_validate({**base, "KZ": {"JYFW": "x"}})
    with pytest.raises(pydantic.ValidationError):
        models.LicenseMetadata.model_validate({**base, "ZZZT": "08"})


def test_field_table_document_is_json() -> None:
    doc = fields.field_table_document()
    text = json.dumps(doc, ensure_ascii=False)
    assert doc["spec_version"] == fields.SPEC_VERSION
    assert "up_pro_accept" in text
