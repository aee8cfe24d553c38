"""Themes (一件事) in the catalog and the joint promise date (联办件), against hand-computed dates.

The dates below are counted by hand on the 2026 schedule of DOMAIN.md §6: National Day off
2026-10-01..07 with Saturday 2026-10-10 a make-up working day; Labour Day off 2026-05-01..05.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from contracts.calendar import default_calendar
from contracts.catalog import PACKAGED_FILE, Catalog, load_catalog
from contracts.errors import CatalogError
from contracts.joint import plan_joint

HOUSING, FAMILY_BUSINESS, NEWBORN = "T5101290001", "T5101290002", "T5101290003"


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(PACKAGED_FILE.read_text(encoding="utf-8"))
    return doc


def _names(theme_code: str) -> dict[str, str]:
    cat = load_catalog()
    return {i.name: i.task_code for i in cat.theme_items(cat.theme(theme_code))}


def test_three_themes_with_departments_limits_and_licenses() -> None:
    cat = load_catalog()
    assert {t.name for t in cat.themes_in("510129")} >= {
        "二手房交易一件事",
        "开办企业一件事",
        "新生儿出生一件事",
    }
    for t in cat.themes:
        items = cat.theme_items(t)
        assert len({i.department for i in items}) == len(items)  # one department per member here
        assert all(cat.department(i.department).region_code == t.region_code for i in items)
    housing = cat.theme_items(cat.theme(HOUSING))
    assert [i.license.type_code if i.license else None for i in housing][-1] == "11100000YL0000020J001"
    with pytest.raises(CatalogError, match="unknown theme"):
        cat.theme("T000")


def test_second_hand_housing_in_sequence_across_national_day() -> None:
    """网签 (1 day) → 税务 (1) → 不动产登记 (4), accepted Tuesday 2026-09-29."""
    cat = load_catalog()
    plan = plan_joint(cat.theme(HOUSING), cat, date(2026, 9, 29), default_calendar())
    names = _names(HOUSING)
    sign = plan.member(names["存量房买卖合同网签备案"])
    tax = plan.member(names["存量房交易税费申报缴纳"])
    reg = plan.member(names["不动产转移登记(二手房买卖)"])
    assert (sign.start, sign.promise_date) == (date(2026, 9, 29), date(2026, 9, 30))
    assert (tax.start, tax.promise_date) == (date(2026, 9, 30), date(2026, 10, 8))  # holiday skipped
    # 10-09 Fri, 10-10 make-up Saturday, 10-12 Mon, 10-13 Tue
    assert (reg.start, reg.promise_date) == (date(2026, 10, 8), date(2026, 10, 13))
    assert (sign.path_days, tax.path_days, reg.path_days) == (1, 2, 6)  # the members' promise_day on the wire
    assert plan.promise_date == date(2026, 10, 13) and not plan.provisional
    assert (plan.joint_days, plan.sequential_days, plan.days_saved) == (6, 6, 0)


def test_opening_a_business_in_parallel_across_labour_day() -> None:
    """营业执照 (3 days), 公章 (1), 税务 (1), 社保 (1) all start on Wednesday 2026-04-29."""
    cat = load_catalog()
    plan = plan_joint(cat.theme(FAMILY_BUSINESS), cat, date(2026, 4, 29), default_calendar())
    assert all(m.start == date(2026, 4, 29) for m in plan.members)
    licence = plan.member(_names(FAMILY_BUSINESS)["个体工商户设立登记"])
    assert licence.promise_date == date(2026, 5, 7)  # 04-30, (05-01..05 off), 05-06, 05-07
    assert sorted(m.promise_date for m in plan.members)[:3] == [date(2026, 4, 30)] * 3
    assert plan.promise_date == date(2026, 5, 7)
    assert (plan.joint_days, plan.sequential_days, plan.days_saved) == (3, 6, 3)


def test_newborn_waits_then_forks() -> None:
    """出生医学证明 (1) first; 户口 (3) and 医保 (1) wait on it, in parallel; accepted 2026-09-30."""
    cat = load_catalog()
    plan = plan_joint(cat.theme(NEWBORN), cat, date(2026, 9, 30), default_calendar())
    names = _names(NEWBORN)
    cert = plan.member(names["出生医学证明签发"])
    hukou = plan.member(names["出生户口登记"])
    medical = plan.member(names["城乡居民基本医疗保险参保登记(新生儿)"])
    assert cert.promise_date == date(2026, 10, 8)
    assert hukou.start == medical.start == date(2026, 10, 8)
    assert medical.promise_date == date(2026, 10, 9)
    assert hukou.promise_date == date(2026, 10, 12)  # 10-09, 10-10 make-up Saturday, 10-12
    assert plan.promise_date == date(2026, 10, 12)
    assert (plan.joint_days, plan.sequential_days, plan.days_saved) == (4, 5, 1)


def test_a_joint_case_crossing_into_2027_is_provisional() -> None:
    cat = load_catalog()
    plan = plan_joint(cat.theme(NEWBORN), cat, date(2026, 12, 28), default_calendar())
    assert plan.provisional and plan.promise_date.year == 2027


def _broken(change: Any) -> str:
    doc = _doc()
    change(doc["themes"])
    with pytest.raises(ValueError) as info:
        Catalog.model_validate(doc)
    return str(info.value)


def test_bad_themes_are_refused_with_the_member_named() -> None:
    def unknown(themes: list[dict[str, Any]]) -> None:
        themes[1]["members"][3]["task_code"] = "11510129051012941Q4000999999000"

    assert "member 11510129051012941Q4000999999000 names no service item" in _broken(unknown)

    def cycle(themes: list[dict[str, Any]]) -> None:
        first, second = themes[0]["members"][0], themes[0]["members"][1]
        first["after"] = [second["task_code"]]

    assert "cycle" in _broken(cycle)

    def stranger(themes: list[dict[str, Any]]) -> None:
        themes[1]["members"][0]["after"] = ["11511825051182510B4000120001000"]

    assert "which is not a member" in _broken(stranger)

    def other_region(themes: list[dict[str, Any]]) -> None:
        themes[1]["members"].append({"task_code": "11511825051182510B4000120001000", "after": []})

    assert "not the theme's 510129" in _broken(other_region)

    def twice(themes: list[dict[str, Any]]) -> None:
        themes[2]["members"].append(copy.deepcopy(themes[2]["members"][0]))

    assert "listed twice" in _broken(twice)
