"""Running the generated suites with great-expectations 1.x (ephemeral context, pandas engine).

One :class:`SuiteRunner` per process holds the GX context, a pandas data source with one data
asset per table, and the suites built from :func:`quality.suites.plan_all`. A run validates one
table's frame and returns, for every planned expectation, the positions of the rows it rejected.

Frames are indexed by the row's position in the batch (an unnamed integer index) and validated
with ``result_format=COMPLETE`` *without* ``unexpected_index_column_names``: GX then returns the
index values directly (naming an index column makes it build a dict per failing row, slow).
``Batch.validate`` is used instead of ``ValidationDefinition.run``, which would serialize and
store every result in the context's results store (seconds per batch).

A metric error does not raise in GX: it gives ``success=False`` with ``exception_info``. The runner
turns that into :class:`~quality.errors.SuiteExecutionError` — a broken rule is a gate failure,
never a reason to quarantine data — and checks that every planned expectation came back (a suite
that lost a custom expectation would otherwise pass rows silently).

Public API::

    gx_import_seconds() -> float                 # one-time import cost, measured on first use
    shared_runner(calendar_dir="") -> (SuiteRunner, suite_hash)   # one per process and calendar
    SuiteRunner(plans)                           # plans: table -> tuple[PlannedExpectation, ...]
    .run(table, frame) -> list[RuleResult]       # RuleResult(planned, positions: int64 array)
    .expectation_count(table) -> int
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from quality.errors import SuiteError, SuiteExecutionError
from quality.suites import PlannedExpectation, plan_all, suite_hash
from quality.vectorized import column_cache

_IMPORT_SECONDS: float | None = None


def _import_gx() -> Any:
    global _IMPORT_SECONDS
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    started = time.perf_counter()
    import great_expectations as gx

    import quality.expectations  # noqa: F401  (registers the custom expectations)

    if _IMPORT_SECONDS is None:
        _IMPORT_SECONDS = time.perf_counter() - started
        # GX fingerprints every in-memory batch smaller than HASH_THRESHOLD by hashing all of its
        # values (pandas.util.hash_pandas_object: ~0.3 s per 100k object rows). We never read the
        # fingerprint (batches are identified by their SHA-256), so switch it off.
        from great_expectations.execution_engine import pandas_execution_engine

        pandas_execution_engine.HASH_THRESHOLD = 0
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return gx


def gx_import_seconds() -> float:
    """Seconds the first import of great-expectations (and our expectations) took in this process."""
    _import_gx()
    assert _IMPORT_SECONDS is not None
    return _IMPORT_SECONDS


@dataclass(frozen=True)
class RuleResult:
    planned: PlannedExpectation
    positions: npt.NDArray[np.int64]  # batch positions of the rows the expectation rejected


_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
    "exclude_unexpected_values": True,
}


class SuiteRunner:
    """GX context, assets and suites for every planned table."""

    def __init__(self, plans: Mapping[str, tuple[PlannedExpectation, ...]]) -> None:
        gx = _import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        from quality.expectations import EXPECTATION_CLASSES, frozen_configurations

        self._frozen = frozen_configurations

        self.plans = dict(plans)
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        source = self.context.data_sources.add_pandas("tongban")
        self._batch_definitions: dict[str, Any] = {}
        self._suites: dict[str, Any] = {}
        for table, plan in self.plans.items():
            asset = source.add_dataframe_asset(name=table)
            self._batch_definitions[table] = asset.add_batch_definition_whole_dataframe(f"{table}.whole")
            suite = gx.ExpectationSuite(name=f"tongban.{table}")
            for p in plan:
                cls = EXPECTATION_CLASSES.get(p.expectation)
                if cls is None:
                    raise SuiteError(f"plan of {table} names unknown expectation class {p.expectation}")
                suite.add_expectation(cls(**dict(p.kwargs), meta=p.meta))
            if len(suite.expectations) != len(plan):
                raise SuiteError(
                    f"suite of {table} has {len(suite.expectations)} expectations, planned {len(plan)}"
                )
            self._suites[table] = suite

    def expectation_count(self, table: str) -> int:
        return len(self.plans[table])

    def run(self, table: str, frame: pd.DataFrame) -> list[RuleResult]:
        """Validate ``frame`` (indexed by batch position) against ``table``'s suite."""
        plan = self.plans[table]
        if frame.empty:
            return [RuleResult(p, np.zeros(0, dtype=np.int64)) for p in plan]
        batch = self._batch_definitions[table].get_batch(batch_parameters={"dataframe": frame})
        with column_cache(), self._frozen():
            result = batch.validate(self._suites[table], result_format=_RESULT_FORMAT)
        by_key: dict[tuple[str, tuple[str, ...]], Any] = {}
        for r in result.results:
            meta = r.expectation_config.meta or {}
            key = (str(meta.get("rule_id")), tuple(meta.get("fields") or ()))
            by_key[key] = r
        out: list[RuleResult] = []
        for p in plan:
            r = by_key.get((p.rule_id, p.fields))
            if r is None:
                raise SuiteExecutionError(
                    f"{table}: no result for planned expectation {p.rule_id} {p.fields}"
                )
            info = r.exception_info or {}
            if info.get("raised_exception") or any(
                isinstance(v, dict) and v.get("raised_exception") for v in info.values()
            ):
                message = info.get("exception_message") or next(
                    (v.get("exception_message") for v in info.values() if isinstance(v, dict)),
                    "unknown error",
                )
                raise SuiteExecutionError(
                    f"{table}: expectation for {p.rule_id} {p.fields} raised: {message}"
                )
            if r.success:
                out.append(RuleResult(p, np.zeros(0, dtype=np.int64)))
                continue
            idx = r.result.get("unexpected_index_list")
            if idx is None:
                raise SuiteExecutionError(f"{table}: {p.rule_id} failed without an index list")
            out.append(RuleResult(p, np.asarray(idx, dtype=np.int64)))
        return out


_RUNNERS: dict[str, tuple[SuiteRunner, str]] = {}


def shared_runner(calendar_dir: str = "") -> tuple[SuiteRunner, str]:
    """One GX context and suite set per process (per calendar folder), with the hash of its suites:
    building them costs ~0.3 s."""
    hit = _RUNNERS.get(calendar_dir)
    if hit is None:
        plans = plan_all(calendar_dir=calendar_dir)
        hit = _RUNNERS[calendar_dir] = (SuiteRunner(plans), suite_hash(plans))
    return hit
