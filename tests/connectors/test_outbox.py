"""Outbox rules on SQLite and PostgreSQL: per-case order, dead letters block their case until replay or
release, fencing tokens, reconciliation repairs a row the peer lost, domain events are delivered,
and the message log keeps only redacted, capped bodies."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

from connectors.messagelog import MessageLogWriter, recent, redact_body
from connectors.outbox import (
    OutboxConfig,
    claim,
    deliver,
    deliver_batch,
    enqueue_events,
    enqueue_rows,
    list_rows,
    reconcile,
    release,
    replay,
    summary,
)
from connectors.soap import Receipt
from core.db import Database
from core.events import record_event
from sandbox.data import case_rows

CFG = OutboxConfig(
    batch_rows=7, batch_bytes=1 << 20, concurrency=1, lease_s=30, max_attempts=3, retry_delay_s=0.0
)


class FakePeer:
    """An in-memory peer with the province's promises (dedup by key, reject -> skip the case's later rows)."""

    peer = "p"

    def __init__(self, reject: set[str] | None = None) -> None:
        self.reject = reject or set()
        self.held: dict[str, str] = {}
        self.log: list[str] = []
        self.events: list[dict[str, str]] = []

    def send_rows(
        self, batch_id: str, rows: Sequence[tuple[str, dict[str, Any]]], token: int
    ) -> list[Receipt]:
        out, bad = [], set()
        for _, r in rows:
            g, case = r["row_guid"], r["project_no"]
            if case in bad:
                out.append(Receipt(g, "skipped"))
            elif g in self.reject:
                bad.add(case)
                out.append(Receipt(g, "rejected", "bad row"))
            elif g in self.held:
                out.append(Receipt(g, "duplicate"))
            else:
                self.held[g] = r["cd_time"]
                self.log.append(g)
                out.append(Receipt(g, "stored"))
        return out

    def send_events(self, batch_id: str, events: Sequence[dict[str, str]], token: int) -> list[Receipt]:
        self.events.extend(events)
        return [Receipt(e["event_id"], "stored") for e in events]

    def lookup(self, keys: Sequence[str], kind: str) -> set[str]:
        pool = set(self.held) | {e["event_id"] for e in self.events}
        return {k for k in keys if k in pool}

    def counts(self, day_from: str, day_to: str) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for g, t in self.held.items():
            if not day_from <= t[:10] <= day_to:
                continue
            key = (self.tables[g], t[:10])
            out[key] = out.get(key, 0) + 1
        return out

    tables: ClassVar[dict[str, str]] = {}


def _rows(n: int) -> list[tuple[str, dict[str, Any]]]:
    rows = list(case_rows(21, "510129", n))
    FakePeer.tables = {r["row_guid"]: t for t, r in rows}
    return rows


def test_dead_letter_blocks_its_case_until_replayed(db: Database) -> None:
    rows = _rows(10)  # two cases
    with db.session() as s:
        enqueue_rows(s, "p", list(reversed(rows)))
    bad = rows[1][1]["row_guid"]
    peer = FakePeer(reject={bad})
    rep = deliver(db, "p", peer, CFG, max_seconds=20)
    assert rep.rejected == 1 and rep.remaining == 0  # blocked rows are not open work
    assert summary(db, "p")["p"] == {"delivered": 6, "dead": 1, "pending": 3}
    assert set(peer.log) == {rows[0][1]["row_guid"]} | {r["row_guid"] for _, r in rows[5:]}
    dead = list_rows(db, peer="p", state="dead")
    assert dead[0]["last_error"] == "bad row" and dead[0]["last_code"] == "PEER_REJECTED"
    peer.reject.clear()
    assert replay(db, dead[0]["id"])
    deliver(db, "p", peer, CFG, max_seconds=20)
    assert summary(db, "p")["p"] == {"delivered": 10}
    order = [g for g in peer.log if g in {r["row_guid"] for _, r in rows[:5]}]
    assert order == [r["row_guid"] for _, r in rows[:5]]  # the case in cd_time order


def test_release_unblocks_the_rest_of_the_case(db: Database) -> None:
    rows = _rows(5)
    with db.session() as s:
        enqueue_rows(s, "p", rows)
    peer = FakePeer(reject={rows[2][1]["row_guid"]})
    deliver(db, "p", peer, CFG, max_seconds=20)
    dead = list_rows(db, peer="p", state="dead")[0]
    assert release(db, dead["id"], "duplicate of a corrected row")
    deliver(db, "p", peer, CFG, max_seconds=20)
    assert summary(db, "p")["p"] == {"delivered": 4, "released": 1}


def test_stale_worker_cannot_mark_over_a_newer_claim(db: Database) -> None:
    rows = _rows(5)
    with db.session() as s:
        enqueue_rows(s, "p", rows)
    short = dataclasses.replace(CFG, lease_s=0.0)
    stale = claim(db, "p", short)
    assert stale is not None
    fresh = claim(db, "p", CFG)  # the lease ran out: a new worker takes the case over
    assert fresh is not None and fresh.token > stale.token
    peer = FakePeer()
    res = deliver_batch(db, stale, peer, CFG)
    assert res.fenced == 5 and res.delivered == 5  # the peer got them, but our marks were refused
    assert summary(db, "p")["p"] == {"inflight": 5}
    res2 = deliver_batch(db, fresh, peer, CFG)
    assert res2.fenced == 0 and summary(db, "p")["p"] == {"delivered": 5}
    assert len(peer.log) == 5  # the stale send was a duplicate, nothing twice


def test_reconcile_confirms_lost_receipts_and_requeues_rows_the_peer_lost(db: Database) -> None:
    rows = _rows(10)
    with db.session() as s:
        enqueue_rows(s, "p", rows)
    peer = FakePeer()
    batch = claim(db, "p", CFG)
    assert batch is not None
    peer.send_rows(batch.batch_id, [(r.table, r.data) for r in batch.rows], batch.token)  # reply "lost"
    deliver(db, "p", FakePeer(), dataclasses.replace(CFG, batch_rows=0), max_seconds=0.01)  # nothing
    rep = reconcile(db, "p", peer)
    assert rep.confirmed == 0  # still inside their lease: not touched
    with db.session() as s:
        s.execute(__import__("sqlalchemy").text("UPDATE connector_outbox SET lease_until = 0"))
    rep = reconcile(db, "p", peer)
    assert rep.confirmed == len(batch.rows)
    deliver(db, "p", peer, CFG, max_seconds=20)
    lost = rows[3][1]["row_guid"]
    del peer.held[lost]  # the province lost a delivered row
    rep = reconcile(db, "p", peer)
    assert rep.missing_requeued == 1 and not rep.agree
    deliver(db, "p", peer, CFG, max_seconds=20)
    assert reconcile(db, "p", peer).agree and lost in peer.held


def test_domain_events_are_delivered_once(db: Database) -> None:
    with db.session() as s:
        record_event(s, "license.issued", "license", "L1", {"status": "01"})
        record_event(s, "license.status_changed", "license", "L1", {"status": "02"})
    assert enqueue_events(db, "p") == 2
    assert enqueue_events(db, "p") == 0  # cursor moved
    peer = FakePeer()
    deliver(db, "p", peer, CFG, max_seconds=20)
    assert [e["kind"] for e in peer.events] == ["license.issued", "license.status_changed"]
    assert summary(db, "p")["p"] == {"delivered": 2}


def test_message_log_redacts_and_caps_bodies(db: Database) -> None:
    import datetime as dt

    from connectors.soap import Exchange

    body = ("<applyer_id>510129199001011238</applyer_id>" + "x" * 5000).encode()
    w = MessageLogWriter(db, body_cap=200, flush_every=1)
    w(Exchange("c1", "p", "SubmitCaseRows", 1, dt.datetime.now(dt.UTC), 3.0, body, b"<ok/>", 200, rows=1))
    rec = recent(db, "p")[0]
    assert "510129199001011238" not in (rec.request_body or "")
    assert "5101**********1238" in (rec.request_body or "")
    assert len(rec.request_body or "") < 260 and rec.request_size == len(body)
    assert rec.payload_sha256 and rec.correlation_id == "c1" and rec.response_code == 200
    assert redact_body(body, 0) is None
