"""
### department_results_inbound — approval data and license status changes from departments

For each department system in the peer registry (mapped): pull approval data (审批结果数据, the
license face fields the service item catalog sources from `approval`) and license status changes,
page by page with the cursor in the same transaction. Both pass a gate: approval data against the
contract's model and the catalog (item, license type, department, required face fields); status
changes against their shape. Failing rows are quarantined with every reason.

Status changes then go through the license lifecycle rules: unknown licenses and illegal
transitions are quarantined with reasons, changes for licenses still waiting to be issued stay
pending, applied ones record a `license.status_changed` event that the outbox delivers to the
province catalog. Emits `tongban://departments/approvals`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from dags._support import APPROVALS, START, default_args, flow


@dag(
    dag_id="department_results_inbound",
    schedule="*/30 * * * *",
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "departments", "licenses"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=20),
    max_active_runs=1,
    max_active_tasks=4,
)
def department_results_inbound() -> None:
    @task
    def departments() -> list[str]:
        from pipeline import inbound

        return flow(inbound.department_ids)

    @task(outlets=[APPROVALS], max_active_tis_per_dag=4)
    def pull_approvals(peer_id: str) -> dict[str, Any]:
        from pipeline import inbound

        return flow(inbound.pull_approvals, peer_id)

    @task(max_active_tis_per_dag=4)
    def pull_status_changes(peer_id: str) -> dict[str, Any]:
        from pipeline import inbound

        return flow(inbound.pull_status_changes, peer_id)

    @task
    def apply_status_changes() -> dict[str, Any]:
        from pipeline import inbound

        return flow(inbound.apply_status_changes)

    @task
    def publish_to_catalog() -> dict[str, Any]:
        from pipeline import catalog

        return flow(catalog.publish)

    peers = departments()
    approvals = pull_approvals.expand(peer_id=peers)
    changes = pull_status_changes.expand(peer_id=peers)
    applied = apply_status_changes()
    [approvals, changes] >> applied >> publish_to_catalog()


department_results_inbound()
