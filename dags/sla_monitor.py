"""
### sla_monitor — flow 7, watch: cases past their promised completion date (办件超期监控)

Every hour. `track_deadlines`: every accepted case gets a deadline — its promise_date (承诺办结日期),
extended by the working days its special procedures (听证, 公告, 鉴定, 现场勘查) stopped the clock,
provisional when it reaches a year the working-day calendar does not know yet; a result row closes
the case as done or done late. `flag_overdue_cases`: open cases whose deadline has passed (today in
Asia/Shanghai) become overdue — once each, with a `case.overdue` entry in the flows' ledger stream
(case number, item, department, dates; no personal data). `flag_missed_supplies` (before it): a
容缺 material whose supply date (补正期限) passed unsupplied is flagged once (`material.supply_missed`)
and stops its case's clock until the supply arrives (README, 容缺受理). Re-running changes nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from dags._support import START, default_args, flow


@dag(
    dag_id="sla_monitor",
    schedule="@hourly",
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "watch"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=20),
    max_active_runs=1,
    max_active_tasks=1,
)
def sla_monitor() -> None:
    @task
    def track_deadlines() -> dict[str, Any]:
        from pipeline import sla

        return flow(sla.track)

    @task
    def flag_overdue_cases() -> int:
        from pipeline import sla

        return flow(sla.flag)

    @task
    def flag_missed_supplies() -> int:
        from pipeline import sla

        return flow(sla.flag_missed)

    track_deadlines() >> flag_missed_supplies() >> flag_overdue_cases()


sla_monitor()
