"""Pydantic models of the case tables, license metadata and department approval data.

The models are written beside the field table (:mod:`contracts.fields`) and take every
constraint from it (length, range, code list, required-ness, description); a test checks that
models, field table and JSON Schemas agree. Rows travel tagged with their table
(``"table": "up_pro_accept"``); :data:`CaseRow` is the discriminated union over that tag.

Models validate a single row (types, lengths, code lists, formats). Rules across columns or rows
(dates in order, check digits, promise dates, duplicates, parents) live in
:mod:`contracts.checks`, which is what intake uses.

Public API::

    UpProAccept, UpProProcess, UpProSpecialProcedure, UpProResult, UpProMaterial, UpProEvaluation
    CaseRowModel                         # base class of the six; .table
    CaseRow                              # Annotated union, discriminator "table"
    CASE_MODELS: Mapping[str, type[CaseRowModel]]    # table name -> model
    parse_case_row(data: Mapping) -> CaseRowModel    # raises pydantic.ValidationError
    LicenseHolder, LicenseMetadata       # GB/T 36903 field codes; KZ = type-specific face fields
    DepartmentApproval                   # approval data a department system returns for a case
    MODEL_FOR_TABLE: Mapping[str, type[BaseModel]]   # every table of the field table -> model
    BusinessDate, Timestamp              # the strict date / timestamp types of every model
    strict_date(v), strict_timestamp(v)  # their shape checks (raise ValueError), for other checkers
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from contracts.codes import CODE_LISTS
from contracts.fields import TABLES

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_DATE_RE = re.compile(DATE_PATTERN)
_TS_RE = re.compile(TIMESTAMP_PATTERN)


def strict_date(v: Any) -> Any:
    """A date, or text written ``YYYY-MM-DD`` (pydantic then parses it); else ``ValueError``."""
    if isinstance(v, datetime):
        raise ValueError("a calendar date YYYY-MM-DD is required, not a timestamp")
    if isinstance(v, date):
        return v
    if isinstance(v, str) and _DATE_RE.fullmatch(v):
        return v
    raise ValueError("a calendar date written YYYY-MM-DD is required")


def strict_timestamp(v: Any) -> Any:
    """A datetime, or ISO 8601 text with an offset (pydantic then parses it); else ``ValueError``."""
    if isinstance(v, datetime):
        return v
    if isinstance(v, str) and _TS_RE.fullmatch(v):
        return v
    raise ValueError("an ISO 8601 timestamp with offset is required (2026-11-25T09:30:00+08:00)")


BusinessDate = Annotated[date, BeforeValidator(strict_date)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(strict_timestamp)]


def col(table: str, name: str) -> Any:
    """A pydantic ``Field`` carrying the field table's constraints for ``table.name``."""
    f = TABLES[table].field(name)
    extra: dict[str, Any] = {"x-label": f.label, "x-rules": list(f.rule_ids)}
    kwargs: dict[str, Any] = {}
    if f.code_list:
        codes = CODE_LISTS[f.code_list].values()
        extra["x-code-list"] = f.code_list
        extra["enum"] = [int(c) for c in codes] if f.type == "integer" else list(codes)
    if f.type == "string" and f.length is not None:
        kwargs["max_length"] = f.length
        if f.required:
            kwargs["min_length"] = 1
    if f.type == "integer":
        kwargs["strict"] = True
        if f.minimum is not None:
            kwargs["ge"] = f.minimum
        if f.maximum is not None:
            kwargs["le"] = f.maximum
    if f.type == "timestamp":
        extra["pattern"] = TIMESTAMP_PATTERN
    description = f"{f.label}" + (f" — {f.description}" if f.description else "")
    default: Any = ... if f.required else None
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


class _ContractModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, validate_default=False)

    spec_table: ClassVar[str]

    @model_validator(mode="after")
    def _code_lists(self) -> Any:
        spec = TABLES[self.spec_table]
        for f in spec.fields:
            if f.code_list is None:
                continue
            value = getattr(self, f.name)
            if value is not None and not CODE_LISTS[f.code_list].contains(value):
                raise ValueError(f"{f.name}: {value!r} is not in code list {f.code_list}")
        return self


class CaseRowModel(_ContractModel):
    """Base of the six case-table models: the sync columns every uploaded row carries."""

    table: str
    row_guid: str = col("up_pro_accept", "row_guid")
    cd_batch: str = col("up_pro_accept", "cd_batch")
    cd_operation: str = col("up_pro_accept", "cd_operation")
    cd_time: Timestamp = col("up_pro_accept", "cd_time")
    data_source: str = col("up_pro_accept", "data_source")


class UpProAccept(CaseRowModel):
    """受理信息: one row per accepted case."""

    spec_table: ClassVar[str] = "up_pro_accept"
    table: Literal["up_pro_accept"] = "up_pro_accept"
    project_no: str = col("up_pro_accept", "project_no")
    task_code: str = col("up_pro_accept", "task_code")
    task_version: str = col("up_pro_accept", "task_version")
    task_name: str = col("up_pro_accept", "task_name")
    region_code: str = col("up_pro_accept", "region_code")
    org_code: str = col("up_pro_accept", "org_code")
    org_name: str = col("up_pro_accept", "org_name")
    applyer_type: str = col("up_pro_accept", "applyer_type")
    applyer_name: str = col("up_pro_accept", "applyer_name")
    applyer_id_type: str = col("up_pro_accept", "applyer_id_type")
    applyer_id: str = col("up_pro_accept", "applyer_id")
    apply_date: BusinessDate = col("up_pro_accept", "apply_date")
    accept_date: BusinessDate = col("up_pro_accept", "accept_date")
    promise_day: int = col("up_pro_accept", "promise_day")
    anticipate_day: int = col("up_pro_accept", "anticipate_day")
    promise_date: BusinessDate = col("up_pro_accept", "promise_date")
    handle_mode: str = col("up_pro_accept", "handle_mode")
    joint_no: str | None = col("up_pro_accept", "joint_no")
    theme_code: str | None = col("up_pro_accept", "theme_code")


class UpProProcess(CaseRowModel):
    """办理过程: one row per step of a case."""

    spec_table: ClassVar[str] = "up_pro_process"
    table: Literal["up_pro_process"] = "up_pro_process"
    project_no: str = col("up_pro_process", "project_no")
    node_name: str = col("up_pro_process", "node_name")
    handler: str = col("up_pro_process", "handler")
    handle_date: Timestamp = col("up_pro_process", "handle_date")
    node_result: str = col("up_pro_process", "node_result")
    opinion: str | None = col("up_pro_process", "opinion")


class UpProSpecialProcedure(CaseRowModel):
    """特别程序: one row per suspended period."""

    spec_table: ClassVar[str] = "up_pro_special_procedure"
    table: Literal["up_pro_special_procedure"] = "up_pro_special_procedure"
    project_no: str = col("up_pro_special_procedure", "project_no")
    procedure_type: str = col("up_pro_special_procedure", "procedure_type")
    start_date: BusinessDate = col("up_pro_special_procedure", "start_date")
    end_date: BusinessDate = col("up_pro_special_procedure", "end_date")


class UpProResult(CaseRowModel):
    """办结信息: one row per finished case."""

    spec_table: ClassVar[str] = "up_pro_result"
    table: Literal["up_pro_result"] = "up_pro_result"
    project_no: str = col("up_pro_result", "project_no")
    result_date: BusinessDate = col("up_pro_result", "result_date")
    result_type: str = col("up_pro_result", "result_type")
    result_cert_name: str | None = col("up_pro_result", "result_cert_name")
    result_cert_no: str | None = col("up_pro_result", "result_cert_no")


class UpProMaterial(CaseRowModel):
    """申请材料: one row per submitted document (or a 容缺 material, its supply, an e-license reference)."""

    spec_table: ClassVar[str] = "up_pro_material"
    table: Literal["up_pro_material"] = "up_pro_material"
    project_no: str = col("up_pro_material", "project_no")
    material_name: str = col("up_pro_material", "material_name")
    material_type: str = col("up_pro_material", "material_type")
    material_state: str | None = col("up_pro_material", "material_state")
    supply_by: BusinessDate | None = col("up_pro_material", "supply_by")
    supplied_date: BusinessDate | None = col("up_pro_material", "supplied_date")
    license_ref: str | None = col("up_pro_material", "license_ref")


class UpProEvaluation(CaseRowModel):
    """好差评: one rating of a case (GB/T 39735)."""

    spec_table: ClassVar[str] = "up_pro_evaluation"
    table: Literal["up_pro_evaluation"] = "up_pro_evaluation"
    project_no: str = col("up_pro_evaluation", "project_no")
    eval_level: int = col("up_pro_evaluation", "eval_level")
    eval_date: BusinessDate = col("up_pro_evaluation", "eval_date")
    channel: str = col("up_pro_evaluation", "channel")


CaseRow = Annotated[
    UpProAccept | UpProProcess | UpProSpecialProcedure | UpProResult | UpProMaterial | UpProEvaluation,
    Field(discriminator="table"),
]
_CASE_ROW_ADAPTER: TypeAdapter[CaseRow] = TypeAdapter(CaseRow)

CASE_MODELS: Mapping[str, type[CaseRowModel]] = MappingProxyType(
    {
        m.spec_table: m
        for m in (
            UpProAccept,
            UpProProcess,
            UpProSpecialProcedure,
            UpProResult,
            UpProMaterial,
            UpProEvaluation,
        )
    }
)


def parse_case_row(data: Mapping[str, Any]) -> CaseRowModel:
    """Validate one tagged row into its model (raises ``pydantic.ValidationError``)."""
    return _CASE_ROW_ADAPTER.validate_python(dict(data))


# --- License metadata -------------------------------------------------------------------------


class LicenseHolder(_ContractModel):
    """持证主体: one holder (name, code, code type)."""

    spec_table: ClassVar[str] = "license_holder"
    CZZT: str = col("license_holder", "CZZT")
    CZZTDM: str = col("license_holder", "CZZTDM")
    CZZTDMLX: str = col("license_holder", "CZZTDMLX")


class LicenseMetadata(_ContractModel):
    """电子证照元数据 (GB/T 36903 codes). ``holders`` lists every holder (first = CZZT/CZZTDM/CZZTDMLX);
    ``KZ`` carries the type-specific face fields keyed by their ``KZ_*`` key (license type data file)."""

    spec_table: ClassVar[str] = "license_metadata"
    ZZMC: str = col("license_metadata", "ZZMC")
    ZZLXDM: str = col("license_metadata", "ZZLXDM")
    ZZBH: str = col("license_metadata", "ZZBH")
    ZZBS: str = col("license_metadata", "ZZBS")
    ZZBFJG: str = col("license_metadata", "ZZBFJG")
    ZZBFJGDM: str = col("license_metadata", "ZZBFJGDM")
    ZZBFRQ: BusinessDate = col("license_metadata", "ZZBFRQ")
    CZZT: str = col("license_metadata", "CZZT")
    CZZTDM: str = col("license_metadata", "CZZTDM")
    CZZTDMLX: str = col("license_metadata", "CZZTDMLX")
    ZZYXQQSRQ: BusinessDate = col("license_metadata", "ZZYXQQSRQ")
    ZZYXQJZRQ: BusinessDate | None = col("license_metadata", "ZZYXQJZRQ")
    ZZQZR: str | None = col("license_metadata", "ZZQZR")
    ZZQZSJ: Timestamp | None = col("license_metadata", "ZZQZSJ")
    ZZQZMC: str | None = col("license_metadata", "ZZQZMC")
    ZZZT: str = col("license_metadata", "ZZZT")
    holders: list[LicenseHolder] = Field(
        default_factory=list,
        description="every holder, the first equal to CZZT/CZZTDM/CZZTDMLX (project extension)",
    )
    KZ: dict[str, str] = Field(
        default_factory=dict,
        description="type-specific face fields: KZ_* key -> value (license type data file)",
    )

    @model_validator(mode="after")
    def _holders_consistent(self) -> LicenseMetadata:
        first = LicenseHolder(CZZT=self.CZZT, CZZTDM=self.CZZTDM, CZZTDMLX=self.CZZTDMLX)
        if not self.holders:
            self.holders = [first]
        elif self.holders[0] != first:
            raise ValueError("holders[0] must equal CZZT / CZZTDM / CZZTDMLX")
        bad = [k for k in self.KZ if not k.startswith("KZ_")]
        if bad:
            raise ValueError(f"face field keys must start with KZ_: {bad}")
        return self


# --- Department approval data -------------------------------------------------------------------


class DepartmentApproval(BaseModel):
    """审批结果数据: what a department system returns for a finished case that ends in a license.

    ``fields`` holds the face fields the service item catalog sources from ``approval`` (keyed by
    face-field key, e.g. ``KZ_JYFW``); ``holders`` the holders when the catalog sources them from
    approval data (co-owners of a property); validity dates when the type's rule takes them from
    approval. ``approval_id`` is the department's idempotency key."""

    model_config = ConfigDict(extra="forbid")

    approval_id: str = Field(min_length=1, max_length=64)
    project_no: str = Field(min_length=1, max_length=50)
    task_code: str = Field(min_length=1, max_length=64)
    type_code: str = Field(min_length=21, max_length=21, description="license type code (ZZLXDM)")
    org_code: str = Field(min_length=18, max_length=18, description="USCC of the approving department")
    approved_date: BusinessDate
    sent_at: Timestamp
    fields: dict[str, str] = Field(default_factory=dict)
    holders: list[LicenseHolder] = Field(default_factory=list)
    valid_from: BusinessDate | None = None
    valid_until: BusinessDate | None = None


# status changes a department may send for licenses it issued (DOMAIN.md §3 transitions)
StatusAction = Literal[
    "suspend", "reinstate", "withdraw", "cancel", "revoke", "transfer-out", "cancel-transfer"
]


class DepartmentStatusChange(BaseModel):
    """证照状态变更: a status change a department decided on a license it issued, naming the license
    by type and printed number (ZZBH). ``change_id`` is the department's idempotency key."""

    model_config = ConfigDict(extra="forbid")

    change_id: str = Field(min_length=1, max_length=64)
    type_code: str = Field(min_length=21, max_length=21, description="license type code (ZZLXDM)")
    license_no: str = Field(min_length=1, max_length=64, description="printed license number (ZZBH)")
    project_no: str | None = Field(default=None, max_length=50)
    action: StatusAction
    reason: str = Field(min_length=1, max_length=500)
    changed_at: Timestamp


MODEL_FOR_TABLE: Mapping[str, type[BaseModel]] = MappingProxyType(
    {**CASE_MODELS, "license_metadata": LicenseMetadata, "license_holder": LicenseHolder}
)
