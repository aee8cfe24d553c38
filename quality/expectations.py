"""Custom great-expectations 1.x expectations of the intake rules, on the pandas engine.

Every expectation here is a thin GX wrapper over a vectorized kernel of :mod:`quality.vectorized`
(one metric provider with a ``column_condition_partial`` / ``multicolumn_condition_partial`` per
rule shape). Importing this module registers them with GX; :mod:`quality.suites` builds the
suites in code, never from JSON, because GX silently drops a custom expectation whose class was
not imported (FACTS.md) — and the runner checks that every planned expectation produced a result.

Null handling is ours, not GX's: the metric providers set ``filter_column_isnull = False`` and the
multicolumn expectations ``ignore_row_if="never"``, so GX never copies a filtered frame per
expectation and the kernels decide (a missing value fails only ``field.required``).

Inside :func:`frozen_configurations` (the runner opens it around one ``Batch.validate``) the
``configuration`` of each of our expectation objects is built once and reused: GX asks for it
thousands of times per validation (every domain, success and runtime kwarg lookup rebuilds it with
a pydantic ``dict()`` of the whole expectation, ~0.4 s per 100k-row batch), and an expectation does
not change while it is validated.

Expectation types (snake-case names as GX registers them)::

    expect_tongban_values_present            column                       field.required
    expect_tongban_json_type                 column, field_type           field.type
    expect_tongban_max_length                column, length               field.max_length
    expect_tongban_code_list                 column, codes, field_type    field.code_list
    expect_tongban_date_format               column                       field.date_format
    expect_tongban_timestamp_format          column                       field.timestamp_format
    expect_tongban_int_range                 column, minimum, maximum     field.range
    expect_tongban_uscc                      column                       USCC check characters
    expect_tongban_region_code               column                       GB/T 2260 code known
    expect_tongban_field_rule            column_list, rule_id, specs    any generic field rule, all columns
    expect_tongban_column_field_rule     column, rule_id, spec          the same on a single column
    expect_tongban_holder_id                 column_list=[type, id], aspect=format|check_digit
    expect_tongban_dates_in_order            column_list=[earlier, later]
    expect_tongban_int_not_greater           column_list=[small, large]
    expect_tongban_promise_date              column_list=[accept_date, promise_day, promise_date],
                                             aspect=match|provisional, calendar_dir
    expect_tongban_license_id                column, max_length           material.license_ref
    expect_tongban_material_state            column_list=[supply_by, supplied_date, license_ref,
                                             material_state]              material.state_columns
    expect_tongban_primary_not_deferred      column_list=[material_name, material_state], primary
    expect_tongban_joint_member              column_list=[joint_no, theme_code, task_code],
                                             aspect=theme|member, members (theme → task codes)

Why one module of ~400 lines: it is the registry — importing it registers every expectation with
GX, and a suite silently loses any custom expectation whose class was not imported, so the whole
set lives (and is imported) together; each class is a few declarative lines over a kernel.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Literal

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    MulticolumnMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    MulticolumnMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.column_condition_partial import (
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (
    multicolumn_condition_partial,
)

from contracts.calendar import WorkCalendar, default_calendar
from quality import vectorized as K

_MULTI_DOMAIN_KEYS = (
    "batch_id",
    "table",
    "column_list",
    "row_condition",
    "condition_parser",
    "ignore_row_if",
)


def _series(mask: Any, index: pd.Index) -> pd.Series:
    return pd.Series(mask, index=index, dtype=bool)


def calendar_for(calendar_dir: str) -> WorkCalendar:
    """The working-day calendar of a suite: packaged supplements plus the operator folder (cached)."""
    return default_calendar(calendar_dir or None)


# -- single-column metrics ----------------------------------------------------------------------------


class _ColumnMetric(ColumnMapMetricProvider):  # type: ignore[misc]
    filter_column_isnull = False


class ColumnFieldRule(_ColumnMetric):
    condition_metric_name = "tongban.column_field_rule"
    condition_value_keys = ("rule_id", "spec")

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, rule_id: str, spec: dict[str, Any], **kwargs: Any) -> pd.Series:
        return _series(K.FIELD_KERNELS[rule_id](column, spec), column.index)


class ValuesPresent(_ColumnMetric):
    condition_metric_name = "tongban.values_present"

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return _series(K.present(column), column.index)


class JsonType(_ColumnMetric):
    condition_metric_name = "tongban.json_type"
    condition_value_keys = ("field_type",)

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, field_type: str, **kwargs: Any) -> pd.Series:
        return _series(K.json_type_ok(column, field_type), column.index)


class MaxLength(_ColumnMetric):
    condition_metric_name = "tongban.max_length"
    condition_value_keys = ("length",)

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, length: int, **kwargs: Any) -> pd.Series:
        return _series(K.max_length_ok(column, length), column.index)


class CodeList(_ColumnMetric):
    condition_metric_name = "tongban.code_list"
    condition_value_keys = ("codes", "field_type")

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, codes: list[str], field_type: str, **kwargs: Any) -> pd.Series:
        return _series(K.code_list_ok(column, codes, field_type), column.index)


class DateFormat(_ColumnMetric):
    condition_metric_name = "tongban.date_format"

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return _series(K.date_ok(column), column.index)


class TimestampFormat(_ColumnMetric):
    condition_metric_name = "tongban.timestamp_format"

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return _series(K.timestamp_ok(column), column.index)


class IntRange(_ColumnMetric):
    condition_metric_name = "tongban.int_range"
    condition_value_keys = ("minimum", "maximum")

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(
        cls, column: pd.Series, minimum: int | None = None, maximum: int | None = None, **kwargs: Any
    ) -> pd.Series:
        return _series(K.range_ok(column, minimum, maximum), column.index)


class Uscc(_ColumnMetric):
    condition_metric_name = "tongban.uscc"

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return _series(K.uscc_ok(column), column.index)


class RegionCode(_ColumnMetric):
    condition_metric_name = "tongban.region_code"

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return _series(K.region_ok(column), column.index)


# -- multicolumn metrics -------------------------------------------------------------------------------


class LicenseId(ColumnMapMetricProvider):  # type: ignore[misc]
    condition_metric_name = "tongban.license_id"
    condition_value_keys = ("max_length",)
    filter_column_isnull = False

    @column_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column: pd.Series, max_length: int = 100, **kwargs: Any) -> pd.Series:
        return _series(K.license_id_ok(column, max_length), column.index)


class _MultiMetric(MulticolumnMapMetricProvider):  # type: ignore[misc]
    condition_domain_keys = _MULTI_DOMAIN_KEYS


class FieldRule(_MultiMetric):
    condition_metric_name = "tongban.field_rule"
    condition_value_keys = ("rule_id", "specs")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(
        cls, column_list: pd.DataFrame, rule_id: str, specs: dict[str, dict[str, Any]], **kwargs: Any
    ) -> pd.Series:
        return _series(K.field_rule_ok(rule_id, column_list, specs), column_list.index)


class HolderId(_MultiMetric):
    condition_metric_name = "tongban.holder_id"
    condition_value_keys = ("aspect",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column_list: pd.DataFrame, aspect: str, **kwargs: Any) -> pd.Series:
        fmt, chk = K.holder_id_checks(column_list.iloc[:, 0], column_list.iloc[:, 1])
        return _series(fmt if aspect == "format" else chk, column_list.index)


class DatesInOrder(_MultiMetric):
    condition_metric_name = "tongban.dates_in_order"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return _series(K.dates_in_order(column_list.iloc[:, 0], column_list.iloc[:, 1]), column_list.index)


class IntNotGreater(_MultiMetric):
    condition_metric_name = "tongban.int_not_greater"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return _series(K.int_le(column_list.iloc[:, 0], column_list.iloc[:, 1]), column_list.index)


class PromiseDate(_MultiMetric):
    condition_metric_name = "tongban.promise_date"
    condition_value_keys = ("aspect", "calendar_dir")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(
        cls, column_list: pd.DataFrame, aspect: str, calendar_dir: str = "", **kwargs: Any
    ) -> pd.Series:
        ok, provisional = K.promise_date_ok(
            column_list.iloc[:, 0], column_list.iloc[:, 1], column_list.iloc[:, 2], calendar_for(calendar_dir)
        )
        return _series(ok if aspect == "match" else ~provisional, column_list.index)


class MaterialState(_MultiMetric):
    condition_metric_name = "tongban.material_state"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        c = column_list
        ok = K.material_state_ok(c["material_state"], c["supply_by"], c["supplied_date"], c["license_ref"])
        return _series(ok, c.index)


class PrimaryNotDeferred(_MultiMetric):
    condition_metric_name = "tongban.primary_not_deferred"
    condition_value_keys = ("primary",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column_list: pd.DataFrame, primary: list[str], **kwargs: Any) -> pd.Series:
        ok = K.not_deferred_primary(column_list.iloc[:, 0], column_list.iloc[:, 1], primary)
        return _series(ok, column_list.index)


class JointMember(_MultiMetric):
    condition_metric_name = "tongban.joint_member"
    condition_value_keys = ("aspect", "members")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(
        cls, column_list: pd.DataFrame, aspect: str, members: dict[str, list[str]], **kwargs: Any
    ) -> pd.Series:
        ok = K.joint_ok(
            column_list.iloc[:, 0], column_list.iloc[:, 1], column_list.iloc[:, 2], members, aspect
        )
        return _series(ok, column_list.index)


# -- expectations ----------------------------------------------------------------------------------------

# id(expectation) -> (expectation, its configuration); the entry holds the object, so its id cannot
# be reused by another expectation while the scope is open
_CONFIGS: ContextVar[dict[int, tuple[Any, Any]] | None] = ContextVar("tongban_gx_configs", default=None)


@contextmanager
def frozen_configurations() -> Iterator[None]:
    """Build each expectation's ``configuration`` once within this scope (one validation)."""
    token = _CONFIGS.set({})
    try:
        yield
    finally:
        _CONFIGS.reset(token)


def _cached(expectation: Any, build: Any) -> Any:
    cache = _CONFIGS.get()
    if cache is None:
        return build()
    hit = cache.get(id(expectation))
    if hit is None or hit[0] is not expectation:
        hit = cache[id(expectation)] = (expectation, build())
    return hit[1]


class _TbColumn(ColumnMapExpectation):  # type: ignore[misc]
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)

    @property
    def configuration(self) -> Any:
        return _cached(self, lambda: super(_TbColumn, self).configuration)


class ExpectTongbanColumnFieldRule(_TbColumn):
    """A generic field rule on a single column (GX multicolumn expectations need two or more)."""

    map_metric = "tongban.column_field_rule"
    success_keys = ("rule_id", "spec", "mostly")
    rule_id: str
    spec: dict[str, Any]


class ExpectTongbanValuesPresent(_TbColumn):
    """field.required: present and not blank."""

    map_metric = "tongban.values_present"


class ExpectTongbanJsonType(_TbColumn):
    """field.type: the JSON type of the column (string vs integer)."""

    map_metric = "tongban.json_type"
    success_keys = ("field_type", "mostly")
    field_type: Literal["string", "integer", "date", "timestamp"]


class ExpectTongbanMaxLength(_TbColumn):
    """field.max_length: at most ``length`` characters."""

    map_metric = "tongban.max_length"
    success_keys = ("length", "mostly")
    length: int


class ExpectTongbanCodeList(_TbColumn):
    """field.code_list: a code of the column's code list."""

    map_metric = "tongban.code_list"
    success_keys = ("codes", "field_type", "mostly")
    codes: list[str]
    field_type: Literal["string", "integer", "date", "timestamp"]


class ExpectTongbanDateFormat(_TbColumn):
    """field.date_format: a real date written YYYY-MM-DD."""

    map_metric = "tongban.date_format"


class ExpectTongbanTimestampFormat(_TbColumn):
    """field.timestamp_format: ISO 8601 with offset."""

    map_metric = "tongban.timestamp_format"


class ExpectTongbanIntRange(_TbColumn):
    """field.range: an integer within [minimum, maximum]."""

    map_metric = "tongban.int_range"
    success_keys = ("minimum", "maximum", "mostly")
    minimum: int | None = None
    maximum: int | None = None


class ExpectTongbanUscc(_TbColumn):
    """A unified social credit code with valid check characters (GB 32100, GB 11714)."""

    map_metric = "tongban.uscc"


class ExpectTongbanRegionCode(_TbColumn):
    """A GB/T 2260 division code this project knows."""

    map_metric = "tongban.region_code"


class _TbMulti(MulticolumnMapExpectation):  # type: ignore[misc]
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"

    @property
    def configuration(self) -> Any:
        return _cached(self, lambda: super(_TbMulti, self).configuration)


class ExpectTongbanFieldRule(_TbMulti):
    """One generic field rule (type, required, length, code list, date / timestamp format, range)
    over every column of a table it applies to; ``specs`` holds each column's parameters. The gate
    names the failing column(s) of each rejected row from the same kernels."""

    map_metric = "tongban.field_rule"
    success_keys = ("rule_id", "specs", "mostly")
    rule_id: str
    specs: dict[str, dict[str, Any]]


class ExpectTongbanHolderId(_TbMulti):
    """An identifier valid for its code type: ``aspect`` = format or check_digit."""

    map_metric = "tongban.holder_id"
    success_keys = ("aspect", "mostly")
    aspect: Literal["format", "check_digit"]


class ExpectTongbanDatesInOrder(_TbMulti):
    """The first date is not after the second (rows where either is not a valid date pass)."""

    map_metric = "tongban.dates_in_order"


class ExpectTongbanIntNotGreater(_TbMulti):
    """The first integer is not greater than the second."""

    map_metric = "tongban.int_not_greater"


class ExpectTongbanPromiseDate(_TbMulti):
    """promise_date is the promise_day-th working day after accept_date (``match``), or the
    computation stayed inside known years (``provisional``: failing rows are flagged, not held back)."""

    map_metric = "tongban.promise_date"
    success_keys = ("aspect", "calendar_dir", "mostly")
    aspect: Literal["match", "provisional"]
    calendar_dir: str = ""


class ExpectTongbanLicenseId(_TbColumn):
    """A well-formed GB/T 36904 license identifier (电子证照标识)."""

    map_metric = "tongban.license_id"
    success_keys = ("max_length", "mostly")
    max_length: int = 100


class ExpectTongbanMaterialState(_TbMulti):
    """A material row's columns fit its material_state (容缺, 已补正, 电子证照)."""

    map_metric = "tongban.material_state"


class ExpectTongbanPrimaryNotDeferred(_TbMulti):
    """No primary material (the catalog's ``primary_materials``) is accepted as missing (容缺)."""

    map_metric = "tongban.primary_not_deferred"
    success_keys = ("primary", "mostly")
    primary: list[str]


class ExpectTongbanJointMember(_TbMulti):
    """A joint-case member row names a known theme (``theme``) and is one of its items (``member``)."""

    map_metric = "tongban.joint_member"
    success_keys = ("aspect", "members", "mostly")
    aspect: Literal["theme", "member"]
    members: dict[str, list[str]]


EXPECTATION_CLASSES: dict[str, type[Any]] = {
    c.__name__: c
    for c in (
        ExpectTongbanColumnFieldRule,
        ExpectTongbanValuesPresent,
        ExpectTongbanJsonType,
        ExpectTongbanMaxLength,
        ExpectTongbanCodeList,
        ExpectTongbanDateFormat,
        ExpectTongbanTimestampFormat,
        ExpectTongbanIntRange,
        ExpectTongbanUscc,
        ExpectTongbanRegionCode,
        ExpectTongbanFieldRule,
        ExpectTongbanHolderId,
        ExpectTongbanDatesInOrder,
        ExpectTongbanIntNotGreater,
        ExpectTongbanPromiseDate,
        ExpectTongbanLicenseId,
        ExpectTongbanMaterialState,
        ExpectTongbanPrimaryNotDeferred,
        ExpectTongbanJointMember,
    )
}
