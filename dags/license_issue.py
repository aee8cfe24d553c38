"""
### license_issue — flow 4, e-license issuance (电子证照签发)

Triggered by `tongban://cases/results` or `tongban://departments/approvals`. Every finished case
(result type 准予) whose service item ends in a license is recorded as awaiting; every awaiting
case whose department approval data has arrived is issued — GB/T 36904 identifier, PDF face, PAdES
signature with the department's seal and a timestamp, stored, registered with its status — with
the idempotency key `<project_no>:<type_code>`, so a re-run returns the license already issued.
Cases without approval data keep waiting ("awaiting approval data") and are flagged once when
they wait longer than `TONGBAN_PIPELINE__AWAITING_FLAG_HOURS`. The registry's `license.issued`
events go to the province catalog through the outbox. Emits `tongban://licenses/issued`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from dags._support import APPROVALS, CASE_RESULTS, LICENSES, START, default_args, flow


@dag(
    dag_id="license_issue",
    schedule=(CASE_RESULTS | APPROVALS),
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "licenses"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=45),
    max_active_runs=1,
    max_active_tasks=1,
)
def license_issue() -> None:
    @task
    def discover_finished_cases() -> int:
        from pipeline import issue

        return flow(issue.discover_finished)

    @task(outlets=[LICENSES])
    def issue_licenses() -> dict[str, Any]:
        from pipeline import issue

        return flow(issue.issue_ready)

    @task
    def flag_overdue() -> int:
        from pipeline import issue

        return flow(issue.flag_overdue)

    @task
    def publish_to_catalog() -> dict[str, Any]:
        from pipeline import catalog

        return flow(catalog.publish)

    discover_finished_cases() >> issue_licenses() >> [flag_overdue(), publish_to_catalog()]


license_issue()
