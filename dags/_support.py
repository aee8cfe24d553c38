"""Shared wiring of the pipeline DAGs: assets, default arguments, the failure callback and
:func:`flow`, the one task body every DAG uses. No logic of the flows lives here (see ``pipeline``)
and nothing does I/O at import.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import pendulum
from airflow.sdk import Asset

if TYPE_CHECKING:
    from pipeline import FlowContext

P = ParamSpec("P")
T = TypeVar("T")

START = pendulum.datetime(2026, 1, 1, tz="UTC")

RAW_CASES = Asset("tongban://cases/raw")
CURATED_CASES = Asset("tongban://cases/curated")
CASE_RESULTS = Asset("tongban://cases/results")
APPROVALS = Asset("tongban://departments/approvals")
LICENSES = Asset("tongban://licenses/issued")


def on_task_failure(context: Any) -> None:
    """Every failed try: a ledger entry, a log line, and the failure webhook when one is set."""
    from core.runtime import current_settings
    from pipeline.alerts import record_task_failure

    ti = context.get("ti") or context.get("task_instance")
    record_task_failure(
        current_settings(),
        dag_id=str(getattr(ti, "dag_id", "?")),
        task_id=str(getattr(ti, "task_id", "?")),
        run_id=str(getattr(ti, "run_id", context.get("run_id", "?"))),
        try_number=getattr(ti, "try_number", None),
        map_index=getattr(ti, "map_index", None),
        error=context.get("exception"),
    )


def default_args(*, timeout_minutes: int = 20, retries: int = 3) -> dict[str, Any]:
    # the first retry delay; tests and drills shorten it (an environment read, no I/O)
    delay = float(os.environ.get("TONGBAN_PIPELINE__RETRY_DELAY_S", "15"))
    return {
        "owner": "tongban-integration",
        "retries": retries,
        "retry_delay": timedelta(seconds=delay),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=timeout_minutes),
        "on_failure_callback": on_task_failure,
        "on_retry_callback": on_task_failure,  # every failed try is recorded, not only the last
    }


def flow(step: Callable[Concatenate[FlowContext, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one flow step as a task body: ``step(ctx, *args)`` with the flows' context (settings
    from the environment; clients from the connector hooks, which read Airflow's Connections),
    closed afterwards. Steps return what XCom carries (dicts, lists, numbers)."""
    from core.runtime import current_settings
    from pipeline import FlowContext

    with FlowContext(current_settings()) as ctx:
        return step(ctx, *args, **kwargs)
