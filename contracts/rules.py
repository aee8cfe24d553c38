"""Rule ids: every intake rule has a stable id and a one-line description.

The quality layer, the generator's defect file (``FILE.defects.jsonl``), the reports and the
receipts all name rules by these ids; never rename one (add a new id instead).

Severity: ``quarantine`` — the row fails and goes to quarantine; ``hold`` — a child row waits
for its parent (not a failure); ``flag`` — the row passes with a flag (e.g. a provisional
promise date). Scope: ``field`` (one column), ``row`` (several columns of one row), ``case``
(rows of one case, e.g. a result against its accept row), ``batch`` (across rows of a batch).

Public API::

    RULES: Mapping[str, Rule]      # id -> Rule(id, description, severity, scope, tables)
    rule(rule_id) -> Rule          # raises SpecError
    QUARANTINE_RULES, HOLD_RULES, FLAG_RULES: frozenset[str]
    and one constant per id, e.g. ACCEPT_DATE_ORDER = "accept.date_order"
    INBOUND_RULES: Mapping[str, Rule]   # department feeds: approval data and status changes
    INTAKE_RULES: Mapping[str, Rule]    # case materials: license_ref.* holds, material.supply_missed

The case-table rules (``RULES``) each have a check in the quality suites; the department-feed rules
(``INBOUND_RULES``: ``approval.*`` and ``status.*``) are checked by the inbound flow
(``pipeline/inbound.py``) on :class:`contracts.models.DepartmentApproval` and
:class:`contracts.models.DepartmentStatusChange` records, which are quarantined with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from contracts.errors import SpecError

Severity = Literal["quarantine", "hold", "flag"]
Scope = Literal["field", "row", "case", "batch"]

ALL_TABLES = ("*",)

FIELD_REQUIRED = "field.required"
FIELD_TYPE = "field.type"
FIELD_MAX_LENGTH = "field.max_length"
FIELD_CODE_LIST = "field.code_list"
FIELD_DATE_FORMAT = "field.date_format"
FIELD_TIMESTAMP_FORMAT = "field.timestamp_format"
FIELD_RANGE = "field.range"
ROW_NOT_JSON = "row.not_json"
ROW_TABLE = "row.table"
ROW_UNKNOWN_COLUMN = "row.unknown_column"
ROW_DUPLICATE_GUID = "row.duplicate_guid"
ACCEPT_DATE_ORDER = "accept.date_order"
ACCEPT_APPLYER_ID_CHECK_DIGIT = "accept.applyer_id.check_digit"
ACCEPT_APPLYER_ID_FORMAT = "accept.applyer_id.format"
ACCEPT_ORG_CODE_USCC = "accept.org_code.uscc"
ACCEPT_REGION_CODE = "accept.region_code"
ACCEPT_PROMISE_DAY_ORDER = "accept.promise_day_order"
ACCEPT_PROMISE_DATE = "accept.promise_date"
ACCEPT_PROMISE_DATE_PROVISIONAL = "accept.promise_date.provisional"
ACCEPT_JOINT_THEME = "accept.joint.theme"
ACCEPT_JOINT_MEMBER = "accept.joint.member"
SPECIAL_DATE_ORDER = "special.date_order"
RESULT_DATE_ORDER = "result.date_order"
CHILD_PARENT_MISSING = "child.parent_missing"
MATERIAL_STATE_COLUMNS = "material.state_columns"
MATERIAL_LICENSE_REF = "material.license_ref"
MATERIAL_PRIMARY_DEFERRED = "material.primary_deferred"
MATERIAL_SUPPLY_BY_ORDER = "material.supply_by_order"


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    severity: Severity
    scope: Scope
    tables: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "description": self.description,
            "severity": self.severity,
            "scope": self.scope,
            "tables": list(self.tables),
        }


_A = ("up_pro_accept",)
_CHILDREN = (
    "up_pro_process",
    "up_pro_special_procedure",
    "up_pro_result",
    "up_pro_material",
    "up_pro_evaluation",
)

_ALL = (
    Rule(FIELD_REQUIRED, "A required column is missing, null or empty.", "quarantine", "field", ALL_TABLES),
    Rule(FIELD_TYPE, "A value has the wrong JSON type (text vs integer).", "quarantine", "field", ALL_TABLES),
    Rule(
        FIELD_MAX_LENGTH,
        "A text value is longer than the column's length (in characters).",
        "quarantine",
        "field",
        ALL_TABLES,
    ),
    Rule(FIELD_CODE_LIST, "A value is not in the column's code list.", "quarantine", "field", ALL_TABLES),
    Rule(
        FIELD_DATE_FORMAT,
        "A date is not a real calendar date written YYYY-MM-DD.",
        "quarantine",
        "field",
        ALL_TABLES,
    ),
    Rule(
        FIELD_TIMESTAMP_FORMAT,
        "A timestamp is not ISO 8601 with a UTC offset (2026-11-25T09:30:00+08:00).",
        "quarantine",
        "field",
        ALL_TABLES,
    ),
    Rule(FIELD_RANGE, "An integer is outside the column's range.", "quarantine", "field", ALL_TABLES),
    Rule(ROW_NOT_JSON, "A line is not a JSON object.", "quarantine", "row", ALL_TABLES),
    Rule(ROW_TABLE, "The row has no 'table' tag or names an unknown table.", "quarantine", "row", ALL_TABLES),
    Rule(
        ROW_UNKNOWN_COLUMN,
        "The row carries a column its table does not define.",
        "quarantine",
        "row",
        ALL_TABLES,
    ),
    Rule(
        ROW_DUPLICATE_GUID,
        "The row_guid was already owned by an earlier accepted row (first occurrence wins; "
        "a quarantined row owns no row_guid).",
        "quarantine",
        "batch",
        ALL_TABLES,
    ),
    Rule(ACCEPT_DATE_ORDER, "accept_date is before apply_date.", "quarantine", "row", _A),
    Rule(
        ACCEPT_APPLYER_ID_CHECK_DIGIT,
        "applyer_id fails its check character for applyer_id_type (resident ID; USCC or its embedded "
        "organization code).",
        "quarantine",
        "row",
        _A,
    ),
    Rule(
        ACCEPT_APPLYER_ID_FORMAT,
        "applyer_id has the wrong length, characters or birth date for applyer_id_type.",
        "quarantine",
        "row",
        _A,
    ),
    Rule(
        ACCEPT_ORG_CODE_USCC,
        "org_code is not a valid USCC (check character or embedded organization code).",
        "quarantine",
        "field",
        _A,
    ),
    Rule(
        ACCEPT_REGION_CODE, "region_code is not a known GB/T 2260 division code.", "quarantine", "field", _A
    ),
    Rule(
        ACCEPT_PROMISE_DAY_ORDER,
        "promise_day exceeds anticipate_day (承诺时限 > 法定时限).",
        "quarantine",
        "row",
        _A,
    ),
    Rule(
        ACCEPT_PROMISE_DATE,
        "promise_date is not the promise_day-th working day strictly after accept_date.",
        "quarantine",
        "row",
        _A,
    ),
    Rule(
        ACCEPT_PROMISE_DATE_PROVISIONAL,
        "promise_date reaches a year with no loaded schedule: checked weekends-only, passed, flagged.",
        "flag",
        "row",
        _A,
    ),
    Rule(
        ACCEPT_JOINT_THEME,
        "A member of a joint case (joint_no set) names no theme (一件事) of the catalog in theme_code, or "
        "theme_code is set without joint_no.",
        "quarantine",
        "row",
        _A,
    ),
    Rule(
        ACCEPT_JOINT_MEMBER,
        "task_code of a joint-case member is not a member item of its theme, or is of another region.",
        "quarantine",
        "row",
        _A,
    ),
    Rule(
        SPECIAL_DATE_ORDER,
        "end_date is before start_date.",
        "quarantine",
        "row",
        ("up_pro_special_procedure",),
    ),
    Rule(
        RESULT_DATE_ORDER,
        "result_date is before the case's accept_date.",
        "quarantine",
        "case",
        ("up_pro_result",),
    ),
    Rule(
        MATERIAL_STATE_COLUMNS,
        "The material's columns do not fit its material_state: 容缺 (2) needs supply_by, 已补正 (3) needs "
        "supplied_date, 电子证照 (4) needs license_ref, and only 电子证照 rows carry a license_ref.",
        "quarantine",
        "row",
        ("up_pro_material",),
    ),
    Rule(
        MATERIAL_LICENSE_REF,
        "license_ref is not a well-formed GB/T 36904 license identifier (prefix, parts, MOD 37,36 check).",
        "quarantine",
        "field",
        ("up_pro_material",),
    ),
    Rule(
        MATERIAL_PRIMARY_DEFERRED,
        "A material the service item catalog marks as primary (主要材料) was accepted as missing (容缺); "
        "only secondary materials may be.",
        "quarantine",
        "row",
        ("up_pro_material",),
    ),
    Rule(
        MATERIAL_SUPPLY_BY_ORDER,
        "supply_by (补正期限) is before the case's accept_date.",
        "quarantine",
        "case",
        ("up_pro_material",),
    ),
    Rule(
        CHILD_PARENT_MISSING,
        "No accepted up_pro_accept row with this project_no (yet): held until the parent arrives or the hold "
        "time runs out.",
        "hold",
        "case",
        _CHILDREN,
    ),
)

RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _ALL})
QUARANTINE_RULES = frozenset(r.id for r in _ALL if r.severity == "quarantine")
HOLD_RULES = frozenset(r.id for r in _ALL if r.severity == "hold")
FLAG_RULES = frozenset(r.id for r in _ALL if r.severity == "flag")


def rule(rule_id: str) -> Rule:
    try:
        return RULES[rule_id]
    except KeyError:
        raise SpecError(f"unknown rule id {rule_id!r}") from None


APPROVAL_SCHEMA = "approval.schema"
APPROVAL_UNKNOWN_ITEM = "approval.unknown_item"
APPROVAL_NO_LICENSE = "approval.no_license"
APPROVAL_TYPE_MISMATCH = "approval.type_mismatch"
APPROVAL_ORG_MISMATCH = "approval.org_mismatch"
APPROVAL_MISSING_FIELD = "approval.missing_field"
STATUS_SCHEMA = "status.schema"
STATUS_UNKNOWN_LICENSE = "status.unknown_license"
STATUS_ILLEGAL_TRANSITION = "status.illegal_transition"

_APPROVAL = ("department_approval",)
_STATUS = ("department_status_change",)
_INBOUND = (
    Rule(APPROVAL_SCHEMA, "The approval record does not match its schema.", "quarantine", "row", _APPROVAL),
    Rule(
        APPROVAL_UNKNOWN_ITEM,
        "task_code names no service item in the catalog.",
        "quarantine",
        "row",
        _APPROVAL,
    ),
    Rule(APPROVAL_NO_LICENSE, "The service item does not end in a license.", "quarantine", "row", _APPROVAL),
    Rule(
        APPROVAL_TYPE_MISMATCH,
        "type_code is not the license type the service item issues.",
        "quarantine",
        "row",
        _APPROVAL,
    ),
    Rule(
        APPROVAL_ORG_MISMATCH,
        "org_code is not the department that decides the service item.",
        "quarantine",
        "row",
        _APPROVAL,
    ),
    Rule(
        APPROVAL_MISSING_FIELD,
        "A face field (or the holders) the catalog sources from approval data is missing.",
        "quarantine",
        "row",
        _APPROVAL,
    ),
    Rule(STATUS_SCHEMA, "The status-change record does not match its schema.", "quarantine", "row", _STATUS),
    Rule(
        STATUS_UNKNOWN_LICENSE,
        "No license of this type and printed number (ZZBH) is in the registry.",
        "quarantine",
        "row",
        _STATUS,
    ),
    Rule(
        STATUS_ILLEGAL_TRANSITION,
        "The license's current status does not allow this change (DOMAIN.md §3).",
        "quarantine",
        "row",
        _STATUS,
    ),
)
INBOUND_RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _INBOUND})


# Holds and flags of the case materials flow (pipeline/materials.py, issue 18): a license reused at
# intake (电子证照免提交) that does not pass holds its case with one of these; a 容缺 material whose
# supply date passed is flagged once. Shown with the held cases (``tongban cases materials``, the
# data-quality site's holds page).
LICENSE_REF_UNKNOWN = "license_ref.unknown"
LICENSE_REF_EXPIRED = "license_ref.expired"
LICENSE_REF_NOT_YET_VALID = "license_ref.not_yet_valid"
LICENSE_REF_SUSPENDED = "license_ref.suspended"
LICENSE_REF_WITHDRAWN = "license_ref.withdrawn"
LICENSE_REF_CANCELLED = "license_ref.cancelled"
LICENSE_REF_REVOKED = "license_ref.revoked"
LICENSE_REF_TRANSFERRED = "license_ref.transferred_out"
LICENSE_REF_STATUS_OTHER = "license_ref.status_other"
LICENSE_REF_HOLDER_MISMATCH = "license_ref.holder_mismatch"
MATERIAL_SUPPLY_MISSED = "material.supply_missed"

_MAT = ("up_pro_material",)
_INTAKE = (
    Rule(LICENSE_REF_UNKNOWN, "license_ref names no license in the registry.", "hold", "case", _MAT),
    Rule(
        LICENSE_REF_EXPIRED,
        "The referenced license is past its end of validity or in status 05 失效.",
        "hold",
        "case",
        _MAT,
    ),
    Rule(LICENSE_REF_NOT_YET_VALID, "The referenced license is not valid yet.", "hold", "case", _MAT),
    Rule(LICENSE_REF_SUSPENDED, "The referenced license is suspended (02 暂扣).", "hold", "case", _MAT),
    Rule(LICENSE_REF_WITHDRAWN, "The referenced license was withdrawn (03 撤销).", "hold", "case", _MAT),
    Rule(LICENSE_REF_CANCELLED, "The referenced license was cancelled (04 注销).", "hold", "case", _MAT),
    Rule(LICENSE_REF_REVOKED, "The referenced license was revoked (07 吊销).", "hold", "case", _MAT),
    Rule(
        LICENSE_REF_TRANSFERRED,
        "The referenced license was transferred out (06 办理转出).",
        "hold",
        "case",
        _MAT,
    ),
    Rule(LICENSE_REF_STATUS_OTHER, "The referenced license is in status 99 其他.", "hold", "case", _MAT),
    Rule(
        LICENSE_REF_HOLDER_MISMATCH,
        "The referenced license does not belong to the applicant (blind-index holder match).",
        "hold",
        "case",
        _MAT,
    ),
    Rule(
        MATERIAL_SUPPLY_MISSED,
        "A 容缺 material was not supplied by its supply_by date: the case is flagged once and its "
        "clock stops.",
        "flag",
        "case",
        _MAT,
    ),
)
INTAKE_RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _INTAKE})
