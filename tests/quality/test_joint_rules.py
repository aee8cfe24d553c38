"""Joint-case member rows (联办件, up_pro_accept.joint_no + theme_code) at the quality gate's split:
a member naming no theme, or an item that is not a member of its theme, is quarantined with the
rule id and the field; a clean member passes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from contracts import rules as R
from contracts.catalog import load_catalog
from quality import split_rows
from sandbox.generator import write_case_files

Row = dict[str, Any]
NEWBORN = "T5101290003"


@pytest.fixture(scope="module")
def accept(tmp_path_factory: pytest.TempPathFactory) -> Row:
    path = tmp_path_factory.mktemp("joint") / "clean.jsonl"
    write_case_files(path, 40, seed=11, bad_ratio=0.0)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    row: Row = next(r for r in rows if r["table"] == "up_pro_accept")
    return row


def _member(accept: Row, n: int, **change: Any) -> Row:
    theme = load_catalog().theme(NEWBORN)
    row = copy.deepcopy(accept)
    row.update(
        project_no=f"{accept['project_no']}J{n}",
        row_guid=f"{accept['row_guid'][:-4]}{n:04d}",
        task_code=theme.task_codes[0],
        joint_no="LB5101292026000001",
        theme_code=NEWBORN,
    )
    row.update(change)
    return row


def test_joint_member_rows(accept: Row) -> None:
    other_region = next(i.task_code for i in load_catalog().items if i.region_code == "511825")
    rows = [
        _member(accept, 1),  # a clean member
        _member(accept, 2, theme_code="T9999999999"),  # no such theme
        _member(accept, 3, theme_code=None),  # joint_no without a theme
        _member(accept, 4, joint_no=None),  # a theme without a joint case
        _member(accept, 5, task_code=other_region),  # not a member of the theme
    ]
    split = split_rows(rows)
    assert split.curated == [0], split.reasons
    rules = {p: {(r["rule_id"], r["field"]) for r in split.reasons[p]} for p in split.quarantined}
    assert R.ACCEPT_JOINT_THEME in {rule for rule, _ in rules[1]}
    assert R.ACCEPT_JOINT_THEME in {rule for rule, _ in rules[2]}
    assert R.ACCEPT_JOINT_THEME in {rule for rule, _ in rules[3]}
    assert {rule for rule, _ in rules[4]} == {R.ACCEPT_JOINT_MEMBER}
    for p, found in rules.items():  # every reason names a column of the joint rules
        assert all(
            f in ("joint_no", "theme_code", "task_code") for _, f in found if _.startswith("accept.joint")
        ), (
            p,
            found,
        )
    assert split.reason_counts[R.ACCEPT_JOINT_THEME] == 3
    assert split.reason_counts[R.ACCEPT_JOINT_MEMBER] == 1
