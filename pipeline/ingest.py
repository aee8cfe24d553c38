"""Flow 1, case intake (``county_cases_ingest``): one county at a time.

1. :func:`pull` — the incremental pull of the county's feed into ``connector_inbound`` (cursor
   and rows in one transaction per page; :func:`connectors.feeds.pull_county`), fields mapped from
   the vendor's layout by the peer registry.
2. :func:`cut_raw_batches` — landed rows after the county's last raw batch are cut into batches of
   ``settings.pipeline.raw_batch_rows``, each stored in the object store's ``raw`` zone (encrypted,
   content-addressed) and recorded in ``flow_raw_batches`` with the inbound-id range it covers.
   The next cut starts after the recorded range, so a re-run cuts nothing twice; a crash between
   the store put and the record leaves an object the next run puts again (same bytes, same key).
   The same transaction that records the batch releases the landed rows' payloads
   (:func:`connectors.feeds.release_inbound`): from then on the raw object is the row's one copy
   outside ``case_rows``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from connectors.feeds import FeedClient, inbound_after, pull_county, release_inbound
from core.db import utcnow
from core.store import Zone
from pipeline.context import FlowContext
from pipeline.errors import PipelineError
from pipeline.models import RawBatch

CONTENT_JSONL = "application/x-ndjson"


@dataclass
class IngestReport:
    peer: str
    pulled: int = 0
    pages: int = 0
    batches: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"peer": self.peer, "pulled": self.pulled, "pages": self.pages, "batches": self.batches}


def county_ids(ctx: FlowContext) -> list[str]:
    """The counties of the peer registry (what the ingest DAG maps over)."""
    return [p.id for p in ctx.peers.peers("county")]


def pull(ctx: FlowContext, peer_id: str) -> dict[str, Any]:
    hook = ctx.hook(peer_id)
    client: FeedClient = hook.get_conn()
    try:
        report = pull_county(
            ctx.db,
            peer_id,
            client,
            ctx.peers.mapping_for(peer_id),
            page_size=ctx.settings.pipeline.pull_page_rows,
        )
    finally:
        hook.recorder.flush()  # type: ignore[union-attr]
        client.close()
    return report.as_dict()


def cut_raw_batches(ctx: FlowContext, peer_id: str) -> list[dict[str, Any]]:
    size = max(1, ctx.settings.pipeline.raw_batch_rows)
    out: list[dict[str, Any]] = []
    while True:
        with ctx.db.session() as s:
            last = s.scalar(select(func.max(RawBatch.last_inbound_id)).where(RawBatch.peer == peer_id)) or 0
        rows = inbound_after(ctx.db, peer_id, int(last), limit=size)
        if not rows:
            return out
        missing = [r.id for r in rows if r.payload is None]
        if missing:  # only a hand-edited database gets here: a batch after them was never recorded
            raise PipelineError(
                f"{peer_id}: landed rows {missing[:5]} have no payload but no raw batch holds them",
                code="PIPELINE_INBOUND_RELEASED",
            )
        data = "".join(f"{r.payload}\n" for r in rows).encode("utf-8")
        first, final = rows[0].id, rows[-1].id
        name = f"{peer_id}-{first:09d}-{final:09d}.jsonl"
        ref = ctx.store.put(
            Zone.RAW, data, content_type=CONTENT_JSONL, source=peer_id, schema_version="case-v1"
        )
        digest = hashlib.sha256(data).hexdigest()
        with ctx.db.session() as s:
            s.add(
                RawBatch(
                    batch_hash=digest,
                    peer=peer_id,
                    name=name,
                    object_key=ref.key,
                    rows=len(rows),
                    first_inbound_id=first,
                    last_inbound_id=final,
                    created_at=utcnow().isoformat(timespec="microseconds"),
                )
            )
            release_inbound(s, peer_id, first, final)
        out.append({"batch_hash": digest, "name": name, "rows": len(rows), "key": ref.key})


def ingest_county(ctx: FlowContext, peer_id: str) -> dict[str, Any]:
    """Pull one county and cut its new rows into raw batches; the report as a dict (for XCom)."""
    pulled = pull(ctx, peer_id)
    rep = IngestReport(peer_id, pulled=int(pulled["rows"]), pages=int(pulled["pages"]))
    rep.batches = cut_raw_batches(ctx, peer_id)
    return rep.as_dict()
