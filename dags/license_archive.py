"""
### license_archive — flow 7, watch: keep issued licenses verifiable (PAdES B-LTA)

Every night at 03:30 (Asia/Shanghai). Licenses whose newest stored file is older than
`TONGBAN_PIPELINE__ARCHIVE_EVERY_DAYS` (365) get the current certificates and CRLs in their DSS and a
document timestamp over the whole file, as a new object in the write-once licenses zone; the
registry's current file moves to it with a `license.archived` ledger entry. The certified revision
does not change, so the license verifies as before — and keeps verifying after the original
timestamp's certificate expires. A license archived recently is not due: re-running changes nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from dags._support import START, default_args, flow


@dag(
    dag_id="license_archive",
    schedule=CronTriggerTimetable("30 3 * * *", timezone="Asia/Shanghai"),
    start_date=START,
    catchup=False,
    tags=["tongban", "pipeline", "licenses", "watch"],
    doc_md=__doc__,
    default_args=default_args(timeout_minutes=60),
    max_active_runs=1,
    max_active_tasks=1,
)
def license_archive() -> None:
    @task
    def archive_due_licenses() -> dict[str, Any]:
        from pipeline import archive

        return flow(archive.archive_due)

    archive_due_licenses()


license_archive()
