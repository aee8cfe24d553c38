"""
### province_reconcile — flow 7, watch: what the province holds against what we sent (对账)

Every night at 02:30 (Asia/Shanghai). The province's counts per case table and day are compared
with the rows our outbox recorded as delivered; where the province holds fewer (a backup restored,
an ETL that dropped rows), the delivered keys of that table and day are looked up one by one and
the rows it lacks are sent again — the only time a delivered row is ever resent. Rows whose
receipt was lost are confirmed by lookup. `case_push_province` does the same after each delivery;
this run also covers the days when nothing new was pushed. Running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from dags._support import START, default_args, flow


@dag(
    dag_id="province_reconcile",
    schedule=CronTriggerTimetable("30 2 * * *", timezone="Asia/Shanghai"),
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "province", "watch"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=60, retries=5),
    max_active_runs=1,
    max_active_tasks=1,
)
def province_reconcile() -> None:
    @task
    def reconcile_and_repair() -> dict[str, Any]:
        from pipeline import push

        return flow(push.deliver)

    reconcile_and_repair()


province_reconcile()
