"""
### license_catalog_sync — flow 5, publish to the provincial catalog (证照目录同步)

Every 10 minutes (Asia/Shanghai) and whenever `tongban://licenses/issued` is updated: the
registry's domain events `license.issued` and `license.status_changed` not yet copied are put in
the outbox (one event cursor per peer) and delivered to the province's catalog operation, exactly
once in effect and in order per license. `license_issue` and `department_results_inbound` publish
at their end too; this DAG also carries the changes no DAG made — a status changed by an issuing
department through the sharing API, or by an operator with `tongban license` — so the province
hears of them within the schedule. Running it with nothing new changes nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from dags._support import LICENSES, START, default_args, flow


@dag(
    dag_id="license_catalog_sync",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/10 * * * *", timezone="Asia/Shanghai"), assets=LICENSES
    ),
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "licenses", "province"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=15),
    max_active_runs=1,
    max_active_tasks=1,
)
def license_catalog_sync() -> None:
    @task
    def publish_to_catalog() -> dict[str, Any]:
        from pipeline import catalog

        return flow(catalog.publish)

    publish_to_catalog()


license_catalog_sync()
