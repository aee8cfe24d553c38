"""The field table: the one source of truth for every case table (DOMAIN.md §5, with the sync
columns) and for license metadata (DOMAIN.md §3).

Everything else is derived from or tested against this module: the pydantic models
(:mod:`contracts.models`, a test checks they agree), the JSON Schemas (``contracts/schemas``),
the reference checker (:mod:`contracts.checks`), the generator, and — downstream — the
great-expectations suites and the WSDL. Column names are exactly as they travel.

Types: ``string`` (text, ``length`` = max characters), ``integer`` (``minimum``/``maximum``),
``date`` (Asia/Shanghai calendar date ``YYYY-MM-DD``), ``timestamp`` (ISO 8601 with offset,
``2026-11-25T09:30:00+08:00``). ``code_list`` names a list in :mod:`contracts.codes`.
``rules`` lists the rule ids (:mod:`contracts.rules`) that read the column; the generic field
rules follow from the attributes (``FieldSpec.rule_ids`` adds them).

Public API::

    SPEC_VERSION: str                          # bump on any change of the table
    SYNC_COLUMNS: tuple[str, ...]              # row_guid, cd_batch, cd_operation, cd_time, data_source
    CASE_TABLES: tuple[str, ...]               # up_pro_accept first, then the child tables
    CHILD_TABLES: tuple[str, ...]
    LICENSE_TABLES: tuple[str, ...]            # license_metadata, license_holder
    TABLES: Mapping[str, TableSpec]            # every table above
    table_spec(name) -> TableSpec              # raises SpecError
    TableSpec.fields: tuple[FieldSpec, ...] ; .field(name) ; .columns ; .required_columns ; .parent_key
    FieldSpec(name, label, type, length, required, code_list, minimum, maximum, rules, description,
              personal)                        # personal: sealed at rest, masked in output
    TableSpec.personal_columns                 # its personal fields
    PERSONAL_FIELDS: Mapping[str, tuple[str, ...]]   # table -> personal columns (tables that have any)
    field_table_document() -> dict             # JSON-ready form of the whole table (versioned)

Why one module of this length: it is the table itself, one entry per column of every case and
license table; split, the single source of truth would be several, and a reviewer of a spec
change would read them side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from contracts import rules as R
from contracts.codes import CODE_LISTS
from contracts.errors import SpecError

SPEC_VERSION = "1.3.0"

FieldType = Literal["string", "integer", "date", "timestamp"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: FieldType
    required: bool
    length: int | None = None
    code_list: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    rules: tuple[str, ...] = ()
    description: str = ""
    personal: bool = False  # a citizen's name, identifier or phone: sealed at rest, masked in output

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Every rule id that can fail on this column: generic field rules, then ``rules``."""
        out: list[str] = [R.FIELD_TYPE]
        if self.required:
            out.append(R.FIELD_REQUIRED)
        if self.length is not None and self.type == "string":
            out.append(R.FIELD_MAX_LENGTH)
        if self.code_list:
            out.append(R.FIELD_CODE_LIST)
        if self.type == "date":
            out.append(R.FIELD_DATE_FORMAT)
        if self.type == "timestamp":
            out.append(R.FIELD_TIMESTAMP_FORMAT)
        if self.minimum is not None or self.maximum is not None:
            out.append(R.FIELD_RANGE)
        out.extend(r for r in self.rules if r not in out)
        return tuple(out)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "length": self.length,
            "code_list": self.code_list,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "rules": list(self.rule_ids),
            "description": self.description,
            "personal": self.personal,
        }


@dataclass(frozen=True)
class TableSpec:
    name: str
    label: str
    kind: Literal["case", "license"]
    fields: tuple[FieldSpec, ...]
    parent_key: str | None = None
    rules: tuple[str, ...] = ()
    description: str = ""
    _by_name: Mapping[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", MappingProxyType({f.name: f for f in self.fields}))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def personal_columns(self) -> tuple[str, ...]:
        """The columns that hold a citizen's name, identifier or phone (``personal``)."""
        return tuple(f.name for f in self.fields if f.personal)

    def field(self, name: str) -> FieldSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise SpecError(f"table {self.name} has no column {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self._by_name

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "parent_key": self.parent_key,
            "rules": list(self.rules),
            "description": self.description,
            "fields": [f.as_dict() for f in self.fields],
        }


def _s(name: str, label: str, length: int, *, required: bool = True, **kw: Any) -> FieldSpec:
    return FieldSpec(name, label, "string", required, length=length, **kw)


def _code(name: str, label: str, code_list: str, *, required: bool = True, **kw: Any) -> FieldSpec:
    length = max(len(c) for c in CODE_LISTS[code_list].codes)
    return FieldSpec(name, label, "string", required, length=length, code_list=code_list, **kw)


def _d(name: str, label: str, *, required: bool = True, **kw: Any) -> FieldSpec:
    return FieldSpec(name, label, "date", required, **kw)


def _ts(name: str, label: str, *, required: bool = True, **kw: Any) -> FieldSpec:
    return FieldSpec(name, label, "timestamp", required, **kw)


def _i(name: str, label: str, minimum: int, maximum: int, *, required: bool = True, **kw: Any) -> FieldSpec:
    return FieldSpec(name, label, "integer", required, minimum=minimum, maximum=maximum, **kw)


SYNC_FIELDS: tuple[FieldSpec, ...] = (
    _s("row_guid", "行唯一标识", 64, description="unique per uploaded row; the idempotency key"),
    _s("cd_batch", "同步批次号", 64),
    _code("cd_operation", "同步操作类型", "cd_operation"),
    _ts("cd_time", "同步时间"),
    _s("data_source", "数据来源", 64, description="the sending system (county window system id)"),
)
SYNC_COLUMNS: tuple[str, ...] = tuple(f.name for f in SYNC_FIELDS)

_PROJECT_NO = _s(
    "project_no", "办件编号", 50, description="case number; links child rows to their accept row"
)

_ACCEPT = TableSpec(
    "up_pro_accept",
    "受理信息",
    "case",
    (
        _PROJECT_NO,
        _s("task_code", "事项编码", 64, description="service item code (see contracts.catalog)"),
        _s("task_version", "事项版本", 10),
        _s("task_name", "事项名称", 200),
        _s("region_code", "行政区划代码", 6, rules=(R.ACCEPT_REGION_CODE,)),
        _s("org_code", "受理部门统一社会信用代码", 18, rules=(R.ACCEPT_ORG_CODE_USCC,)),
        _s("org_name", "受理部门名称", 100),
        _code("applyer_type", "申请人类型", "applyer_type"),
        _s("applyer_name", "申请人名称", 100, personal=True),
        _code(
            "applyer_id_type",
            "申请人证件类型",
            "id_type",
            rules=(R.ACCEPT_APPLYER_ID_CHECK_DIGIT, R.ACCEPT_APPLYER_ID_FORMAT),
        ),
        _s(
            "applyer_id",
            "申请人证件号码",
            50,
            rules=(R.ACCEPT_APPLYER_ID_CHECK_DIGIT, R.ACCEPT_APPLYER_ID_FORMAT),
            personal=True,
        ),
        _d("apply_date", "申请日期", rules=(R.ACCEPT_DATE_ORDER,)),
        _d(
            "accept_date",
            "受理日期",
            rules=(R.ACCEPT_DATE_ORDER, R.ACCEPT_PROMISE_DATE, R.RESULT_DATE_ORDER),
        ),
        _i(
            "promise_day",
            "承诺时限(工作日)",
            0,
            9999,
            rules=(R.ACCEPT_PROMISE_DAY_ORDER, R.ACCEPT_PROMISE_DATE),
        ),
        _i("anticipate_day", "法定时限(工作日)", 0, 9999, rules=(R.ACCEPT_PROMISE_DAY_ORDER,)),
        _d(
            "promise_date",
            "承诺办结日期",
            rules=(R.ACCEPT_PROMISE_DATE, R.ACCEPT_PROMISE_DATE_PROVISIONAL),
        ),
        _code("handle_mode", "办理方式", "handle_mode"),
        _s(
            "joint_no",
            "联办件编号",
            50,
            required=False,
            rules=(R.ACCEPT_JOINT_THEME, R.ACCEPT_JOINT_MEMBER),
            description="joint case (联办件) number: the member cases of one 一件事 application share it",
        ),
        _s(
            "theme_code",
            "一件事主题编码",
            32,
            required=False,
            rules=(R.ACCEPT_JOINT_THEME, R.ACCEPT_JOINT_MEMBER),
            description="the theme (一件事) of the joint case, see contracts.catalog; set with joint_no",
        ),
        *SYNC_FIELDS,
    ),
    rules=(
        R.ACCEPT_DATE_ORDER,
        R.ACCEPT_APPLYER_ID_CHECK_DIGIT,
        R.ACCEPT_APPLYER_ID_FORMAT,
        R.ACCEPT_ORG_CODE_USCC,
        R.ACCEPT_REGION_CODE,
        R.ACCEPT_PROMISE_DAY_ORDER,
        R.ACCEPT_PROMISE_DATE,
        R.ACCEPT_PROMISE_DATE_PROVISIONAL,
        R.ACCEPT_JOINT_THEME,
        R.ACCEPT_JOINT_MEMBER,
    ),
    description="one row per accepted case (办件受理)",
)

_CHILD_RULES = (R.CHILD_PARENT_MISSING,)

_PROCESS = TableSpec(
    "up_pro_process",
    "办理过程",
    "case",
    (
        _PROJECT_NO,
        _code("node_name", "环节名称", "node_name"),
        _s("handler", "经办人", 50),
        _ts("handle_date", "办理时间"),
        _code("node_result", "环节结果", "node_result"),
        _s("opinion", "办理意见", 500, required=False),
        *SYNC_FIELDS,
    ),
    parent_key="project_no",
    rules=_CHILD_RULES,
    description="one row per step of a case",
)

_SPECIAL = TableSpec(
    "up_pro_special_procedure",
    "特别程序",
    "case",
    (
        _PROJECT_NO,
        _code("procedure_type", "特别程序类型", "procedure_type"),
        _d("start_date", "开始日期", rules=(R.SPECIAL_DATE_ORDER,)),
        _d("end_date", "结束日期", rules=(R.SPECIAL_DATE_ORDER,)),
        *SYNC_FIELDS,
    ),
    parent_key="project_no",
    rules=(R.SPECIAL_DATE_ORDER, *_CHILD_RULES),
    description="one row per suspended period (hearing, public notice, expert review, site survey); "
    "extends the deadline by its working days (DOMAIN.md §6)",
)

_RESULT = TableSpec(
    "up_pro_result",
    "办结信息",
    "case",
    (
        _PROJECT_NO,
        _d("result_date", "办结日期", rules=(R.RESULT_DATE_ORDER,)),
        _code("result_type", "办结类型", "result_type"),
        _s("result_cert_name", "结果证照名称", 100, required=False),
        _s("result_cert_no", "结果证照编号", 100, required=False),
        *SYNC_FIELDS,
    ),
    parent_key="project_no",
    rules=(R.RESULT_DATE_ORDER, *_CHILD_RULES),
    description="one row per finished case",
)

_MATERIAL = TableSpec(
    "up_pro_material",
    "申请材料",
    "case",
    (
        _PROJECT_NO,
        _s("material_name", "材料名称", 200, rules=(R.MATERIAL_PRIMARY_DEFERRED,)),
        _code("material_type", "材料类型", "material_type"),
        _code(
            "material_state",
            "材料状态",
            "material_state",
            required=False,
            rules=(R.MATERIAL_STATE_COLUMNS, R.MATERIAL_PRIMARY_DEFERRED),
            description="empty = 1 submitted; 2 容缺, 3 已补正, 4 电子证照 (issue 18, README 容缺受理)",
        ),
        _d(
            "supply_by",
            "补正期限",
            required=False,
            rules=(R.MATERIAL_STATE_COLUMNS, R.MATERIAL_SUPPLY_BY_ORDER),
            description="the date a 容缺 material must be supplied by (Asia/Shanghai, included)",
        ),
        _d(
            "supplied_date",
            "补正日期",
            required=False,
            rules=(R.MATERIAL_STATE_COLUMNS,),
            description="the date a 容缺 material was supplied (on the 已补正 row)",
        ),
        _s(
            "license_ref",
            "电子证照标识",
            100,
            required=False,
            rules=(R.MATERIAL_STATE_COLUMNS, R.MATERIAL_LICENSE_REF),
            description="ZZBS of an e-license reused instead of the document (电子证照免提交)",
        ),
        *SYNC_FIELDS,
    ),
    parent_key="project_no",
    rules=(
        R.MATERIAL_STATE_COLUMNS,
        R.MATERIAL_LICENSE_REF,
        R.MATERIAL_PRIMARY_DEFERRED,
        R.MATERIAL_SUPPLY_BY_ORDER,
        *_CHILD_RULES,
    ),
    description="one row per submitted document; a 容缺 material is supplied by a later U row (its own "
    "row_guid) of the same project_no and material_name with material_state 3; an e-license reference "
    "(material_state 4) is checked at intake (README, 容缺受理 and 免提交)",
)

_EVALUATION = TableSpec(
    "up_pro_evaluation",
    "好差评",
    "case",
    (
        _PROJECT_NO,
        FieldSpec("eval_level", "评价等级", "integer", True, code_list="eval_level", minimum=1, maximum=5),
        _d("eval_date", "评价日期"),
        _code("channel", "评价渠道", "channel"),
        *SYNC_FIELDS,
    ),
    parent_key="project_no",
    rules=_CHILD_RULES,
    description="one row per 好差评 rating (GB/T 39735)",
)

_LICENSE_METADATA = TableSpec(
    "license_metadata",
    "电子证照元数据",
    "license",
    (
        _s("ZZMC", "证照名称", 100),
        _s("ZZLXDM", "证照类型代码", 21, description="defining authority USCC + 3 digits"),
        _s("ZZBH", "证照编号", 100),
        _s("ZZBS", "证照标识", 100, description="GB/T 36904 identifier"),
        _s("ZZBFJG", "证照颁发机构", 100),
        _s("ZZBFJGDM", "证照颁发机构代码", 18),
        _d("ZZBFRQ", "证照颁发日期"),
        _s(
            "CZZT", "持证主体", 200, description="first holder (all holders in license_holder)", personal=True
        ),
        _s("CZZTDM", "持证主体代码", 50, personal=True),
        _code("CZZTDMLX", "持证主体代码类型", "id_type"),
        _d("ZZYXQQSRQ", "证照有效期起始日期"),
        _d("ZZYXQJZRQ", "证照有效期截止日期", required=False, description="empty = long-term (长期)"),
        _s("ZZQZR", "证照签章人", 50, required=False),
        _ts("ZZQZSJ", "证照签章时间", required=False),
        _s("ZZQZMC", "证照签章名称", 100, required=False),
        _code("ZZZT", "证照状态", "license_status"),
    ),
    description="license metadata (GB/T 36903 field codes); type-specific face fields KZ_* come from "
    "the license type's data file",
)

_LICENSE_HOLDER = TableSpec(
    "license_holder",
    "持证主体",
    "license",
    (
        _s("CZZT", "持证主体", 200, personal=True),
        _s("CZZTDM", "持证主体代码", 50, personal=True),
        _code("CZZTDMLX", "持证主体代码类型", "id_type"),
    ),
    description="one holder of a license; a license may have several (co-owners of a property)",
)

CASE_TABLES: tuple[str, ...] = (
    "up_pro_accept",
    "up_pro_process",
    "up_pro_special_procedure",
    "up_pro_result",
    "up_pro_material",
    "up_pro_evaluation",
)
CHILD_TABLES: tuple[str, ...] = CASE_TABLES[1:]
LICENSE_TABLES: tuple[str, ...] = ("license_metadata", "license_holder")

TABLES: Mapping[str, TableSpec] = MappingProxyType(
    {
        t.name: t
        for t in (
            _ACCEPT,
            _PROCESS,
            _SPECIAL,
            _RESULT,
            _MATERIAL,
            _EVALUATION,
            _LICENSE_METADATA,
            _LICENSE_HOLDER,
        )
    }
)


PERSONAL_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: t.personal_columns for name, t in TABLES.items() if t.personal_columns}
)


def table_spec(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise SpecError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None


def field_table_document() -> dict[str, Any]:
    """The whole field table as JSON-ready data (written to ``contracts/schemas/field_table.json``)."""
    return {
        "spec_version": SPEC_VERSION,
        "sync_columns": list(SYNC_COLUMNS),
        "case_tables": list(CASE_TABLES),
        "tables": {name: t.as_dict() for name, t in TABLES.items()},
        "code_lists": {name: c.as_dict() for name, c in CODE_LISTS.items()},
        "rules": {rid: r.as_dict() for rid, r in R.RULES.items()},
    }
