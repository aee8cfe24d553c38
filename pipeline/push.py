"""Flow 3, push (``case_push_province``): curated rows to the province, exactly once in effect.

1. :func:`enqueue_curated` — accepted case rows (state ``accepted``) are recorded as pending in the
   outbox for the province peer and moved to ``queued`` **in the same transaction**, in acceptance
   order; the outbox is idempotent by ``row_guid``, so a re-run adds nothing.
2. :func:`deliver` — the outbox delivers over the province's SOAP service (batches, rows of one case
   in ``cd_time`` order, per-row receipts, message log), then reconciles with the province's query
   operations and delivers again whatever reconciliation proved missing. Rows the outbox delivered
   become ``pushed`` in the case store. Rows still undelivered when the run ends make the task fail
   (Airflow retries it; nothing is lost or sent twice).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from connectors import outbox
from connectors.delivery import SoapDeliverer
from connectors.models import OutboxRow
from connectors.outbox import OutboxConfig
from connectors.soap import ProvinceSoapClient
from contracts.fields import TABLES
from core.casestore import STATE_ACCEPTED, CaseRow, CaseStore
from pipeline.context import FlowContext
from pipeline.errors import PushIncomplete

STATE_QUEUED, STATE_PUSHED = "queued", "pushed"


def province_peer(ctx: FlowContext) -> str:
    return ctx.settings.pipeline.province_peer


def wire_row(table: str, data: dict[str, Any]) -> dict[str, Any]:
    """The row as the province's contract carries it (the contract's columns, nothing else)."""
    cols = TABLES[table].columns
    return {c: data[c] for c in cols if data.get(c) is not None}


def enqueue_curated(ctx: FlowContext, *, page: int = 2000) -> int:
    peer = province_peer(ctx)
    cases = CaseStore()
    total = 0
    while True:
        with ctx.db.session() as s:
            rows = cases.rows(s, state=STATE_ACCEPTED, limit=page)
            if not rows:
                return total
            total += outbox.enqueue_rows(
                s, peer, [(r.table_name, wire_row(r.table_name, r.row())) for r in rows]
            )
            cases.set_state(s, [r.row_guid for r in rows], STATE_QUEUED)


def province_client(ctx: FlowContext) -> ProvinceSoapClient:
    """The province's SOAP client, from its hook (pool sized for the outbox's concurrency)."""
    hook = ctx.hook(province_peer(ctx), pool=max(2, ctx.settings.peers.outbox_concurrency))
    client: ProvinceSoapClient = hook.get_conn()
    return client


def deliver(ctx: FlowContext, *, kinds: tuple[str, ...] = ("case_row",)) -> dict[str, Any]:
    """Deliver what the outbox holds for the province, reconcile, mark pushed rows."""
    peer = province_peer(ctx)
    cfg = OutboxConfig.from_settings(ctx.settings.peers)
    client = province_client(ctx)
    deliverer = SoapDeliverer(client)
    try:
        report = outbox.deliver(
            ctx.db, peer, deliverer, cfg, max_seconds=ctx.settings.pipeline.push_max_seconds, kinds=kinds
        )
        rec = outbox.reconcile(ctx.db, peer, deliverer)
        if rec.missing_requeued or rec.confirmed:
            again = outbox.deliver(
                ctx.db, peer, deliverer, cfg, max_seconds=ctx.settings.pipeline.push_max_seconds, kinds=kinds
            )
            report.delivered += again.delivered
            report.remaining = again.remaining
    finally:
        if client.recorder is not None:
            client.recorder.flush()  # type: ignore[attr-defined]
        client.close()
    pushed = mark_pushed(ctx) if "case_row" in kinds else 0
    doc = {**report.as_dict(), "reconcile": rec.as_dict(), "marked_pushed": pushed}
    if report.remaining:
        raise PushIncomplete(
            f"{report.remaining} rows for {peer} are still undelivered ({json.dumps(report.errors)}); "
            "the task fails so Airflow retries it"
        )
    return doc


def mark_pushed(ctx: FlowContext, *, page: int = 5000) -> int:
    """Queued case rows the outbox delivered become ``pushed``."""
    peer = province_peer(ctx)
    cases = CaseStore()
    changed = 0
    after = 0
    while True:
        with ctx.db.session() as s:
            rows = s.execute(
                select(CaseRow.id, CaseRow.row_guid)
                .join(OutboxRow, (OutboxRow.row_guid == CaseRow.row_guid) & (OutboxRow.peer == peer))
                .where(CaseRow.state == STATE_QUEUED, OutboxRow.state == "delivered", CaseRow.id > after)
                .order_by(CaseRow.id)
                .limit(page)
            ).all()
            if not rows:
                return changed
            changed += cases.set_state(s, [g for _, g in rows], STATE_PUSHED)
            after = rows[-1][0]
