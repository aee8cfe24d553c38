"""Incremental pull from county window systems: cursor per county, no gap, no duplicate.

One page at a time: fetch the page after the stored cursor, map every row to the contract (the
peer's declarative mapping), then in **one transaction** land the rows in ``connector_inbound``
(unique per peer and row_guid) and move the cursor to the page's ``next_cursor``. A crash before
that commit leaves the old cursor (the page is fetched again; nothing landed twice); a crash after
it leaves the new one (nothing fetched twice). Downstream (quality, object store) reads the landed
rows by id.

Failpoints: ``pull.after_fetch_before_commit``, ``pull.after_commit``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from connectors.errors import MalformedResponse
from connectors.models import InboundRow, PullCursor
from connectors.outbox import insert_ignore
from connectors.registry import PeerConfig
from connectors.rest import RestClient
from core import failpoints
from core.db import Database, utcnow

FP_AFTER_FETCH = failpoints.declare(
    "pull.after_fetch_before_commit", "a page is fetched and mapped, cursor and rows not committed"
)
FP_AFTER_COMMIT = failpoints.declare("pull.after_commit", "a page and its cursor are committed")


@dataclass
class PullReport:
    peer: str
    pages: int = 0
    rows: int = 0
    new_rows: int = 0
    unmapped: list[str] = field(default_factory=list)
    cursor: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def current_cursor(db: Database, peer: str) -> str | None:
    with db.session() as s:
        cur = s.get(PullCursor, peer)
        return cur.cursor if cur else None


def pull_county(
    db: Database, peer: PeerConfig, client: RestClient, *, page_size: int = 500, max_pages: int | None = None
) -> PullReport:
    """Pull every page after the stored cursor of ``peer`` (or ``max_pages`` of them)."""
    rep = PullReport(peer.name)
    cursor = current_cursor(db, peer.name)
    while max_pages is None or rep.pages < max_pages:
        page = client.page(peer.path, cursor, page_size)
        now = utcnow().isoformat(timespec="microseconds")
        values = []
        for raw in page.rows:
            try:
                table, row = peer.map_row(raw)
            except (ValueError, TypeError) as exc:
                raise MalformedResponse(
                    f"row of {peer.name} does not map to the contract: {exc}",
                    peer=peer.name,
                    operation="pull",
                ) from exc
            values.append(
                {
                    "peer": peer.name,
                    "row_guid": str(row["row_guid"]),
                    "table_name": table,
                    "payload": json.dumps(row, ensure_ascii=False, separators=(",", ":")),
                    "page_cursor": cursor,
                    "pulled_at": now,
                }
            )
        failpoints.hit(FP_AFTER_FETCH)
        with db.session() as s:
            if values:
                rep.new_rows += insert_ignore(s, "connector_inbound", values, ("peer", "row_guid"))
            cur = s.get(PullCursor, peer.name)
            if cur is None:
                cur = PullCursor(peer=peer.name, rows_total=0, pages_total=0, updated_at=now)
                s.add(cur)
            cur.cursor = page.next_cursor
            cur.rows_total += len(values)
            cur.pages_total += 1
            cur.updated_at = now
        failpoints.hit(FP_AFTER_COMMIT)
        rep.pages += 1
        rep.rows += len(values)
        cursor = page.next_cursor
        if not page.has_more:
            break
    rep.cursor = cursor
    return rep


def inbound_rows(
    db: Database, peer: str, after_id: int = 0, limit: int = 1000
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Landed rows of ``peer`` after ``after_id``: (id, table, row)."""
    with db.session() as s:
        q = (
            select(InboundRow)
            .where(InboundRow.peer == peer, InboundRow.id > after_id)
            .order_by(InboundRow.id)
            .limit(limit)
        )
        for r in s.scalars(q):
            yield r.id, r.table_name, json.loads(r.payload)


def inbound_count(db: Database, peer: str) -> int:
    with db.session() as s:
        q = select(func.count()).select_from(InboundRow).where(InboundRow.peer == peer)
        return int(s.execute(q).scalar_one())
