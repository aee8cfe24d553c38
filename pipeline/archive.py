"""Flow 7, watch: long-term archiving of issued licenses (``license_archive``).

Licenses whose newest stored file is older than ``settings.pipeline.archive_every_days`` get a
document timestamp and fresh validation data (PAdES B-LTA) as a new stored object
(:mod:`licenses.archive`); a failure is reported per license and fails the task at the end, so
Airflow retries only what is still due.
"""

from __future__ import annotations

from typing import Any

from pipeline.context import FlowContext
from pipeline.errors import ArchiveIncomplete


def archive_due(ctx: FlowContext, *, limit: int = 1000) -> dict[str, Any]:
    from licenses.archive import archive_due as run

    report = run(ctx.licenses, every_days=ctx.settings.pipeline.archive_every_days, limit=limit)
    if report.failed:
        raise ArchiveIncomplete(f"{len(report.failed)} licenses not archived: {report.failed}")
    return report.as_dict()
