"""
### case_quality — flow 2, data quality (数据质量)

Triggered by `tongban://cases/raw`. Every raw batch the quality gate has not seen (found in the
database, oldest first, so a child held in one batch is released when its parent arrives in a
later one) is validated against the contract: valid rows to the case store (``case_rows``),
children waiting for their parent to the held zone, invalid rows to quarantine with every failed
rule per row and field, an HTML data-quality report and a signed DQ receipt per batch.
Emits `tongban://cases/curated`; `check_case_materials`, after it, emits `tongban://cases/results`
(so license_issue sees the materials checked). `check_case_materials` tracks
the curated materials (README, 容缺受理 and 免提交): 容缺 materials awaiting supply, and licenses
referenced instead of a document — each checked (exists, valid, the applicant's, by blind index),
one use recorded in the use ledger per passing reference, a failing one holding its case with its
reason.

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
    @task(outlets=[CURATED_CASES])
    def validate_pending_batches() -> dict[str, Any]:
        from pipeline import quality

        return flow(quality.validate_pending)

    @task(outlets=[CASE_RESULTS])
    def check_case_materials() -> dict[str, Any]:
        from pipeline import materials

        return flow(materials.run)

    validate_pending_batches() >> check_case_materials()


case_quality()
