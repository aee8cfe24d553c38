"""Expectation suites generated from the field table (:mod:`contracts.fields`).

One suite per case table and one per license table. For every column the generic field rules
follow from its attributes (``FieldSpec.rule_ids``: type, required, length, code list, date /
timestamp format, range); every other rule id a column or table names maps to a builder here. A
rule id with neither a builder nor a gate-level implementation (:data:`GATE_RULES`) makes suite
generation fail, so a new field or rule cannot be forgotten silently.

The plan is plain data (:class:`PlannedExpectation`); its canonical JSON gives the suite hash that
receipts carry, and :mod:`quality.engine` turns it into GX ``ExpectationSuite`` objects whose
expectations carry ``meta = {"rule_id", "fields", "table"}``.

Public API::

    SUITE_VERSION: str                      # quality's own version + contracts SPEC_VERSION
    GATE_RULES: frozenset[str]              # rules the gate checks outside GX (parse, duplicates, parents)
    PARENT_DATE_COLUMN = "_parent_accept_date"  # derived column the gate adds to up_pro_result
    PlannedExpectation(table, rule_id, fields, expectation, kwargs)
    plan_table(name, *, calendar_dir="") -> tuple[PlannedExpectation, ...]
    plan_all(*, calendar_dir="") -> dict[str, tuple[PlannedExpectation, ...]]
    suite_document(plans) -> dict ; suite_hash(plans) -> str
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts import rules as R
from contracts.catalog import load_catalog
from contracts.codes import CODE_LISTS
from contracts.fields import SPEC_VERSION, TABLES, FieldSpec, TableSpec
from core.canonical import canonical_json, sha256_hex
from quality.errors import SuiteError

QUALITY_SUITE_REVISION = "1"
SUITE_VERSION = f"{SPEC_VERSION}+q{QUALITY_SUITE_REVISION}"
PARENT_DATE_COLUMN = "_parent_accept_date"

# checked by the gate itself (parsing, row shape, ownership of row_guid, parents)
GATE_RULES = frozenset(
    {R.ROW_NOT_JSON, R.ROW_TABLE, R.ROW_UNKNOWN_COLUMN, R.ROW_DUPLICATE_GUID, R.CHILD_PARENT_MISSING}
)


@dataclass(frozen=True)
class PlannedExpectation:
    """One expectation of a suite: which rule, which columns, which GX class with which kwargs."""

    table: str
    rule_id: str
    fields: tuple[str, ...]
    expectation: str  # class name in quality.expectations
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def meta(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "fields": list(self.fields), "table": self.table}

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rule_id": self.rule_id,
            "fields": list(self.fields),
            "expectation": self.expectation,
            "kwargs": dict(self.kwargs),
        }


GENERIC_FIELD_RULES = (
    R.FIELD_TYPE,
    R.FIELD_REQUIRED,
    R.FIELD_MAX_LENGTH,
    R.FIELD_CODE_LIST,
    R.FIELD_DATE_FORMAT,
    R.FIELD_TIMESTAMP_FORMAT,
    R.FIELD_RANGE,
)


def _field_spec(f: FieldSpec, rule_id: str) -> dict[str, Any]:
    """The parameters one column brings to a generic field rule."""
    if rule_id in (R.FIELD_TYPE,):
        return {"type": f.type}
    if rule_id == R.FIELD_MAX_LENGTH:
        return {"length": f.length}
    if rule_id == R.FIELD_CODE_LIST:
        assert f.code_list is not None
        return {"codes": list(CODE_LISTS[f.code_list].values()), "type": f.type}
    if rule_id == R.FIELD_RANGE:
        return {"minimum": f.minimum, "maximum": f.maximum}
    return {}


# field rules with an expectation of their own, one per column
_COLUMN_RULES: dict[str, str] = {
    R.ACCEPT_REGION_CODE: "ExpectTongbanRegionCode",
    R.ACCEPT_ORG_CODE_USCC: "ExpectTongbanUscc",
    R.MATERIAL_LICENSE_REF: "ExpectTongbanLicenseId",
}


def _multi(
    t: TableSpec, rule_id: str, expectation: str, columns: tuple[str, ...], **kw: Any
) -> PlannedExpectation:
    for c in columns:
        if c != PARENT_DATE_COLUMN and not t.has(c):
            raise SuiteError(f"rule {rule_id} needs column {c!r}, which table {t.name} does not define")
    return PlannedExpectation(t.name, rule_id, columns, expectation, {"column_list": list(columns), **kw})


def _theme_members() -> dict[str, list[str]]:
    """Theme code → its member task codes, from the packaged catalog (the joint-case rules)."""
    return {t.theme_code: list(t.task_codes) for t in load_catalog().themes}


# rules over several columns of one row (or a row and its parent, through the derived column)
_ROW_RULES: dict[str, Callable[[TableSpec, str], PlannedExpectation]] = {
    R.ACCEPT_DATE_ORDER: lambda t, cal: _multi(
        t, R.ACCEPT_DATE_ORDER, "ExpectTongbanDatesInOrder", ("apply_date", "accept_date")
    ),
    R.ACCEPT_APPLYER_ID_FORMAT: lambda t, cal: _multi(
        t,
        R.ACCEPT_APPLYER_ID_FORMAT,
        "ExpectTongbanHolderId",
        ("applyer_id_type", "applyer_id"),
        aspect="format",
    ),
    R.ACCEPT_APPLYER_ID_CHECK_DIGIT: lambda t, cal: _multi(
        t,
        R.ACCEPT_APPLYER_ID_CHECK_DIGIT,
        "ExpectTongbanHolderId",
        ("applyer_id_type", "applyer_id"),
        aspect="check_digit",
    ),
    R.ACCEPT_PROMISE_DAY_ORDER: lambda t, cal: _multi(
        t, R.ACCEPT_PROMISE_DAY_ORDER, "ExpectTongbanIntNotGreater", ("promise_day", "anticipate_day")
    ),
    R.ACCEPT_PROMISE_DATE: lambda t, cal: _multi(
        t,
        R.ACCEPT_PROMISE_DATE,
        "ExpectTongbanPromiseDate",
        ("accept_date", "promise_day", "promise_date"),
        aspect="match",
        calendar_dir=cal,
    ),
    R.ACCEPT_PROMISE_DATE_PROVISIONAL: lambda t, cal: _multi(
        t,
        R.ACCEPT_PROMISE_DATE_PROVISIONAL,
        "ExpectTongbanPromiseDate",
        ("accept_date", "promise_day", "promise_date"),
        aspect="provisional",
        calendar_dir=cal,
    ),
    R.ACCEPT_JOINT_THEME: lambda t, cal: _multi(
        t,
        R.ACCEPT_JOINT_THEME,
        "ExpectTongbanJointMember",
        ("joint_no", "theme_code", "task_code"),
        aspect="theme",
        members=_theme_members(),
    ),
    R.ACCEPT_JOINT_MEMBER: lambda t, cal: _multi(
        t,
        R.ACCEPT_JOINT_MEMBER,
        "ExpectTongbanJointMember",
        ("joint_no", "theme_code", "task_code"),
        aspect="member",
        members=_theme_members(),
    ),
    R.SPECIAL_DATE_ORDER: lambda t, cal: _multi(
        t, R.SPECIAL_DATE_ORDER, "ExpectTongbanDatesInOrder", ("start_date", "end_date")
    ),
    R.RESULT_DATE_ORDER: lambda t, cal: _multi(
        t, R.RESULT_DATE_ORDER, "ExpectTongbanDatesInOrder", (PARENT_DATE_COLUMN, "result_date")
    ),
    R.MATERIAL_SUPPLY_BY_ORDER: lambda t, cal: _multi(
        t, R.MATERIAL_SUPPLY_BY_ORDER, "ExpectTongbanDatesInOrder", (PARENT_DATE_COLUMN, "supply_by")
    ),
    R.MATERIAL_STATE_COLUMNS: lambda t, cal: _multi(
        t,
        R.MATERIAL_STATE_COLUMNS,
        "ExpectTongbanMaterialState",
        ("supply_by", "supplied_date", "license_ref", "material_state"),  # the row's field: the last
    ),
    R.MATERIAL_PRIMARY_DEFERRED: lambda t, cal: _multi(
        t,
        R.MATERIAL_PRIMARY_DEFERRED,
        "ExpectTongbanPrimaryNotDeferred",
        ("material_name", "material_state"),
        primary=sorted(load_catalog().primary_material_names()),
    ),
}

IMPLEMENTED_RULES = frozenset({*GENERIC_FIELD_RULES, *_COLUMN_RULES, *_ROW_RULES})


def _applies(rule_id: str, table: str) -> bool:
    """A rule is checked on the tables it names (a column may list a rule of another table that reads it)."""
    tables = R.RULES[rule_id].tables
    return "*" in tables or table in tables


def plan_table(name: str, *, calendar_dir: str = "") -> tuple[PlannedExpectation, ...]:
    """Every expectation of one table's suite, in a stable order: one per generic field rule (over
    all the columns it applies to, in field order), one per column-specific rule, then row rules."""
    t = TABLES.get(name)
    if t is None:
        raise SuiteError(f"no field table entry for {name!r}")
    generic: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in GENERIC_FIELD_RULES}
    column_rules: list[PlannedExpectation] = []
    row_rules: list[str] = []
    for f in t.fields:
        for rule_id in f.rule_ids:
            if rule_id not in R.RULES:
                raise SuiteError(f"{t.name}.{f.name} names unknown rule {rule_id!r}")
            if rule_id in generic:
                generic[rule_id][f.name] = _field_spec(f, rule_id)
            elif rule_id in _COLUMN_RULES:
                column_rules.append(
                    PlannedExpectation(t.name, rule_id, (f.name,), _COLUMN_RULES[rule_id], {"column": f.name})
                )
            elif rule_id in _ROW_RULES:
                if _applies(rule_id, t.name) and rule_id not in row_rules:
                    row_rules.append(rule_id)
            elif rule_id not in GATE_RULES:
                raise SuiteError(
                    f"{t.name}.{f.name} names rule {rule_id!r}, which has no expectation builder in "
                    "quality.suites and is not checked by the gate: add one"
                )
    for rule_id in t.rules:
        if rule_id in _ROW_RULES:
            if _applies(rule_id, t.name) and rule_id not in row_rules:
                row_rules.append(rule_id)
        elif rule_id not in GATE_RULES and rule_id not in IMPLEMENTED_RULES:
            raise SuiteError(f"table {t.name} names rule {rule_id!r}, which quality does not implement")
    out: list[PlannedExpectation] = []
    for rule_id, specs in generic.items():
        if len(specs) == 1:
            (col, spec), *_ = specs.items()
            out.append(
                PlannedExpectation(
                    t.name,
                    rule_id,
                    (col,),
                    "ExpectTongbanColumnFieldRule",
                    {"column": col, "rule_id": rule_id, "spec": spec},
                )
            )
        elif specs:
            out.append(
                PlannedExpectation(
                    t.name,
                    rule_id,
                    tuple(specs),
                    "ExpectTongbanFieldRule",
                    {"column_list": list(specs), "rule_id": rule_id, "specs": specs},
                )
            )
    out.extend(column_rules)
    out.extend(_ROW_RULES[r](t, calendar_dir) for r in row_rules)
    return tuple(out)


def plan_all(*, calendar_dir: str = "") -> dict[str, tuple[PlannedExpectation, ...]]:
    """The suites of every table of the field table (case tables and license tables)."""
    return {name: plan_table(name, calendar_dir=calendar_dir) for name in TABLES}


def suite_document(plans: Mapping[str, tuple[PlannedExpectation, ...]]) -> dict[str, Any]:
    return {
        "suite_version": SUITE_VERSION,
        "spec_version": SPEC_VERSION,
        "suites": {name: [p.as_dict() for p in plan] for name, plan in sorted(plans.items())},
    }


def suite_hash(plans: Mapping[str, tuple[PlannedExpectation, ...]]) -> str:
    """SHA-256 of the canonical JSON of every suite (what a receipt names)."""
    return sha256_hex(canonical_json(suite_document(plans)))
