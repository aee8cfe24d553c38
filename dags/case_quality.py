"""
### case_quality — flow 2, data quality (数据质量)

Triggered by `tongban://cases/raw`. Every raw batch the quality gate has not seen (found in the
database, oldest first, so a child held in one batch is released when its parent arrives in a
later one) is validated against the contract: valid rows to the case store (``case_rows``),
children waiting for their parent to the held zone, invalid rows to quarantine with every failed
rule per row and field, an HTML data-quality report and a signed DQ receipt per batch.
Emits `tongban://cases/curated` and `tongban://cases/results`.

Idempotent by batch hash: a validated batch is never validated again.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from dags._support import CASE_RESULTS, CURATED_CASES, RAW_CASES, START, default_args, flow


@dag(
    dag_id="case_quality",
    schedule=[RAW_CASES],
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "quality"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=30),
    max_active_runs=1,
    max_active_tasks=1,
)
def case_quality() -> None:
    @task(outlets=[CURATED_CASES, CASE_RESULTS])
    def validate_pending_batches() -> dict[str, Any]:
        from pipeline import quality

        return flow(quality.validate_pending)

    validate_pending_batches()


case_quality()
