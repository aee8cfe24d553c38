"""Pure-python reference checker of the case-data contract: row rules per row, case rules
(a child against its accept row) and batch rules (duplicate row_guid) over a stream of rows.

This is the executable meaning of the rule ids (:mod:`contracts.rules`): the quality layer's
great-expectations suites must agree with it, and the generator's defect files are tested
against it. It is not the fast path (no pandas); it streams with memory proportional to the
distinct row_guids and the rows held for a missing parent.

Semantics:

* **Row rules** (:func:`check_row`): the field rules on every column (required, type, length,
  code list, date / timestamp format, range), unknown columns, the table tag, and the
  cross-column rules of one row (``accept.*``, ``special.date_order``). A rule that reads a column
  that already failed a field rule is skipped, so one defect gives one rule id.
  A promise date that reaches a year with no loaded schedule is *flagged*
  (``accept.promise_date.provisional``), never quarantined.
* **Batch rule** ``row.duplicate_guid``: rows are taken in file order (earlier batches first);
  a row that passes its row rules claims its row_guid; a later row with a claimed row_guid is a
  duplicate. A quarantined row claims nothing, so a corrected resubmission is not a duplicate.
* **Case rules**: a child row (``project_no`` → ``up_pro_accept``) whose parent has not been
  accepted is **held** (``child.parent_missing``); it is released when a valid accept row with its
  project_no arrives later in the stream, then checked against it (``result.date_order``), and at
  :meth:`BatchChecker.finish` still-held rows are reported as held. A child whose parent is
  quarantined therefore stays held. Parents from earlier batches can be passed in
  (``known_parents``: project_no → accept_date). A material's supply_by (补正期限) is checked against
  its parent's accept_date the same way (``material.supply_by_order``).
* **Material states** (issue 18): :func:`material_state_problem` says which columns each
  ``material_state`` needs; a ``license_ref`` must be a well-formed GB/T 36904 identifier; a primary
  material (the catalog's ``primary_materials``) cannot be 容缺.

Public API::

    Violation(rule_id, field, message)
    RowCheck(table, violations, flags) ; check_row(row, *, calendar=None) -> RowCheck
    Verdict(line, row_guid, table, project_no, status, violations, flags)   # valid | held | quarantined
    BatchChecker(*, calendar=None, known_parents=None)
        .feed(line, row, error=None) -> list[Verdict] ; .finish() -> list[Verdict]
    check_file(source | [batch sources...], *, encoding=None, calendar=None) -> CheckReport
    iter_verdicts(source, *, encoding=None, calendar=None) -> Iterator[Verdict]
    CheckReport.verdicts (by line) ; .quarantined ; .held ; .valid ; .reasons ; .flagged ; .summary()

Why one module of this length: it is the executable meaning of every rule id in
:mod:`contracts.rules`, kept in one file to be read against it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from contracts import rules as R
from contracts.calendar import WorkCalendar, default_calendar
from contracts.codes import CODE_LISTS
from contracts.fields import TABLES, FieldSpec
from contracts.formats import Source, read_lines
from contracts.validators import holder_id_problem, license_id_problem, region_code_problem, uscc_problem

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
_CHECK_DIGIT_REASONS = frozenset({"check_digit", "org_code"})

Status = Literal["valid", "held", "quarantined"]


@dataclass(frozen=True, slots=True)
class Violation:
    rule_id: str
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "field": self.field, "message": self.message}


@dataclass(slots=True)
class RowCheck:
    table: str | None
    violations: list[Violation] = field(default_factory=list)
    flags: list[Violation] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # parsed values of the columns that passed

    @property
    def ok(self) -> bool:
        return not self.violations


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_field(f: FieldSpec, value: Any, out: RowCheck) -> None:
    name = f.name
    if _empty(value):
        if f.required:
            out.violations.append(Violation(R.FIELD_REQUIRED, name, f"{name} is required"))
        return
    if f.type == "string":
        if not isinstance(value, str):
            out.violations.append(Violation(R.FIELD_TYPE, name, f"{name} must be text"))
            return
        if f.length is not None and len(value) > f.length:
            out.violations.append(
                Violation(R.FIELD_MAX_LENGTH, name, f"{name} has {len(value)} characters, max {f.length}")
            )
            return
        if f.code_list and not CODE_LISTS[f.code_list].contains(value):
            msg = f"{name}={value!r} not in {f.code_list}"
            out.violations.append(Violation(R.FIELD_CODE_LIST, name, msg))
            return
        out.values[name] = value
    elif f.type == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            out.violations.append(Violation(R.FIELD_TYPE, name, f"{name} must be an integer"))
            return
        if f.code_list:
            if not CODE_LISTS[f.code_list].contains(value):
                out.violations.append(
                    Violation(R.FIELD_CODE_LIST, name, f"{name}={value!r} not in {f.code_list}")
                )
                return
        elif (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
            out.violations.append(
                Violation(R.FIELD_RANGE, name, f"{name}={value} outside {f.minimum}..{f.maximum}")
            )
            return
        out.values[name] = value
    elif f.type == "date":
        parsed: date | None = None
        if isinstance(value, str) and _DATE_RE.fullmatch(value):
            try:
                parsed = date.fromisoformat(value)
            except ValueError:
                parsed = None
        if parsed is None:
            out.violations.append(Violation(R.FIELD_DATE_FORMAT, name, f"{name}={value!r} is not YYYY-MM-DD"))
            return
        out.values[name] = parsed
    else:  # timestamp
        ts: datetime | None = None
        if isinstance(value, str) and _TS_RE.fullmatch(value):
            try:
                ts = datetime.fromisoformat(value)
            except ValueError:
                ts = None
        if ts is None or ts.tzinfo is None:
            out.violations.append(
                Violation(R.FIELD_TIMESTAMP_FORMAT, name, f"{name}={value!r} is not ISO 8601 with offset")
            )
            return
        out.values[name] = ts


def _accept_rules(v: Mapping[str, Any], out: RowCheck, cal: WorkCalendar) -> None:
    if "apply_date" in v and "accept_date" in v and v["accept_date"] < v["apply_date"]:
        out.violations.append(
            Violation(
                R.ACCEPT_DATE_ORDER,
                "accept_date",
                f"accept {v['accept_date']} before apply {v['apply_date']}",
            )
        )
    if "applyer_id_type" in v and "applyer_id" in v:
        problem = holder_id_problem(v["applyer_id_type"], v["applyer_id"])
        if problem is not None:
            rid = (
                R.ACCEPT_APPLYER_ID_CHECK_DIGIT
                if problem in _CHECK_DIGIT_REASONS
                else R.ACCEPT_APPLYER_ID_FORMAT
            )
            out.violations.append(
                Violation(rid, "applyer_id", f"applyer_id invalid for type {v['applyer_id_type']}: {problem}")
            )
    if "org_code" in v:
        problem = uscc_problem(v["org_code"])
        if problem is not None:
            out.violations.append(Violation(R.ACCEPT_ORG_CODE_USCC, "org_code", f"org_code: {problem}"))
    if "region_code" in v:
        problem = region_code_problem(v["region_code"])
        if problem is not None:
            out.violations.append(
                Violation(R.ACCEPT_REGION_CODE, "region_code", f"region_code {v['region_code']}: {problem}")
            )
    if "promise_day" in v and "anticipate_day" in v and v["promise_day"] > v["anticipate_day"]:
        out.violations.append(
            Violation(
                R.ACCEPT_PROMISE_DAY_ORDER,
                "promise_day",
                f"promise_day {v['promise_day']} > anticipate_day {v['anticipate_day']}",
            )
        )
    if "accept_date" in v and "promise_day" in v and "promise_date" in v:
        res = cal.promise_date(v["accept_date"], v["promise_day"])
        if res.provisional:
            out.flags.append(
                Violation(
                    R.ACCEPT_PROMISE_DATE_PROVISIONAL,
                    "promise_date",
                    f"schedule missing for {', '.join(map(str, res.unknown_years))} "
                    f"(add {', '.join(res.missing_files)}); weekends-only gives {res.date}",
                )
            )
        elif res.date != v["promise_date"]:
            out.violations.append(
                Violation(
                    R.ACCEPT_PROMISE_DATE,
                    "promise_date",
                    f"promise_date {v['promise_date']} but working day {v['promise_day']} after "
                    f"{v['accept_date']} is {res.date}",
                )
            )


MISSING, SUPPLIED, LICENSE_REF = "2", "3", "4"  # material_state codes (contracts.codes)


def material_state_problem(state: str | None, present: Collection[str]) -> str | None:
    """What a material row of ``state`` (None = 1 submitted) lacks or carries wrongly, given the
    columns ``present`` (not null, not blank), as a message; None when its columns fit."""
    if state == MISSING and "supply_by" not in present:
        return "a 容缺 material (material_state 2) needs supply_by"
    if state == SUPPLIED and "supplied_date" not in present:
        return "a supplied material (material_state 3) needs supplied_date"
    if state == LICENSE_REF and "license_ref" not in present:
        return "an e-license reference (material_state 4) needs license_ref"
    if state != LICENSE_REF and "license_ref" in present:
        return f"license_ref is only for material_state 4, not {state or '1'}"
    return None


def _material_rules(row: Mapping[str, Any], v: Mapping[str, Any], out: RowCheck) -> None:
    from contracts.catalog import load_catalog

    state = v.get("material_state")
    if state is not None or _empty(row.get("material_state")):  # a bad code is the code-list rule's
        present = [c for c in ("supply_by", "supplied_date", "license_ref") if not _empty(row.get(c))]
        problem = material_state_problem(state, present)
        if problem is not None:
            out.violations.append(Violation(R.MATERIAL_STATE_COLUMNS, "material_state", problem))
    ref = v.get("license_ref")
    ref_problem = license_id_problem(ref) if isinstance(ref, str) else None
    if ref_problem is not None:
        out.violations.append(Violation(R.MATERIAL_LICENSE_REF, "license_ref", f"license_ref: {ref_problem}"))
    if state == MISSING and v.get("material_name") in load_catalog().primary_material_names():
        out.violations.append(
            Violation(
                R.MATERIAL_PRIMARY_DEFERRED,
                "material_state",
                f"{v.get('material_name')} is a primary material (主要材料): it cannot be 容缺",
            )
        )


def check_row(row: Mapping[str, Any], *, calendar: WorkCalendar | None = None) -> RowCheck:
    """Field rules and the rules within one row (no duplicate or parent rules)."""
    table = row.get("table")
    spec = TABLES.get(table) if isinstance(table, str) else None
    if spec is None or spec.kind != "case":
        out = RowCheck(None)
        out.violations.append(Violation(R.ROW_TABLE, "table", f"unknown or missing table tag {table!r}"))
        return out
    out = RowCheck(spec.name)
    for key in row:
        if key != "table" and not spec.has(key):
            out.violations.append(Violation(R.ROW_UNKNOWN_COLUMN, key, f"{spec.name} has no column {key!r}"))
    for f in spec.fields:
        _check_field(f, row.get(f.name), out)
    v = out.values
    if spec.name == "up_pro_accept":
        _accept_rules(v, out, calendar or default_calendar())
    elif spec.name == "up_pro_material":
        _material_rules(row, v, out)
    elif (
        spec.name == "up_pro_special_procedure"
        and "start_date" in v
        and "end_date" in v
        and v["end_date"] < v["start_date"]
    ):
        out.violations.append(
            Violation(R.SPECIAL_DATE_ORDER, "end_date", f"end {v['end_date']} before start {v['start_date']}")
        )
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    line: int
    row_guid: str | None
    table: str | None
    project_no: str | None
    status: Status
    violations: tuple[Violation, ...] = ()
    flags: tuple[Violation, ...] = ()
    file: str | None = None

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.rule_id for v in self.violations))

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "row_guid": self.row_guid,
            "table": self.table,
            "project_no": self.project_no,
            "status": self.status,
            "violations": [v.as_dict() for v in self.violations],
            "flags": [f.as_dict() for f in self.flags],
            "file": self.file,
        }


@dataclass(slots=True)
class _Held:
    line: int
    row_guid: str
    table: str
    project_no: str
    values: dict[str, Any]
    flags: tuple[Violation, ...]
    file: str | None


class BatchChecker:
    """Streaming checker over rows in file order; see the module docstring for the semantics."""

    def __init__(
        self, *, calendar: WorkCalendar | None = None, known_parents: Mapping[str, date] | None = None
    ) -> None:
        self._cal = calendar or default_calendar()
        self._claimed: set[str] = set()
        self._parents: dict[str, date] = dict(known_parents or {})
        self._held: dict[str, list[_Held]] = {}

    @property
    def held_count(self) -> int:
        return sum(len(h) for h in self._held.values())

    def _case_check(self, h: _Held, accept_date: date) -> Verdict:
        violations: list[Violation] = []
        result_date = h.values.get("result_date")
        if h.table == "up_pro_result" and result_date is not None and result_date < accept_date:
            violations.append(
                Violation(
                    R.RESULT_DATE_ORDER, "result_date", f"result {result_date} before accept {accept_date}"
                )
            )
        supply_by = h.values.get("supply_by")
        if h.table == "up_pro_material" and supply_by is not None and supply_by < accept_date:
            violations.append(
                Violation(
                    R.MATERIAL_SUPPLY_BY_ORDER,
                    "supply_by",
                    f"supply_by {supply_by} before accept {accept_date}",
                )
            )
        if violations:
            self._claimed.discard(h.row_guid)  # a quarantined row owns no row_guid
            bad = tuple(violations)
            return Verdict(h.line, h.row_guid, h.table, h.project_no, "quarantined", bad, h.flags, h.file)
        return Verdict(h.line, h.row_guid, h.table, h.project_no, "valid", (), h.flags, h.file)

    def feed(
        self, line: int, row: Mapping[str, Any] | None, error: str | None = None, *, file: str | None = None
    ) -> list[Verdict]:
        """Check one row; returns the verdicts it settles (its own unless held, plus released children)."""
        if row is None:
            bad = Violation(R.ROW_NOT_JSON, None, error or "")
            return [Verdict(line, None, None, None, "quarantined", (bad,), (), file)]
        guid = row.get("row_guid") if isinstance(row.get("row_guid"), str) else None
        project_no = row.get("project_no") if isinstance(row.get("project_no"), str) else None
        rc = check_row(row, calendar=self._cal)
        flags = tuple(rc.flags)
        if not rc.ok:
            return [
                Verdict(line, guid, rc.table, project_no, "quarantined", tuple(rc.violations), flags, file)
            ]
        assert guid is not None and project_no is not None and rc.table is not None
        if guid in self._claimed:
            dup = Violation(R.ROW_DUPLICATE_GUID, "row_guid", f"row_guid {guid} already accepted earlier")
            return [Verdict(line, guid, rc.table, project_no, "quarantined", (dup,), flags, file)]
        self._claimed.add(guid)
        if rc.table == "up_pro_accept":
            out = [Verdict(line, guid, rc.table, project_no, "valid", (), flags, file)]
            if project_no not in self._parents:
                self._parents[project_no] = rc.values["accept_date"]
            for h in self._held.pop(project_no, []):
                out.append(self._case_check(h, self._parents[project_no]))
            return out
        held = _Held(line, guid, rc.table, project_no, rc.values, flags, file)
        parent_date = self._parents.get(project_no)
        if parent_date is None:
            self._held.setdefault(project_no, []).append(held)
            return []
        return [self._case_check(held, parent_date)]

    def finish(self) -> list[Verdict]:
        """Rows still waiting for their parent, reported as held (``child.parent_missing``)."""
        out = []
        for project_no, rows in self._held.items():
            for h in rows:
                why = Violation(R.CHILD_PARENT_MISSING, "project_no", f"no accepted case {project_no}")
                out.append(
                    Verdict(h.line, h.row_guid, h.table, h.project_no, "held", (why,), h.flags, h.file)
                )
        self._held.clear()
        return out


@dataclass
class CheckReport:
    verdicts: list[Verdict]

    def _with(self, status: Status) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == status]

    @property
    def quarantined(self) -> list[Verdict]:
        return self._with("quarantined")

    @property
    def held(self) -> list[Verdict]:
        return self._with("held")

    @property
    def valid(self) -> list[Verdict]:
        return self._with("valid")

    @property
    def reasons(self) -> dict[str, int]:
        c: Counter[str] = Counter()
        for v in self.verdicts:
            if v.status == "quarantined":
                c.update(v.rule_ids)
        return dict(sorted(c.items()))

    @property
    def flagged(self) -> dict[str, int]:
        c: Counter[str] = Counter(f.rule_id for v in self.verdicts for f in v.flags)
        return dict(sorted(c.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "rows": len(self.verdicts),
            "valid": len(self.valid),
            "held": len(self.held),
            "invalid": len(self.quarantined),
            "reasons": self.reasons,
            "flags": self.flagged,
        }


def _batches(source: Source | Sequence[Source]) -> list[tuple[str | None, Source]]:
    if isinstance(source, list | tuple):
        items: list[Source] = list(source)
        return [(Path(s).name if isinstance(s, str | Path) else str(i), s) for i, s in enumerate(items)]
    single: Source = source  # type: ignore[assignment]
    return [(None, single)]


def iter_verdicts(
    source: Source | Sequence[Source], *, encoding: str | None = None, calendar: WorkCalendar | None = None
) -> Iterator[Verdict]:
    """Verdicts in the order they are settled (held rows at the end). A list of sources is taken
    as consecutive batches (earlier first): verdicts then carry ``file`` (the path's name, or the
    batch index for non-path sources) and ``line`` within it."""
    checker = BatchChecker(calendar=calendar)
    for name, src in _batches(source):
        for parsed in read_lines(src, encoding=encoding):
            yield from checker.feed(parsed.line, parsed.row, parsed.error, file=name)
    yield from checker.finish()


def check_file(
    source: Source | Sequence[Source], *, encoding: str | None = None, calendar: WorkCalendar | None = None
) -> CheckReport:
    """Check a whole case file (or consecutive batch files); verdicts sorted by file order and line."""
    order = {name: i for i, (name, _) in enumerate(_batches(source))}
    verdicts = sorted(
        iter_verdicts(source, encoding=encoding, calendar=calendar),
        key=lambda v: (order.get(v.file, 0), v.line),
    )
    return CheckReport(verdicts)
