"""Shared wiring of the pipeline DAGs: assets, default arguments, the failure callback and the
Connection-backed endpoint resolver. No logic of the flows lives here (see ``gateway.flows``) and
nothing does I/O at import.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset

START = pendulum.datetime(2026, 1, 1, tz="UTC")

RAW_CASES = Asset("tongban://cases/raw")
CURATED_CASES = Asset("tongban://cases/curated")
CASE_RESULTS = Asset("tongban://cases/results")
APPROVALS = Asset("tongban://departments/approvals")
LICENSES = Asset("tongban://licenses/issued")


def on_task_failure(context: Any) -> None:
    """Every failed try: a ledger entry, a log line, and the failure webhook when one is set."""
    from core.runtime import current_settings
    from gateway.flows.alerts import record_task_failure

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


def flow_context() -> Any:
    """The flows' context for a task: settings from the environment, endpoints from Connections."""
    from airflow.sdk import BaseHook

    from connectors.peer_registry import Endpoint, endpoint_from_parts
    from core.runtime import current_settings
    from gateway.flows import FlowContext

    def resolve(conn_id: str) -> Endpoint:
        c = BaseHook.get_connection(conn_id)
        return endpoint_from_parts(c.conn_type, c.host, c.port, c.schema, c.login, c.password, c.extra)

    return FlowContext(current_settings(), endpoints=resolve)
