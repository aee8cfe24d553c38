"""
### county_cases_ingest — flow 1, case intake (办件汇聚)

For **each county in the peer registry** (one mapped task per county; the Task SDK cannot list
Connections, so the registry is the source): pull the rows changed since the county's stored
cursor from its window system (REST, cursor pages, the vendor's layout mapped to the contract),
land them with the cursor in one transaction, and cut the new rows into raw batches stored in the
object store's `raw` zone (encrypted, content-addressed). Emits `tongban://cases/raw`.

Input through the database: the pull cursor per county and the last raw batch's range — a re-run
pulls and cuts nothing twice. Endpoints come from the Connection each registry row names.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from dags._support import RAW_CASES, START, default_args, flow


@dag(
    dag_id="county_cases_ingest",
    schedule="*/15 * * * *",
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "intake"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=20),
    max_active_runs=1,
    max_active_tasks=4,
)
def county_cases_ingest() -> None:
    @task
    def counties() -> list[str]:
        from pipeline import ingest

        return flow(ingest.county_ids)

    @task(outlets=[RAW_CASES], max_active_tis_per_dag=4)
    def ingest_county(peer_id: str) -> dict[str, Any]:
        from pipeline import ingest

        return flow(ingest.ingest_county, peer_id)

    ingest_county.expand(peer_id=counties())


county_cases_ingest()
