"""Flow 2, quality (``case_quality``): validate every raw batch the gate has not seen, oldest first.

The input is found through the database: ``flow_raw_batches`` rows with no ``case_batches``
record. Order matters — a child held in one batch is released when its parent arrives in a later
one — so batches go through the gate in the order they were cut. The gate itself is idempotent by
batch hash (a replay returns the stored outcome and changes nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from core.casestore import BatchRecord
from core.store import Zone
from pipeline.context import FlowContext
from pipeline.models import RawBatch


def pending_batches(ctx: FlowContext) -> list[RawBatch]:
    with ctx.db.session() as s:
        q = (
            select(RawBatch)
            .outerjoin(BatchRecord, BatchRecord.batch_hash == RawBatch.batch_hash)
            .where(BatchRecord.batch_hash.is_(None))
            .order_by(RawBatch.id)
        )
        return list(s.scalars(q))


def validate_pending(
    ctx: FlowContext, *, on_batch: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run the gate over the pending raw batches; counts of this run (replays count nothing)."""
    from quality.gate import Batch

    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    reports: list[str] = []
    for rb in pending_batches(ctx):
        data = ctx.store.get_bytes(Zone.RAW, rb.object_key, max_size=1024 * 1024 * 1024)
        outcome = ctx.gate.validate_batch(Batch(data, name=rb.name, source=rb.peer))
        doc = outcome.cli_dict()
        if not outcome.replayed:
            totals["batches"] += 1
            for k in ("rows", "valid", "held", "invalid", "released", "released_quarantined", "expired"):
                totals[k] += int(doc.get(k) or 0)
            reasons.update(outcome.reasons)
            if outcome.report:
                reports.append(outcome.report)
        if on_batch is not None:
            on_batch({"name": rb.name, **{k: doc[k] for k in ("rows", "valid", "held", "invalid")}})
    return {**dict(totals), "reasons": dict(reasons), "reports": reports}
