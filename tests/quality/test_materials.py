"""The material states of issue 18 at the gate (容缺, 已补正, 电子证照): each cross-field rule fails
its own row with its own rule id and field, the split and the reference checker
(:mod:`contracts.checks`) agree row by row, and good rows of every state pass."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts import rules as R
from contracts.catalog import load_catalog
from contracts.checks import BatchChecker
from contracts.validators import make_license_id
from quality import split_rows

Row = dict[str, Any]

LICENSE = make_license_id("11100000YL0000012P001", "11510129008589710X", "2026000001")
ACCEPT: Row = {
    "table": "up_pro_accept",
    "project_no": "510129260000000001",
    "task_code": "11510129008589710X4000120002000",
    "task_version": "3",
    "task_name": "食品经营许可(新办)",
    "region_code": "510129",
    "org_code": "11510129008589710X",
    "org_name": "大邑县市场监督管理局",
    "applyer_type": "6",
    "applyer_name": "大邑县示例小店",
    "applyer_id_type": "001",
    "applyer_id": "91510129MA6CXXXX97",
    "apply_date": "2026-03-02",
    "accept_date": "2026-03-02",
    "promise_day": 5,
    "anticipate_day": 20,
    "promise_date": "2026-03-09",
    "handle_mode": "1",
    "row_guid": "acc-1",
    "cd_batch": "b1",
    "cd_operation": "I",
    "cd_time": "2026-03-02T09:00:00+08:00",
    "data_source": "test",
}


def material(guid: str, name: str = "食品安全管理制度", **kw: Any) -> Row:
    return {
        "table": "up_pro_material",
        "project_no": ACCEPT["project_no"],
        "material_name": name,
        "material_type": "3",
        "row_guid": guid,
        "cd_batch": "b1",
        "cd_operation": "I",
        "cd_time": "2026-03-02T09:00:00+08:00",
        "data_source": "test",
        **kw,
    }


GOOD = [
    material("m-submitted"),
    material("m-state1", material_state="1"),
    material("m-missing", material_state="2", supply_by="2026-03-06"),
    material("m-supplied", material_state="3", supplied_date="2026-03-05", cd_operation="U"),
    material(
        "m-license", "营业执照(电子证照免提交)", material_type="4", material_state="4", license_ref=LICENSE
    ),
]
BAD = [  # (row, the one reason expected)
    (material("b-no-supply-by", material_state="2"), (R.MATERIAL_STATE_COLUMNS, "material_state")),
    (material("b-no-supplied", material_state="3"), (R.MATERIAL_STATE_COLUMNS, "material_state")),
    (material("b-no-ref", material_state="4"), (R.MATERIAL_STATE_COLUMNS, "material_state")),
    (material("b-stray-ref", license_ref=LICENSE), (R.MATERIAL_STATE_COLUMNS, "material_state")),
    (
        material(
            "b-bad-ref", material_state="4", license_ref=LICENSE[:-1] + ("0" if LICENSE[-1] != "0" else "1")
        ),
        (R.MATERIAL_LICENSE_REF, "license_ref"),
    ),
    (
        material("b-primary", "食品经营许可申请书", material_state="2", supply_by="2026-03-06"),
        (R.MATERIAL_PRIMARY_DEFERRED, "material_state"),
    ),
    (
        material("b-early", material_state="2", supply_by="2026-03-01"),
        (R.MATERIAL_SUPPLY_BY_ORDER, "supply_by"),
    ),
    (material("b-bad-state", material_state="7"), (R.FIELD_CODE_LIST, "material_state")),
    (material("b-bad-date", material_state="2", supply_by="2026-02-30"), (R.FIELD_DATE_FORMAT, "supply_by")),
]


def test_the_catalog_marks_primary_materials_and_the_shared_license_is_secondary() -> None:
    primary = load_catalog().primary_material_names()
    assert "食品经营许可申请书" in primary and "食品安全管理制度" not in primary
    assert "营业执照(电子证照免提交)" not in primary


@pytest.mark.parametrize("with_parent_in_batch", [True, False])
def test_each_material_rule_fails_its_row_and_the_gate_agrees_with_the_reference(
    with_parent_in_batch: bool,
) -> None:
    rows = [*GOOD, *(r for r, _ in BAD)]
    batch = [ACCEPT, *rows] if with_parent_in_batch else rows
    before = {} if with_parent_in_batch else {ACCEPT["project_no"]: ACCEPT["accept_date"]}
    split = split_rows(batch, parents_before=before)
    offset = 1 if with_parent_in_batch else 0
    bad_at = {offset + len(GOOD) + i: reason for i, (_, reason) in enumerate(BAD)}
    assert sorted(split.quarantined) == sorted(bad_at)
    for p, (rule_id, fld) in bad_at.items():
        assert split.reasons[p] == [{"rule_id": rule_id, "field": fld}], batch[p]["row_guid"]

    checker = BatchChecker(known_parents={k: date.fromisoformat(v) for k, v in before.items()})
    verdicts = [v for i, r in enumerate(batch, start=1) for v in checker.feed(i, r)] + checker.finish()
    ref = {
        v.row_guid: [(x.rule_id, x.field) for x in v.violations]
        for v in verdicts
        if v.status == "quarantined"
    }
    assert ref == {batch[p]["row_guid"]: [reason] for p, reason in bad_at.items()}
