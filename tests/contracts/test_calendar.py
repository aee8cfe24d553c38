"""Working-day calendar: every vector of DOMAIN.md §6, supplements, unknown years."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.calendar import (
    PACKAGED_FOLDER,
    WorkCalendar,
    default_calendar,
    load_supplement,
    merge_periods,
    parse_supplement,
)
from contracts.errors import SupplementError, UnknownYearError

D = date


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_folders()


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (D(2026, 2, 13), 5, D(2026, 2, 27)),
        (D(2026, 9, 30), 3, D(2026, 10, 10)),  # a make-up working Saturday
        (D(2026, 4, 30), 1, D(2026, 5, 6)),
        (D(2026, 2, 14), 1, D(2026, 2, 24)),  # from a make-up Saturday
        (D(2026, 3, 7), 1, D(2026, 3, 9)),  # from a Saturday
        (D(2026, 10, 1), 3, D(2026, 10, 10)),  # from a holiday
        (D(2026, 12, 24), 5, D(2026, 12, 31)),
    ],
)
def test_domain_vectors(cal: WorkCalendar, start: date, n: int, expected: date) -> None:
    res = cal.promise_date(start, n)
    assert res.date == expected
    assert not res.provisional
    assert res.unknown_years == ()


def test_find_workday_disagrees_on_a_saturday_as_documented() -> None:
    # DOMAIN.md §6: find_workday(n, d) agrees only when d is a working day
    assert chinese_calendar.find_workday(1, D(2026, 3, 7)) == D(2026, 3, 10)
    assert chinese_calendar.find_workday(5, D(2026, 2, 13)) == D(2026, 2, 27)


def test_crossing_into_unknown_year_is_provisional(cal: WorkCalendar) -> None:
    res = cal.promise_date(D(2026, 12, 28), 5)
    assert res.provisional
    assert res.unknown_years == (2027,)
    assert res.missing_files == ("2027.json",)
    assert res.date == D(2027, 1, 4)  # weekends-only until the 2027 schedule is loaded
    with pytest.raises(UnknownYearError):
        cal.promise_date(D(2026, 12, 28), 5, strict=True)


def test_unknown_year_error_names_the_file(cal: WorkCalendar) -> None:
    with pytest.raises(UnknownYearError) as exc:
        cal.is_workday(D(2027, 3, 1))
    assert exc.value.code == "CALENDAR_YEAR_UNKNOWN"
    assert exc.value.year == 2027
    assert exc.value.file_name == "2027.json"
    assert "2027.json" in str(exc.value)
    assert str(PACKAGED_FOLDER) in str(exc.value)
    with pytest.raises(UnknownYearError):
        cal.is_workday(D(2003, 5, 1))
    assert not cal.knows_year(2027)
    assert cal.knows_year(2026)
    assert cal.knows_year(2004)


def test_supplement_takes_the_year_and_precedence(tmp_path: Path) -> None:
    (tmp_path / "2027.json").write_text(
        json.dumps(
            {
                "year": 2027,
                "source": "test schedule",
                "holidays": {"2027-01-01": "元旦", "2027-02-05/2027-02-11": "春节"},
                "workdays": ["2027-02-13"],
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "2026.json").write_text(
        json.dumps({"year": 2026, "holidays": {"2026-12-30": "test override"}}), encoding="utf-8"
    )
    cal = WorkCalendar.from_folders(tmp_path)
    assert cal.knows_year(2027)
    assert not cal.is_workday(D(2027, 1, 1))
    assert cal.is_workday(D(2027, 2, 13))  # a make-up Saturday
    assert not cal.is_workday(D(2027, 2, 8))
    assert cal.is_workday(D(2027, 1, 4))
    assert not cal.is_workday(D(2026, 12, 30))  # supplement overrides chinese-calendar
    assert cal.is_workday(D(2026, 12, 31))  # the rest of 2026 still from chinese-calendar
    res = cal.promise_date(D(2026, 12, 28), 5)
    # 29, 31, (1 Jan holiday), 4, 5, 6
    assert res == type(res)(D(2027, 1, 6), False, ())
    assert default_calendar(tmp_path).knows_year(2027)


def test_default_calendar_reads_env_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "2028.json").write_text(json.dumps({"year": 2028}), encoding="utf-8")
    monkeypatch.setenv("TONGBAN_CALENDAR_DIR", str(tmp_path))
    assert default_calendar().knows_year(2028)
    monkeypatch.delenv("TONGBAN_CALENDAR_DIR")
    assert not default_calendar().knows_year(2028)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"year": "2027"}, "year"),
        ({"year": 2027, "holidays": {"2026-12-31": "x"}}, "not in 2027"),
        ({"year": 2027, "holidays": {"2027-02-30": "x"}}, "not a date"),
        ({"year": 2027, "holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}, "both"),
        ({"year": 2027, "holidays": {"2027-02-10/2027-02-01": "x"}}, "ends before"),
        ({"year": 2027, "holiday": {}}, "unknown keys"),
    ],
)
def test_bad_supplements_are_refused(doc: dict[str, object], message: str) -> None:
    with pytest.raises(SupplementError, match=message):
        parse_supplement(doc)


def test_supplement_file_name_must_match_year(tmp_path: Path) -> None:
    p = tmp_path / "2029.json"
    p.write_text(json.dumps({"year": 2030}), encoding="utf-8")
    with pytest.raises(SupplementError, match="file name"):
        load_supplement(p)
    with pytest.raises(SupplementError, match="does not exist"):
        WorkCalendar.from_folders(tmp_path / "nope")


def test_example_supplement_is_valid_and_not_loaded() -> None:
    sup = load_supplement(PACKAGED_FOLDER / "example-supplement.json")
    assert sup.year == 2027
    assert not WorkCalendar.from_folders().knows_year(2027)


def test_special_procedure_vector(cal: WorkCalendar) -> None:
    res = cal.extended_deadline(D(2026, 3, 10), [(D(2026, 3, 4), D(2026, 3, 5))])
    assert res.date == D(2026, 3, 12)
    assert not res.provisional
    # overlapping procedures are merged, weekends inside do not count
    res2 = cal.extended_deadline(
        D(2026, 3, 10), [(D(2026, 3, 4), D(2026, 3, 5)), (D(2026, 3, 5), D(2026, 3, 9))]
    )
    assert cal.workdays_in(D(2026, 3, 4), D(2026, 3, 9)).count == 4
    assert res2.date == D(2026, 3, 16)
    assert cal.extended_deadline(D(2026, 3, 10), []).date == D(2026, 3, 10)


def test_merge_periods() -> None:
    assert merge_periods([(D(2026, 1, 5), D(2026, 1, 6)), (D(2026, 1, 7), D(2026, 1, 8))]) == [
        (D(2026, 1, 5), D(2026, 1, 8))
    ]
    assert merge_periods([(D(2026, 1, 9), D(2026, 1, 8))]) == []


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=D(2004, 1, 1), max_value=D(2026, 10, 31)), st.integers(0, 40))
def test_add_workdays_counts_working_days_strictly_after(start: date, n: int) -> None:
    cal = default_calendar()
    res = cal.add_workdays(start, n)
    assert not res.provisional
    if n == 0:
        assert res.date == start
        return
    assert cal.is_workday(res.date)
    assert res.date > start
    assert cal.workdays_in(start + timedelta(days=1), res.date).count == n
