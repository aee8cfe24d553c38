"""Chinese working-day calendar (DOMAIN.md §6): chinese-calendar plus an operator-maintained
supplement per year, which takes precedence.

Sources, per day: a supplement file's ``workdays`` / ``holidays`` first; else chinese-calendar
(1.11.0 covers 2004–2026); else, for a year no source knows, weekends-only *provisionally*.
A year is *known* when chinese-calendar covers it or a supplement file for it is loaded.

Convention: the accept day itself is not counted; ``add_workdays(d, n)`` is the n-th working day
strictly after ``d``, counted one day at a time (``find_workday(n, d)`` of chinese-calendar agrees
only when ``d`` is a working day). ``n = 0`` gives ``d`` itself.

Unknown years: :meth:`WorkCalendar.is_workday` raises :class:`~contracts.errors.UnknownYearError`
naming the file to add (``<year>.json``) and the folders searched. Counting (``add_workdays``,
``workdays_in``, ``extended_deadline``) never crashes a pipeline: when it touches an unknown
year it returns a result with ``provisional=True`` and the ``unknown_years``, computed
weekends-only for those days (pass ``strict=True`` to raise instead).

Supplement files: ``<year>.json`` in the packaged folder (``contracts/calendar/``) and in the
operator's folders (later folders override earlier ones, file by file)::

    {"year": 2027,
     "source": "国务院办公厅关于2027年部分节假日安排的通知",
     "holidays": {"2027-01-01": "元旦", "2027-02-06/2027-02-12": "春节"},
     "workdays": {"2027-02-14": "春节调休"}}

Keys are ``YYYY-MM-DD`` or an inclusive range ``YYYY-MM-DD/YYYY-MM-DD``; values are names
(a plain list of dates is accepted too). Days not listed fall back to chinese-calendar when it
knows the year, else to Monday–Friday.

Public API::

    WorkCalendar(supplements=(), *, folders=(), use_chinese_calendar=True)
    WorkCalendar.from_folders(*folders, include_packaged=True) -> WorkCalendar
    default_calendar(folder=None) -> WorkCalendar       # packaged + folder or $TONGBAN_CALENDAR_DIR (cached)
    .knows_year(year) -> bool ; .is_workday(d) -> bool  (raises UnknownYearError)
    .add_workdays(start, n, *, strict=False) -> WorkdayResult
    .promise_date(accept_date, promise_day, *, strict=False) -> WorkdayResult   # same as add_workdays
    .workdays_in(start, end, *, strict=False) -> WorkdayCount                    # both ends included
    .extended_deadline(deadline, procedures, *, strict=False) -> WorkdayResult  # special procedures
    merge_periods(periods) -> list[tuple[date, date]]
    YearSupplement, parse_supplement(doc, origin=...), load_supplement(path)
    WorkdayResult(date, provisional, unknown_years) ; WorkdayCount(count, provisional, unknown_years)
    supplement_file_name(year) -> "<year>.json"
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import chinese_calendar

from contracts.errors import SupplementError, UnknownYearError

PACKAGED_FOLDER = Path(__file__).resolve().parent
CALENDAR_DIR_ENV = "TONGBAN_CALENDAR_DIR"
_YEAR_FILE = re.compile(r"(\d{4})\.json")
_ONE_DAY = timedelta(days=1)


def supplement_file_name(year: int) -> str:
    return f"{year}.json"


@dataclass(frozen=True)
class YearSupplement:
    """Holidays and make-up working days of one year (an operator's data file)."""

    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    source: str = ""
    origin: str = ""


@dataclass(frozen=True, slots=True)
class WorkdayResult:
    """A computed date; ``provisional`` when some days were in a year no source knows."""

    date: date
    provisional: bool = False
    unknown_years: tuple[int, ...] = ()

    @property
    def missing_files(self) -> tuple[str, ...]:
        return tuple(supplement_file_name(y) for y in self.unknown_years)


@dataclass(frozen=True, slots=True)
class WorkdayCount:
    count: int
    provisional: bool = False
    unknown_years: tuple[int, ...] = ()


def _parse_day(text: str, origin: str) -> date:
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else _bad(text, origin)
    except ValueError:
        return _bad(text, origin)


def _bad(text: str, origin: str) -> date:
    raise SupplementError(f"{origin}: {text!r} is not a date YYYY-MM-DD")


def _expand(entries: Any, origin: str, what: str) -> dict[date, str]:
    if entries is None:
        return {}
    if isinstance(entries, list):
        entries = {str(e): "" for e in entries}
    if not isinstance(entries, dict):
        raise SupplementError(f"{origin}: {what} must be an object of date -> name or a list of dates")
    out: dict[date, str] = {}
    for key, name in entries.items():
        if "/" in str(key):
            a, b = (_parse_day(p.strip(), origin) for p in str(key).split("/", 1))
            if b < a:
                raise SupplementError(f"{origin}: range {key!r} ends before it starts")
            d = a
            while d <= b:
                out[d] = str(name)
                d += _ONE_DAY
        else:
            out[_parse_day(str(key).strip(), origin)] = str(name)
    return out


def parse_supplement(doc: Mapping[str, Any], *, origin: str = "<supplement>") -> YearSupplement:
    """Validate a supplement document (see module docstring); raises :class:`SupplementError`."""
    year = doc.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
        raise SupplementError(f"{origin}: 'year' must be an integer year")
    unknown = set(doc) - {"year", "source", "holidays", "workdays", "note", "notes"}
    if unknown:
        raise SupplementError(f"{origin}: unknown keys {sorted(unknown)}")
    holidays = _expand(doc.get("holidays"), origin, "holidays")
    workdays = _expand(doc.get("workdays"), origin, "workdays")
    for d in (*holidays, *workdays):
        if d.year != year:
            raise SupplementError(f"{origin}: {d} is not in {year}")
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise SupplementError(f"{origin}: {both[0]} is listed both as holiday and as working day")
    return YearSupplement(
        year, MappingProxyType(holidays), MappingProxyType(workdays), str(doc.get("source", "")), origin
    )


def load_supplement(path: str | Path) -> YearSupplement:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SupplementError(f"{p}: cannot read calendar supplement: {exc}") from exc
    if not isinstance(doc, dict):
        raise SupplementError(f"{p}: a calendar supplement must be a JSON object")
    sup = parse_supplement(doc, origin=str(p))
    m = _YEAR_FILE.fullmatch(p.name)
    if m and int(m.group(1)) != sup.year:
        raise SupplementError(f"{p}: file name says {m.group(1)} but 'year' is {sup.year}")
    return sup


@cache
def _cc_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def merge_periods(periods: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """Merge overlapping or touching inclusive periods; a period whose end precedes its start is ignored."""
    ordered = sorted((a, b) for a, b in periods if b >= a)
    merged: list[tuple[date, date]] = []
    for a, b in ordered:
        if merged and a <= merged[-1][1] + _ONE_DAY:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


@dataclass
class WorkCalendar:
    """Working days from chinese-calendar and per-year supplements (supplements take precedence)."""

    supplements: Iterable[YearSupplement] = ()
    folders: Sequence[str] = ()
    use_chinese_calendar: bool = True
    _by_year: dict[int, YearSupplement] = field(init=False, repr=False)
    _cache: dict[date, tuple[bool, bool]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_year = {}
        for s in self.supplements:
            self._by_year[s.year] = s
        self.supplements = tuple(self._by_year.values())
        self.folders = tuple(str(f) for f in self.folders)
        self._cache = {}

    @classmethod
    def from_folders(cls, *folders: str | Path, include_packaged: bool = True) -> WorkCalendar:
        """Load ``<year>.json`` from the packaged folder (unless excluded) then each folder in order."""
        search = ([PACKAGED_FOLDER] if include_packaged else []) + [Path(f) for f in folders]
        sups: dict[int, YearSupplement] = {}
        for folder in search:
            if not folder.is_dir():
                if folder != PACKAGED_FOLDER:
                    raise SupplementError(f"calendar supplement folder {folder} does not exist")
                continue
            for p in sorted(folder.iterdir()):
                if _YEAR_FILE.fullmatch(p.name):
                    s = load_supplement(p)
                    sups[s.year] = s
        return cls(tuple(sups.values()), folders=tuple(str(f) for f in search))

    # --- single days ---------------------------------------------------------------------------

    def knows_year(self, year: int) -> bool:
        return year in self._by_year or (self.use_chinese_calendar and _cc_knows(year))

    def supplement(self, year: int) -> YearSupplement | None:
        return self._by_year.get(year)

    def _lookup(self, d: date) -> tuple[bool, bool]:
        """(is working day, known) — weekends-only with known=False for unknown years."""
        hit = self._cache.get(d)
        if hit is not None:
            return hit
        sup = self._by_year.get(d.year)
        if sup is not None and d in sup.workdays:
            out = (True, True)
        elif sup is not None and d in sup.holidays:
            out = (False, True)
        elif self.use_chinese_calendar and _cc_knows(d.year):
            out = (bool(chinese_calendar.is_workday(d)), True)
        else:
            out = (d.weekday() < 5, sup is not None)
        self._cache[d] = out
        return out

    def is_workday(self, d: date) -> bool:
        """True on a working day; raises :class:`UnknownYearError` for a year no source knows."""
        work, known = self._lookup(d)
        if not known:
            raise UnknownYearError(d.year, supplement_file_name(d.year), tuple(self.folders))
        return work

    # --- counting ------------------------------------------------------------------------------

    def _fail_or_note(self, year: int, strict: bool, unknown: set[int]) -> None:
        if strict:
            raise UnknownYearError(year, supplement_file_name(year), tuple(self.folders))
        unknown.add(year)

    def add_workdays(self, start: date, n: int, *, strict: bool = False) -> WorkdayResult:
        """The n-th working day strictly after ``start`` (``n == 0`` → ``start``)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        unknown: set[int] = set()
        d = start
        left = n
        while left > 0:
            d += _ONE_DAY
            work, known = self._lookup(d)
            if not known:
                self._fail_or_note(d.year, strict, unknown)
            if work:
                left -= 1
        return WorkdayResult(d, bool(unknown), tuple(sorted(unknown)))

    def promise_date(self, accept_date: date, promise_day: int, *, strict: bool = False) -> WorkdayResult:
        """承诺办结日期: the ``promise_day``-th working day strictly after ``accept_date``."""
        return self.add_workdays(accept_date, promise_day, strict=strict)

    def workdays_in(self, start: date, end: date, *, strict: bool = False) -> WorkdayCount:
        """Working days in [start, end], both ends included (0 when end < start)."""
        unknown: set[int] = set()
        count = 0
        d = start
        while d <= end:
            work, known = self._lookup(d)
            if not known:
                self._fail_or_note(d.year, strict, unknown)
            count += work
            d += _ONE_DAY
        return WorkdayCount(count, bool(unknown), tuple(sorted(unknown)))

    def extended_deadline(
        self, deadline: date, procedures: Iterable[tuple[date, date]], *, strict: bool = False
    ) -> WorkdayResult:
        """Extend ``deadline`` by the working days inside the special procedures' periods (each
        [start, end] inclusive, overlapping periods merged) — DOMAIN.md §6."""
        unknown: set[int] = set()
        extra = 0
        for a, b in merge_periods(procedures):
            c = self.workdays_in(a, b, strict=strict)
            extra += c.count
            unknown.update(c.unknown_years)
        res = self.add_workdays(deadline, extra, strict=strict)
        unknown.update(res.unknown_years)
        return WorkdayResult(res.date, bool(unknown), tuple(sorted(unknown)))


_DEFAULTS: dict[str, WorkCalendar] = {}


def default_calendar(folder: str | Path | None = None) -> WorkCalendar:
    """The packaged supplements plus ``folder`` (or ``$TONGBAN_CALENDAR_DIR`` when set); cached per folder."""
    chosen = str(folder) if folder is not None else os.environ.get(CALENDAR_DIR_ENV, "")
    cal = _DEFAULTS.get(chosen)
    if cal is None:
        cal = WorkCalendar.from_folders(*([chosen] if chosen else []))
        _DEFAULTS[chosen] = cal
    return cal
