"""
### case_push_province — flow 3, push to the province (数据上报)

Triggered by `tongban://cases/curated`. Curated case rows are recorded in the delivery outbox
(idempotency key: `row_guid`) in the same transaction that marks them queued, then delivered to
the provincial platform's SOAP service in batches — rows of one case in `cd_time` order, per-row
receipts, every exchange in the message log — and reconciled with the province's own counts;
whatever the province proves missing is sent again. Rows still undelivered when the run ends
fail the task so Airflow retries it: nothing is lost and nothing arrives twice.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from dags._support import CURATED_CASES, START, default_args, flow


@dag(
    dag_id="case_push_province",
    schedule=[CURATED_CASES],
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "province"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=30, retries=5),
    max_active_runs=1,
    max_active_tasks=1,
)
def case_push_province() -> None:
    @task
    def enqueue_curated() -> int:
        from pipeline import push

        return flow(push.enqueue_curated)

    @task
    def deliver_and_reconcile() -> dict[str, Any]:
        from pipeline import push

        return flow(push.deliver)

    enqueue_curated() >> deliver_and_reconcile()


case_push_province()
