"""
### license_expiry — flow 7, watch: the end of validity (证照过期失效)

Every day at 00:15 (Asia/Shanghai). Every live license (01 有效, 02 暂扣) whose end of validity
(有效期截止日期, ZZYXQJZRQ) is before the day judged moves to **05 失效** through the lifecycle
(operation 04 过期失效: status history, `license.lifecycle` ledger entry, `license.status_changed`
domain event); the change is published to the province catalog through the outbox (exactly once in
effect), and departments that used the license and subscribed (`POST /v1/subscriptions`) get a
signed webhook. The day judged is the run's logical date in Asia/Shanghai; a manual run may give
another with conf `{"today": "YYYY-MM-DD"}`. 长期 licenses (no end date) never expire. A second run
changes nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from dags._support import START, default_args, flow


@dag(
    dag_id="license_expiry",
    schedule=CronTriggerTimetable("15 0 * * *", timezone="Asia/Shanghai"),
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "licenses", "watch", "province"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=30),
    max_active_runs=1,
    max_active_tasks=1,
)
def license_expiry() -> None:
    @task
    def expire_due_licenses() -> dict[str, Any]:
        from pipeline import expiry

        context = get_current_context()
        run = context.get("dag_run")
        conf = (getattr(run, "conf", None) or {}) if run is not None else {}
        day = expiry.judgement_day(conf.get("today"), context.get("logical_date"))
        return flow(expiry.expire_due, today=day)

    @task
    def publish_to_catalog() -> dict[str, Any]:
        from pipeline import catalog

        return flow(catalog.publish)

    @task
    def notify_departments() -> dict[str, int]:
        from gateway.webhooks import notify_status_changes

        return flow(notify_status_changes)

    expired = expire_due_licenses()
    published = publish_to_catalog()
    notified = notify_departments()
    expired >> published >> notified


license_expiry()
