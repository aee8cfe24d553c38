"""Flow 7, watch: long-term archiving of issued licenses (``license_archive``).

Licenses whose evidence needs renewing — their newest timestamp's TSA certificate or a certificate
of their validation data expires within ``settings.pipeline.archive_margin_days``, or an algorithm
in it is listed in ``settings.pki.deprecated_algorithms`` — and those whose newest stored file is
older than ``settings.pipeline.archive_every_days`` get a document timestamp and fresh validation
data (PAdES B-LTA) as a new stored object (:mod:`licenses.archive`); a failure is reported per
license and fails the task at the end, so Airflow retries only what is still due.
"""

from __future__ import annotations

from typing import Any

from pipeline.context import FlowContext
from pipeline.errors import ArchiveIncomplete


def archive_due(ctx: FlowContext, *, limit: int = 1000) -> dict[str, Any]:
    from licenses.archive import archive_due as run

    cfg = ctx.settings
    report = run(
        ctx.licenses,
        every_days=cfg.pipeline.archive_every_days,
        margin_days=cfg.pipeline.archive_margin_days,
        deprecated=cfg.pki.deprecated_algorithms,
        limit=limit,
    )
    if report.failed:
        raise ArchiveIncomplete(f"{len(report.failed)} licenses not archived: {report.failed}")
    return report.as_dict()
