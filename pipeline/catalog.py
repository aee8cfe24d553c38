"""Flow 5, publish (the DAG ``license_catalog_sync``, and the last task of ``license_issue`` and
``department_results_inbound``): the
domain events ``license.issued`` and ``license.status_changed`` that the license registry records
in the same transaction as the change are copied into the outbox (event cursor per peer) and
delivered to the province's catalog operation, exactly once in effect and in order per license.
"""

from __future__ import annotations

from typing import Any

from connectors import outbox
from pipeline.context import FlowContext
from pipeline.push import deliver, province_peer

CATALOG_KINDS = ("license.issued", "license.status_changed")


def publish(ctx: FlowContext) -> dict[str, Any]:
    peer = province_peer(ctx)
    enqueued = 0
    while True:
        n = outbox.enqueue_events(ctx.db, peer, kinds=CATALOG_KINDS, limit=1000)
        enqueued += n
        if n == 0:
            break
    report = deliver(ctx, kinds=("event",))
    return {"enqueued": enqueued, "delivered": report["delivered"], "remaining": report["remaining"]}
