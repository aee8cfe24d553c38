"""The flows of ARCHITECTURE.md composed across quality, connectors and licenses; DAG tasks call these.

One module per flow, each a handful of functions that take a :class:`FlowContext` and find their
input through the database (watermarks, batch records, ledger states), so every step runs alone
and running it twice changes nothing:

- :mod:`pipeline.ingest`   flow 1: pull each county feed, land the rows, cut raw batches
- :mod:`pipeline.quality`  flow 2: validate pending raw batches (curated / held / quarantine)
- :mod:`pipeline.push`     flow 3: curated rows → outbox → province (SOAP), reconcile
- :mod:`pipeline.inbound`  department approval data and status changes through the gate
- :mod:`pipeline.issue`    flow 4: finished cases + approval data → licenses; awaiting cases
- :mod:`pipeline.catalog`  flow 5: domain events (issued, status changed) → province catalog
- :mod:`pipeline.materials` 容缺 materials until supplied; licenses reused at intake (免提交), one use each
- :mod:`pipeline.sla`      flow 7: deadlines (promise date + special procedures), overdue, missed supplies
- :mod:`pipeline.archive`  flow 7: licenses re-timestamped (PAdES B-LTA) before their evidence ages out
- :mod:`pipeline.expiry`   flow 7: licenses past their end of validity → 05 失效 (then catalog, webhooks)
- :mod:`pipeline.alerts`   task failure records (ledger, log, webhook)
- :mod:`pipeline.summary`  the figures of a run, from the database, the store and the province
- :mod:`pipeline.errors`   the exception tree (PipelineError → PushIncomplete, ArchiveIncomplete)

Nothing here imports Airflow; the DAGs in ``dags/`` only wire these functions into tasks.
``import pipeline`` is light: :class:`FlowContext` (database, connectors) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.lazy import lazy_getattr
from pipeline.errors import ArchiveIncomplete, PipelineError, PushIncomplete

if TYPE_CHECKING:
    from pipeline.context import FlowContext

_LAZY = {"FlowContext": "pipeline.context"}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["ArchiveIncomplete", "FlowContext", "PipelineError", "PushIncomplete"]
