"""Vectorized rule kernels: every intake check as numpy / pandas array operations, no Python loop
per row.

Each kernel takes object arrays (the values exactly as JSON decoding produced them: ``str``,
``int``, ``float``, ``bool``, ``None``, lists, dicts, or ``NaN`` for a missing key) and returns a
boolean array, ``True`` where the row *passes* (or where the rule does not apply, e.g. a value of
the wrong type, which the type rule reports). The great-expectations custom expectations in
:mod:`quality.expectations` call these kernels; the tests compare them with the scalar validators
of :mod:`contracts.validators` on random and adversarial inputs.

Check digits are computed over ``uint8`` character matrices (one row per value, one column per
character) with lookup tables and weight vectors (DOMAIN.md §2). Dates are validated with integer
arithmetic on the digit matrix (no pandas timestamp bounds, so ``0900-01-01`` is a real date as
it is for Python's ``date``). Working days come from :mod:`contracts.calendar`, looked up once per
calendar day of the batch's span (not per row), then counted with a cumulative sum and
``searchsorted``.

Public API::

    missing(values) -> bool array                       # key absent (NaN) or JSON null
    present(values) -> bool array                       # not missing and not an empty / blank string
    is_str(values), is_int(values) -> bool arrays       # JSON string / JSON integer (not bool)
    json_type_ok(values, field_type) ; max_length_ok(values, n) ; code_list_ok(values, codes, field_type)
    range_ok(values, minimum, maximum) ; date_ok(values) ; timestamp_ok(values)
    parse_dates(values) -> (ok, datetime64[D] array)
    uscc_ok(values) ; holder_id_checks(types, values) -> (format_ok, check_ok)
    region_ok(values) ; dates_in_order(a, b) ; int_le(a, b)
    joint_ok(joint_no, theme_code, task_code, members, aspect) # 联办件 member rows against the themes
    promise_dates(accept, days, calendar) -> (expected datetime64[D], provisional bool, computable bool)
    material_state_ok(state, supply_by, supplied, license_ref) ; license_id_ok(values, max_length)
    not_deferred_primary(name, state, primary)

Why one module of ~600 lines: every kernel is a pure array function of the same shape over the
same per-column facts (:func:`column_cache`, ``_facts``) and character-matrix helpers
(``_fixed_ascii``, lookup tables, ``_ymd_valid``); identifiers, dates and working days use each
other (a resident ID embeds a birth date, a USCC an organization code). Split apart, each part
would import the private helpers of the others; ``tests/quality/test_vectorized.py`` mirrors it.
"""

# numpy's stubs do not type object arrays and ufuncs over Python types precisely enough for strict mypy
# mypy: disable-error-code="call-overload, arg-type, type-var, no-any-return"
# mypy: disable-error-code="assignment, return-value, union-attr, misc"
from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from contracts import validators as V
from contracts.calendar import WorkCalendar
from contracts.regions import REGIONS

BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]

_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_TS_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})"


def _obj(values: Any) -> ObjArray:
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


_type_of = np.frompyfunc(type, 1, 1)
_NONE_T = type(None)
_isascii = np.frompyfunc(str.isascii, 1, 1)


def _member(values: ObjArray, allowed: Collection[Any]) -> BoolArray:
    """Elementwise ``value in allowed`` (hashable values), one C-level loop of set lookups."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    look = frozenset(allowed).__contains__
    return np.asarray(np.frompyfunc(look, 1, 1)(values), dtype=bool)


# Per-column facts (JSON types, string lengths) are computed once per column per frame validation:
# inside ``column_cache()`` a pandas Series is keyed by its name and length. The scope is one frame
# (the runner opens it around one ``Batch.validate``), so a name always means the same data there.
_CACHE: ContextVar[dict[tuple[str, int], _Facts] | None] = ContextVar("tongban_column_cache", default=None)


@contextmanager
def column_cache() -> Iterator[None]:
    """Share per-column facts between the expectations of one frame validation."""
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


class _Facts:
    """What every kernel needs to know about one column's values, computed lazily once."""

    __slots__ = ("_blank", "_str_len", "_types", "values")

    def __init__(self, values: ObjArray) -> None:
        self.values = values
        self._types: ObjArray | None = None
        self._str_len: npt.NDArray[np.int64] | None = None
        self._blank: BoolArray | None = None

    @property
    def types(self) -> ObjArray:
        if self._types is None:
            self._types = _type_of(self.values) if len(self.values) else np.empty(0, dtype=object)
        return self._types

    @property
    def is_str(self) -> BoolArray:
        return np.asarray(np.equal(self.types, str), dtype=bool)

    @property
    def is_int(self) -> BoolArray:
        return np.asarray(np.equal(self.types, int), dtype=bool)

    @property
    def missing(self) -> BoolArray:
        t = self.types
        out = np.asarray(np.equal(t, _NONE_T), dtype=bool)
        fl = np.equal(t, float)
        if fl.any():
            out[fl] = pd.isna(self.values[fl].astype(float))
        return out

    @property
    def str_len(self) -> npt.NDArray[np.int64]:
        """Characters of string values, -1 for other values."""
        if self._str_len is None:
            s = self.is_str
            out = np.full(len(self.values), -1, dtype=np.int64)
            k = int(s.sum())
            if k:  # map() in C straight into an int64 array (no object array of ints in between)
                out[s] = np.fromiter(map(len, self.values[s]), dtype=np.int64, count=k)
            self._str_len = out
        return self._str_len

    @property
    def blank(self) -> BoolArray:
        """String values that are empty or whitespace only."""
        if self._blank is None:
            s = self.is_str
            out = self.str_len == 0
            k = int(s.sum())
            if k:
                out[s] |= np.fromiter(map(str.isspace, self.values[s]), dtype=bool, count=k)
            self._blank = out
        return self._blank


def _facts(values: Any) -> _Facts:
    cache = _CACHE.get()
    if cache is not None and isinstance(values, pd.Series) and isinstance(values.name, str):
        key = (values.name, len(values))
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = _Facts(_obj(values))
        return hit
    if isinstance(values, _Facts):
        return values
    return _Facts(_obj(values))


def key_present(values: Any) -> BoolArray:
    """The row carried the key (JSON ``null`` included); ``NaN`` marks a key the row did not have
    (JSON has no NaN, so a decoded value is never NaN)."""
    f = _facts(values)
    t = f.types
    out = np.asarray(np.not_equal(t, float), dtype=bool)
    fl = ~out
    if fl.any():
        out[fl] = ~pd.isna(f.values[fl].astype(float))
    return out


def missing(values: Any) -> BoolArray:
    """The key is absent (``NaN`` from frame building) or its value is JSON ``null``."""
    return _facts(values).missing


def is_str(values: Any) -> BoolArray:
    return _facts(values).is_str


def is_int(values: Any) -> BoolArray:
    """A JSON integer: Python ``int`` but not ``bool``."""
    return _facts(values).is_int


def present(values: Any) -> BoolArray:
    """Not missing, and not an empty or whitespace-only string (field.required)."""
    f = _facts(values)
    return np.asarray(~f.missing & ~f.blank, dtype=bool)


def json_type_ok(values: Any, field_type: str) -> BoolArray:
    """field.type: strings (also dates and timestamps) must be JSON strings, integers JSON integers."""
    f = _facts(values)
    good = f.is_int if field_type == "integer" else f.is_str
    return np.asarray(f.missing | good, dtype=bool)


def max_length_ok(values: Any, length: int) -> BoolArray:
    return np.asarray(_facts(values).str_len <= length, dtype=bool)


def code_list_ok(values: Any, codes: Collection[str], field_type: str) -> BoolArray:
    """field.code_list over values of the right type (``str(value)`` for integer columns)."""
    f = _facts(values)
    v = f.values
    ok = np.ones(len(v), dtype=bool)
    if field_type == "integer":
        typed = f.is_int
        allowed: set[Any] = {int(c) for c in codes if re.fullmatch(r"-?\d+", c)}
    else:
        typed = f.is_str
        allowed = set(codes)
    if typed.any():
        ok[typed] = _member(v[typed], allowed)
    return ok


def range_ok(values: Any, minimum: int | None, maximum: int | None) -> BoolArray:
    f = _facts(values)
    v = f.values
    ok = np.ones(len(v), dtype=bool)
    typed = f.is_int
    if typed.any():
        # Python ints can exceed int64: compare as objects (numpy object comparison is elementwise)
        sub = v[typed]
        good = np.ones(len(sub), dtype=bool)
        if minimum is not None:
            good &= np.asarray(sub >= minimum, dtype=bool)
        if maximum is not None:
            good &= np.asarray(sub <= maximum, dtype=bool)
        ok[typed] = good
    return ok


# -- character matrices -------------------------------------------------------------------------------


def _fixed_ascii(values: Any, mask: BoolArray, width: int) -> tuple[BoolArray, npt.NDArray[np.uint8]]:
    """Of the strings under ``mask``, those that are ASCII with exactly ``width`` characters, and
    their ``uint8`` matrix (rows in the order of the selected values)."""
    f = _facts(values)
    v = f.values
    sel = mask & (f.str_len == width)
    if not sel.any():
        return sel, np.zeros((0, width), dtype=np.uint8)
    chosen = v[sel]
    joined = "".join(chosen.tolist()).encode("utf-8")
    if len(joined) != width * len(chosen):  # some value has non-ASCII characters: drop those
        ascii_ok = np.asarray(_isascii(chosen), dtype=bool)
        sel = sel.copy()
        sel[np.flatnonzero(sel)[~ascii_ok]] = False
        chosen = chosen[ascii_ok]
        joined = "".join(chosen.tolist()).encode("ascii")
    return sel, np.frombuffer(joined, dtype=np.uint8).reshape(-1, width)


def _lut(alphabet: str) -> npt.NDArray[np.int16]:
    table = np.full(256, -1, dtype=np.int16)
    for i, c in enumerate(alphabet):
        table[ord(c)] = i
    return table


_DIGITS = _lut("0123456789")
_USCC = _lut(V.USCC_ALPHABET)
_ORG = _lut(V.ORG_CODE_ALPHABET)
_USCC_W = np.array(V.USCC_WEIGHTS, dtype=np.int64)
_ORG_W = np.array(V.ORG_CODE_WEIGHTS, dtype=np.int64)
_RID_W = np.array(V.RESIDENT_ID_WEIGHTS, dtype=np.int64)
_RID_CHECK = np.frombuffer(V.RESIDENT_ID_CHECK_CHARS.encode("ascii"), dtype=np.uint8)
_ORD_X, _ORD_DASH, _ORD_ZERO = ord("X"), ord("-"), ord("0")


def _ymd_valid(y: npt.NDArray[np.int64], m: npt.NDArray[np.int64], d: npt.NDArray[np.int64]) -> BoolArray:
    """Real calendar dates (proleptic Gregorian, years 1..9999 as Python's ``date``)."""
    ok = (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)[np.clip(m, 1, 12) - 1]
    dim = dim + ((m == 2) & leap)
    return np.asarray(ok & (d <= dim), dtype=bool)


def _to_datetime64(y: npt.NDArray[np.int64], m: npt.NDArray[np.int64], d: npt.NDArray[np.int64]) -> Any:
    months = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    return months.astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")


def _number(digits: npt.NDArray[np.int16]) -> npt.NDArray[np.int64]:
    w = 10 ** np.arange(digits.shape[1] - 1, -1, -1, dtype=np.int64)
    out: npt.NDArray[np.int64] = digits.astype(np.int64) @ w
    return out


def parse_dates(values: Any) -> tuple[BoolArray, Any]:
    """``(ok, dates)``: ``ok`` where the value is a string ``YYYY-MM-DD`` naming a real date;
    ``dates`` is ``datetime64[D]`` (``NaT`` elsewhere)."""
    f = _facts(values)
    v = f.values
    sel, mat = _fixed_ascii(f, f.is_str, 10)
    ok = np.zeros(len(v), dtype=bool)
    out = np.full(len(v), np.datetime64("NaT"), dtype="datetime64[D]")
    if len(mat):
        dig = _DIGITS[mat]
        shape_ok = (
            (mat[:, 4] == _ORD_DASH)
            & (mat[:, 7] == _ORD_DASH)
            & (dig[:, [0, 1, 2, 3, 5, 6, 8, 9]] >= 0).all(1)
        )
        y, m, d = _number(dig[:, 0:4]), _number(dig[:, 5:7]), _number(dig[:, 8:10])
        good = shape_ok & _ymd_valid(y, m, d)
        idx = np.flatnonzero(sel)
        ok[idx] = good
        gi = idx[good]
        out[gi] = _to_datetime64(y[good], m[good], d[good])
    return ok, out


def date_ok(values: Any) -> BoolArray:
    """field.date_format over string values (other types are the type rule's business)."""
    f = _facts(values)
    ok, _ = parse_dates(f)
    return np.asarray(ok | ~f.is_str, dtype=bool)


def _templates() -> dict[int, list[str]]:
    """Character templates of valid timestamp shapes by length (``d`` = digit, ``s`` = sign)."""
    out: dict[int, list[str]] = {}
    base = "dddd-dd-ddTdd:dd:dd"
    for frac in [""] + ["." + "d" * k for k in range(1, 7)]:
        for tz in ("Z", "sdd:dd"):
            t = base + frac + tz
            out.setdefault(len(t), []).append(t)
    return out


_TS_TEMPLATES = _templates()
_ORD_SIGN = (ord("+"), ord("-"))


def _match_template(mat: npt.NDArray[np.uint8], template: str) -> BoolArray:
    ok = np.ones(len(mat), dtype=bool)
    for i, c in enumerate(template):
        col = mat[:, i]
        if c == "d":
            ok &= (col >= 48) & (col <= 57)
        elif c == "s":
            ok &= (col == _ORD_SIGN[0]) | (col == _ORD_SIGN[1])
        else:
            ok &= col == ord(c)
    return ok


def _two(mat: npt.NDArray[np.uint8], i: int) -> npt.NDArray[np.int64]:
    return (mat[:, i].astype(np.int64) - 48) * 10 + (mat[:, i + 1].astype(np.int64) - 48)


def timestamp_ok(values: Any) -> BoolArray:
    """field.timestamp_format: ISO 8601 with seconds and an offset (``Z`` or ``±hh:mm``), real date
    and time of day. Checked on character matrices per string length (a handful of shapes)."""
    f = _facts(values)
    s = f.is_str
    ok = np.ones(len(f.values), dtype=bool)
    if not s.any():
        return ok
    ok[s] = False
    lengths = f.str_len
    for length, templates in _TS_TEMPLATES.items():
        sel, mat = _fixed_ascii(f, s & (lengths == length), length)
        if not len(mat):
            continue
        good = np.zeros(len(mat), dtype=bool)
        for template in templates:
            shape = _match_template(mat, template)
            if not shape.any():
                continue
            y = _number(_DIGITS[mat[:, 0:4]])
            m, d = _two(mat, 5), _two(mat, 8)
            hh, mi, ss = _two(mat, 11), _two(mat, 14), _two(mat, 17)
            valid = shape & _ymd_valid(y, m, d) & (hh <= 23) & (mi <= 59) & (ss <= 59)
            if template.endswith("dd:dd"):
                valid &= (_two(mat, length - 5) <= 23) & (_two(mat, length - 2) <= 59)
            good |= valid
        ok[np.flatnonzero(sel)] = good
    return ok


def timestamp_dates(values: Any) -> Any:
    """The calendar date part (``datetime64[D]``) of valid timestamps, ``NaT`` elsewhere."""
    v = _obj(values)
    valid = timestamp_ok(v) & is_str(v)
    heads = np.full(len(v), None, dtype=object)
    if valid.any():
        heads[valid] = pd.Series(v[valid], dtype=object).str.slice(0, 10).to_numpy(dtype=object)
    _, dates = parse_dates(heads)
    return dates


# -- identifiers -------------------------------------------------------------------------------------


def _uscc_matrix_ok(mat: npt.NDArray[np.uint8]) -> tuple[BoolArray, BoolArray]:
    """(shape ok, check ok) of 18-character ASCII rows: USCC charset and pattern, then the USCC check
    character and the embedded organization code's check character."""
    val = _USCC[mat].astype(np.int64)
    dig = _DIGITS[mat]
    shape = (val >= 0).all(1) & (dig[:, 2:8] >= 0).all(1)
    c = 31 - (np.where(val[:, :17] >= 0, val[:, :17], 0) @ _USCC_W) % 31
    c = np.where(c == 31, 0, c)
    uscc_check = val[:, 17] == c
    org_val = _ORG[mat[:, 8:16]].astype(np.int64)
    oc = 11 - (np.where(org_val >= 0, org_val, 0) @ _ORG_W) % 11
    expected = np.where(oc == 10, _ORD_X, np.where(oc == 11, _ORD_ZERO, _ORD_ZERO + oc))
    org_check = mat[:, 16] == expected
    return np.asarray(shape, dtype=bool), np.asarray(shape & uscc_check & org_check, dtype=bool)


def uscc_ok(values: Any) -> BoolArray:
    """A valid USCC (pattern, check character, embedded organization code) — accept.org_code.uscc.
    Values of other types pass here (the type rule reports them)."""
    f = _facts(values)
    s = f.is_str
    sel, mat = _fixed_ascii(f, s, 18)
    ok = ~s
    if len(mat):
        _, good = _uscc_matrix_ok(mat)
        ok[np.flatnonzero(sel)] = good
    return np.asarray(ok, dtype=bool)


def _resident_matrix(mat: npt.NDArray[np.uint8]) -> tuple[BoolArray, BoolArray]:
    """(format ok, check ok) of 18-character ASCII rows: 17 digits + digit/X, real birth date from
    1900 on; then the GB 11643 check character."""
    dig = _DIGITS[mat]
    shape = (dig[:, :17] >= 0).all(1) & ((dig[:, 17] >= 0) | (mat[:, 17] == _ORD_X))
    y, m, d = (
        _number(np.maximum(dig[:, 6:10], 0)),
        _number(np.maximum(dig[:, 10:12], 0)),
        _number(np.maximum(dig[:, 12:14], 0)),
    )
    fmt = shape & _ymd_valid(y, m, d) & (y >= 1900)
    r = (np.maximum(dig[:, :17], 0).astype(np.int64) @ _RID_W) % 11
    check = mat[:, 17] == _RID_CHECK[r]
    return np.asarray(fmt, dtype=bool), np.asarray(fmt & check, dtype=bool)


OTHER_ID_PATTERNS = {
    # the shapes of contracts.validators._OTHER_ID_PATTERNS (a test compares their code types)
    "414": r"[A-Z0-9]{5,17}",
    "516": r"[HM]\d{8}(?:\d{2})?",
    "511": r"\d{8}(?:\d{2})?",
    "553": r"[A-Z0-9]{15}|\d{17}[0-9X]",
    "999": r"\S{1,50}",
}


def holder_id_checks(types: Any, values: Any) -> tuple[BoolArray, BoolArray]:
    """``(format_ok, check_ok)`` of applicant / holder identifiers against their code type.

    ``111`` resident ID: length, digits and birth date → format; check character → check.
    ``001`` USCC: length and charset → format; check character or embedded org code → check.
    Other types by shape (format). An unknown type is the code-list rule's business (passes here);
    rows whose type or value is not a string pass too (the type rule reports them)."""
    tf, vf = _facts(types), _facts(values)
    t, v = tf.values, vf.values
    fmt = np.ones(len(v), dtype=bool)
    chk = np.ones(len(v), dtype=bool)
    both = tf.is_str & vf.is_str
    t_ser = pd.Series(np.where(both, t, ""), dtype=object)
    for code in ("111", "001"):
        rows = both & (t_ser == code).to_numpy(dtype=bool)
        if not rows.any():
            continue
        sel, mat = _fixed_ascii(vf, rows, 18)
        fmt[rows & ~sel] = False  # wrong length or not ASCII
        if len(mat):
            f, c = _resident_matrix(mat) if code == "111" else _uscc_matrix_ok(mat)
            idx = np.flatnonzero(sel)
            fmt[idx] = f
            chk[idx] = c | ~f  # a format failure is reported once, as format
    for code, pattern in OTHER_ID_PATTERNS.items():
        rows = both & (t_ser == code).to_numpy(dtype=bool)
        if rows.any():
            fmt[rows] = pd.Series(v[rows], dtype=object).str.fullmatch(pattern).to_numpy(dtype=bool)
    return fmt, chk


_REGIONS = frozenset(REGIONS)


def region_ok(values: Any) -> BoolArray:
    f = _facts(values)
    v = f.values
    s = f.is_str
    ok = ~s
    if s.any():
        ok[s] = _member(v[s], _REGIONS)
    return np.asarray(ok, dtype=bool)


# -- relations between columns ----------------------------------------------------------------------


def dates_in_order(first: Any, second: Any) -> BoolArray:
    """``first <= second`` where both are valid dates; rows where either is not pass."""
    ok_a, a = parse_dates(first)
    ok_b, b = parse_dates(second)
    both = ok_a & ok_b
    good = np.ones(len(both), dtype=bool)
    good[both] = a[both] <= b[both]
    return good


def int_le(first: Any, second: Any) -> BoolArray:
    """``first <= second`` where both are JSON integers; other rows pass."""
    fa, fb = _facts(first), _facts(second)
    a, b = fa.values, fb.values
    both = fa.is_int & fb.is_int
    good = np.ones(len(a), dtype=bool)
    if both.any():
        good[both] = np.asarray(a[both] <= b[both], dtype=bool)
    return good


def joint_ok(
    joint_no: Any, theme_code: Any, task_code: Any, members: Mapping[str, Collection[str]], aspect: str
) -> BoolArray:
    """Joint-case member rows against the catalog's themes (``members``: theme code → task codes).

    ``aspect="theme"``: a row with a joint_no names a known theme, and a theme_code comes with a
    joint_no; ``"member"``: the task_code of such a row is a member of its (known) theme. Rows
    without either column pass; values of the wrong type are the type rule's business."""
    fj, ft, fk = _facts(joint_no), _facts(theme_code), _facts(task_code)
    has_joint = fj.is_str & ~fj.blank
    has_theme = ft.is_str & ~ft.blank
    known = np.zeros(len(ft.values), dtype=bool)
    if has_theme.any():
        known[has_theme] = _member(ft.values[has_theme], members.keys())
    if aspect == "theme":
        return np.asarray(~(has_joint & ~known) & ~(has_theme & ~has_joint), dtype=bool)
    good = np.ones(len(fj.values), dtype=bool)
    check = has_joint & known & fk.is_str
    for theme, tasks in members.items():
        rows = check.copy()
        rows[check] = np.asarray(ft.values[check] == theme, dtype=bool)
        if rows.any():
            good[rows] = _member(fk.values[rows], tasks)
    return good


class _WorkdayTable:
    """Working-day flags of a span of days, looked up once per day."""

    def __init__(self, calendar: WorkCalendar, start: Any, days: int) -> None:
        self.start = start
        span = start + np.arange(days).astype("timedelta64[D]")
        as_dates = span.astype(object)  # datetime.date objects, one per calendar day (not per row)
        years = {d.year for d in as_dates}
        known_years = {y for y in years if calendar.knows_year(y)}
        work = np.empty(days, dtype=bool)
        known = np.empty(days, dtype=bool)
        for i, d in enumerate(as_dates):
            if d.year in known_years:
                work[i], known[i] = calendar.is_workday(d), True
            else:
                work[i], known[i] = d.weekday() < 5, False
        self.cum = np.cumsum(work, dtype=np.int64)
        self.unknown_cum = np.cumsum(~known, dtype=np.int64)


def promise_dates(accept: Any, days: Any, calendar: WorkCalendar) -> tuple[Any, BoolArray, BoolArray]:
    """For rows with a valid accept date and an integer ``0 <= days <= 9999``: the ``days``-th
    working day strictly after the accept date (DOMAIN.md §6), and whether that count touched a year
    without a known schedule (provisional: weekends-only for those days).

    Returns ``(expected datetime64[D], provisional, computable)``."""
    ok_a, a = parse_dates(accept)
    nf = _facts(days)
    n_obj = nf.values
    n_ok = nf.is_int.copy()
    if n_ok.any():
        n_ok[n_ok] = np.asarray((n_obj[n_ok] >= 0) & (n_obj[n_ok] <= 9999), dtype=bool)
    computable = ok_a & n_ok
    expected = np.full(len(a), np.datetime64("NaT"), dtype="datetime64[D]")
    provisional = np.zeros(len(a), dtype=bool)
    if not computable.any():
        return expected, provisional, computable
    acc = a[computable]
    n = n_obj[computable].astype(np.int64)
    start = acc.min()
    span = int((acc.max() - start).astype(np.int64)) + int(n.max()) * 2 + 40
    while True:
        table = _WorkdayTable(calendar, start, span)
        ia = (acc - start).astype(np.int64)
        target = table.cum[ia] + n
        if (target <= table.cum[-1]).all():
            break
        span *= 2
    idx = np.searchsorted(table.cum, target, side="left")
    idx = np.where(n == 0, ia, idx)
    expected[computable] = start + idx.astype("timedelta64[D]")
    provisional[computable] = (table.unknown_cum[idx] - table.unknown_cum[ia]) > 0
    return expected, provisional, computable


def promise_date_ok(
    accept: Any, days: Any, promise: Any, calendar: WorkCalendar
) -> tuple[BoolArray, BoolArray]:
    """``(ok, provisional)`` of accept.promise_date: the stated promise date equals the computed one
    where all three inputs are valid; ``provisional`` flags rows whose computation touched an
    unknown year (they pass with a flag, DOMAIN.md §6)."""
    expected, provisional, computable = promise_dates(accept, days, calendar)
    ok_p, p = parse_dates(promise)
    check = computable & ok_p
    good = np.ones(len(check), dtype=bool)
    good[check] = p[check] == expected[check]
    return good, provisional & check


# -- materials (issue 18: 容缺 and e-license references) ----------------------------------------------

_STATE_NEEDS = {"2": 1, "3": 2, "4": 3}  # material_state -> the column it needs (supply_by, supplied, ref)


def material_state_ok(state: Any, supply_by: Any, supplied: Any, license_ref: Any) -> BoolArray:
    """material.state_columns: 容缺 (2) has supply_by, 已补正 (3) supplied_date, 电子证照 (4)
    license_ref, and only state 4 carries a license_ref. An empty state is 1 (submitted); a state
    outside the code list passes here (the code-list rule reports it)."""
    st = _obj(state)
    empty = ~present(st)
    known = empty | _member(st, ("1", *_STATE_NEEDS))
    has = [present(supply_by), present(supplied), present(license_ref)]
    bad = np.zeros(len(st), dtype=bool)
    for code, col in _STATE_NEEDS.items():
        bad |= (st == code) & ~has[col - 1]
    bad |= (st != "4") & has[2]
    return np.asarray(~(known & bad), dtype=bool)


def license_id_ok(values: Any, max_length: int) -> BoolArray:
    """material.license_ref: a well-formed GB/T 36904 identifier (structure and MOD 37,36 check).
    Values that are not text, blank or too long pass here (the field rules report them). License
    references are a few per batch, so the scalar validator runs over just those values."""
    f = _facts(values)
    sel = f.is_str & ~f.blank & (f.str_len <= max_length)
    ok = np.ones(len(sel), dtype=bool)
    if sel.any():
        ok[sel] = np.asarray(np.frompyfunc(V.is_valid_license_id, 1, 1)(f.values[sel]), dtype=bool)
    return ok


def not_deferred_primary(name: Any, state: Any, primary: Collection[str]) -> BoolArray:
    """material.primary_deferred: no primary material (主要材料) is 容缺 (state 2)."""
    st = _obj(state)
    return np.asarray(~((st == "2") & _member(_obj(name), primary)), dtype=bool)


# -- generic field rules (one expectation per rule and table, over all the columns it applies to) ----

FieldKernel = Callable[[Any, Mapping[str, Any]], BoolArray]

FIELD_KERNELS: dict[str, FieldKernel] = {
    "field.type": lambda v, spec: json_type_ok(v, spec["type"]),
    "field.required": lambda v, spec: present(v),
    "field.max_length": lambda v, spec: max_length_ok(v, spec["length"]),
    "field.code_list": lambda v, spec: code_list_ok(v, spec["codes"], spec["type"]),
    "field.date_format": lambda v, spec: date_ok(v),
    "field.timestamp_format": lambda v, spec: timestamp_ok(v),
    "field.range": lambda v, spec: range_ok(v, spec.get("minimum"), spec.get("maximum")),
}


def field_rule_masks(
    rule_id: str, frame: pd.DataFrame, specs: Mapping[str, Mapping[str, Any]]
) -> dict[str, BoolArray]:
    """Per column of ``specs``: where ``frame``'s values pass ``rule_id``."""
    kernel = FIELD_KERNELS[rule_id]
    return {col: kernel(frame[col], spec) for col, spec in specs.items()}


def field_rule_ok(rule_id: str, frame: pd.DataFrame, specs: Mapping[str, Mapping[str, Any]]) -> BoolArray:
    """Rows where every column of ``specs`` passes ``rule_id``."""
    ok = np.ones(len(frame), dtype=bool)
    for mask in field_rule_masks(rule_id, frame, specs).values():
        ok &= mask
    return ok
