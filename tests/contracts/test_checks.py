"""The reference checker: each rule fires on its own, batch and case semantics."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts import rules as R
from contracts.checks import BatchChecker, check_file, check_row
from contracts.formats import dumps_row

SYNC = {
    "row_guid": "g-accept",
    "cd_batch": "b1",
    "cd_operation": "I",
    "cd_time": "2026-02-13T09:30:00+08:00",
    "data_source": "yc-510129",
}
ACCEPT: dict[str, Any] = {
    "table": "up_pro_accept",
    "project_no": "P1",
    "task_code": "T1",
    "task_version": "1",
    "task_name": "个体工商户设立登记",
    "region_code": "510129",
    "org_code": "11510129008589710X",
    "org_name": "大邑县市场监督管理局",
    "applyer_type": "1",
    "applyer_name": "张三",
    "applyer_id_type": "111",
    "applyer_id": "510129199001011238",
    "apply_date": "2026-02-12",
    "accept_date": "2026-02-13",
    "promise_day": 5,
    "anticipate_day": 15,
    "promise_date": "2026-02-27",
    "handle_mode": "1",
    **SYNC,
}
RESULT: dict[str, Any] = {
    "table": "up_pro_result",
    "project_no": "P1",
    "result_date": "2026-02-26",
    "result_type": "1",
    "result_cert_name": None,
    "result_cert_no": None,
    **SYNC,
    "row_guid": "g-result",
}


def _rules(row: dict[str, Any]) -> set[str]:
    return {v.rule_id for v in check_row(row).violations}


def test_clean_accept_row_passes() -> None:
    rc = check_row(ACCEPT)
    assert rc.ok, rc.violations
    assert rc.flags == []
    assert check_row(RESULT).ok


@pytest.mark.parametrize(
    ("change", "rule_id"),
    [
        ({"apply_date": "2026-02-14"}, R.ACCEPT_DATE_ORDER),
        ({"applyer_id": "510129199001011239"}, R.ACCEPT_APPLYER_ID_CHECK_DIGIT),
        ({"applyer_id": "5101291990010112"}, R.ACCEPT_APPLYER_ID_FORMAT),
        ({"applyer_id_type": "001", "applyer_id": "115101290085897124"}, R.ACCEPT_APPLYER_ID_CHECK_DIGIT),
        ({"org_code": "115101290085897124"}, R.ACCEPT_ORG_CODE_USCC),
        ({"region_code": "519999"}, R.ACCEPT_REGION_CODE),
        ({"anticipate_day": 4}, R.ACCEPT_PROMISE_DAY_ORDER),
        ({"promise_date": "2026-02-26"}, R.ACCEPT_PROMISE_DATE),
        ({"handle_mode": "9"}, R.FIELD_CODE_LIST),
        ({"accept_date": "2026/02/13"}, R.FIELD_DATE_FORMAT),
        ({"cd_time": "2026-02-13 09:30:00"}, R.FIELD_TIMESTAMP_FORMAT),
        ({"applyer_name": "张" * 101}, R.FIELD_MAX_LENGTH),
        ({"promise_day": "5"}, R.FIELD_TYPE),
        ({"promise_day": 10000}, R.FIELD_RANGE),
        ({"task_name": ""}, R.FIELD_REQUIRED),
        ({"extra": 1}, R.ROW_UNKNOWN_COLUMN),
        ({"table": "up_pro_nothing"}, R.ROW_TABLE),
    ],
)
def test_each_rule_fires_alone(change: dict[str, Any], rule_id: str) -> None:
    assert _rules({**ACCEPT, **change}) == {rule_id}


def test_missing_column_is_required_and_dependent_rules_are_skipped() -> None:
    row = dict(ACCEPT)
    del row["apply_date"]
    assert _rules(row) == {R.FIELD_REQUIRED}
    assert _rules({**ACCEPT, "applyer_id_type": "112"}) == {R.FIELD_CODE_LIST}


def test_special_procedure_and_evaluation_rules() -> None:
    special = {
        "table": "up_pro_special_procedure",
        "project_no": "P1",
        "procedure_type": "1",
        "start_date": "2026-03-05",
        "end_date": "2026-03-04",
        **SYNC,
    }
    assert _rules(special) == {R.SPECIAL_DATE_ORDER}
    evaluation = {
        "table": "up_pro_evaluation",
        "project_no": "P1",
        "eval_level": 6,
        "eval_date": "2026-03-05",
        "channel": "1",
        **SYNC,
    }
    assert _rules(evaluation) == {R.FIELD_CODE_LIST}
    assert _rules({**evaluation, "eval_level": True}) == {R.FIELD_TYPE}


def test_provisional_promise_date_is_flagged_not_quarantined() -> None:
    row = {**ACCEPT, "apply_date": "2026-12-28", "accept_date": "2026-12-28", "promise_date": "2027-01-04"}
    rc = check_row(row)
    assert rc.ok
    assert [f.rule_id for f in rc.flags] == [R.ACCEPT_PROMISE_DATE_PROVISIONAL]
    assert "2027.json" in rc.flags[0].message


def test_first_accepted_occurrence_wins_and_quarantined_rows_own_nothing() -> None:
    c = BatchChecker()
    assert [v.status for v in c.feed(1, ACCEPT)] == ["valid"]
    assert [(v.status, v.rule_ids) for v in c.feed(2, dict(ACCEPT))] == [
        ("quarantined", (R.ROW_DUPLICATE_GUID,))
    ]
    bad = {**RESULT, "result_type": "9"}
    assert [v.status for v in c.feed(3, bad)] == ["quarantined"]
    # the corrected resubmission of the quarantined row is not a duplicate
    assert [v.status for v in c.feed(4, RESULT)] == ["valid"]
    assert c.finish() == []


def test_children_wait_for_their_parent_and_are_checked_against_it() -> None:
    c = BatchChecker()
    early = {**RESULT, "result_date": "2026-02-12"}  # before the accept date
    assert c.feed(1, early) == []
    assert c.feed(2, {**RESULT, "row_guid": "g-other", "project_no": "P2"}) == []
    assert c.held_count == 2
    settled = c.feed(3, ACCEPT)
    assert [(v.line, v.status) for v in settled] == [(3, "valid"), (1, "quarantined")]
    assert settled[1].rule_ids == (R.RESULT_DATE_ORDER,)
    # the result quarantined on release gives its row_guid back
    assert [v.status for v in c.feed(4, {**RESULT, "result_date": "2026-02-20"})] == ["valid"]
    held = c.finish()
    assert [(v.line, v.status, v.rule_ids) for v in held] == [(2, "held", (R.CHILD_PARENT_MISSING,))]


def test_children_of_a_quarantined_parent_stay_held_and_known_parents_count() -> None:
    c = BatchChecker()
    c.feed(1, {**ACCEPT, "region_code": "519999"})
    assert c.feed(2, RESULT) == []
    assert [v.status for v in c.finish()] == ["held"]
    c2 = BatchChecker(known_parents={"P1": date(2026, 2, 13)})
    assert [v.status for v in c2.feed(1, RESULT)] == ["valid"]


def test_check_file_reports_bad_lines_and_summary() -> None:
    data = "\n".join([dumps_row(ACCEPT), "{oops", dumps_row(RESULT), dumps_row(RESULT)]).encode("gb18030")
    report = check_file(data)
    assert [v.status for v in report.verdicts] == ["valid", "quarantined", "valid", "quarantined"]
    assert report.verdicts[1].rule_ids == (R.ROW_NOT_JSON,)
    assert report.summary() == {
        "rows": 4,
        "valid": 2,
        "held": 0,
        "invalid": 2,
        "reasons": {R.ROW_DUPLICATE_GUID: 1, R.ROW_NOT_JSON: 1},
        "flags": {},
    }
