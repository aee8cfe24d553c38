"""
### tongban_heartbeat

Proves the runtime works end to end from inside Airflow: a task appends a heartbeat to the audit
ledger through `core` and verifies the chain. Run it after an upgrade or when a worker is new.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="tongban_heartbeat",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["tongban", "system"],
    doc_md=__doc__,
    default_args={
        "owner": "tongban",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(minutes=5),
    },
    max_active_runs=1,
)
def tongban_heartbeat() -> None:
    @task
    def heartbeat() -> dict[str, object]:
        from core.health import record_heartbeat
        from core.runtime import current_settings, shared_database

        return record_heartbeat(shared_database(current_settings()), source="airflow:tongban_heartbeat")

    heartbeat()


tongban_heartbeat()
