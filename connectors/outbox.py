"""The delivery outbox: exactly-once in effect over at-least-once transports.

How a row travels::

    enqueue_rows()  pending ──claim()──▶ inflight(token, lease) ──receipt stored|duplicate──▶ delivered
                       ▲                     │  └─receipt rejected──▶ dead (reason) ──replay()──▶ pending
                       │                     │                               └─release()──▶ released
                       └──transport error────┘ (not_before = now + backoff; dead after max_attempts)

Rules that make it safe:

1. **Idempotency key**: a row is recorded (pending) with its ``row_guid`` before anything is sent;
   the peer de-duplicates by it, so a resend after a crash or a lost reply is harmless.
2. **Receipts per row**: a row is delivered only when the peer's receipt for that row says
   ``stored`` or ``duplicate``.
3. **Order per case**: a claim takes, for each case (``project_no``), its undelivered rows in
   ``cd_time`` order from the earliest one; a case with a row in flight under a live lease is not
   claimable; a ``dead`` row blocks the later rows of its case until replayed or released. So a row
   is only ever sent in a request that also carries every earlier undelivered row of its case —
   no retry, stale worker or rejection can let a later row overtake.
4. **Fencing**: every claim bumps the peer's token; marks are conditional on the claim's token, so a
   worker whose lease ran out (Airflow gave up on it) cannot mark or release rows a newer claim
   owns. What it may still send is a duplicate the peer ignores (rule 1, and rule 3 keeps order).
5. **Our record is authoritative**: delivered rows are never sent again (exchange tables are
   emptied by the province's ETL) unless :func:`reconcile` proves a row missing at the peer.

The outbox also carries core's domain events (license issued, status changed): :func:`enqueue_events`
copies them (key ``event_id``, ordered per aggregate) and they travel through the same states.

Failpoints (``core.failpoints``): ``outbox.after_claim``, ``outbox.after_send_before_mark``,
``outbox.after_mark``, ``outbox.after_release``, ``outbox.after_enqueue_events``.

Why one module of this length: every transition of one table's state machine (enqueue, claim, mark,
release, deliver, reconcile, the operator verbs) is here, because exactly-once is checked by reading
them side by side.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from connectors.errors import CircuitOpen, ConnectorError, translate
from connectors.models import EventCursor, OutboxRow
from connectors.soap import Receipt
from core import failpoints
from core.db import Database, insert_ignore, utcnow
from core.events import events_after
from core.sealing import crypt_of, row_key, seal_value
from core.settings import PeerSettings

FP_AFTER_CLAIM = failpoints.declare("outbox.after_claim", "rows claimed (inflight), nothing sent yet")
FP_AFTER_SEND = failpoints.declare(
    "outbox.after_send_before_mark", "the peer holds the rows, our outbox does not know yet"
)
FP_AFTER_MARK = failpoints.declare("outbox.after_mark", "receipts recorded, before the next claim")
FP_AFTER_RELEASE = failpoints.declare("outbox.after_release", "a failed batch was released for retry")
FP_AFTER_ENQUEUE_EVENTS = failpoints.declare(
    "outbox.after_enqueue_events", "domain events enqueued, event cursor committed"
)

DELIVERED = ("stored", "duplicate")


class Deliverer(Protocol):
    """What the outbox needs from a transport (SOAP client, exchange-table writer)."""

    peer: str

    def send_rows(
        self, batch_id: str, rows: Sequence[tuple[str, dict[str, Any]]], token: int
    ) -> list[Receipt]: ...

    def send_events(self, batch_id: str, events: Sequence[dict[str, str]], token: int) -> list[Receipt]: ...

    def lookup(self, keys: Sequence[str], kind: str) -> set[str]: ...

    def counts(self, day_from: str, day_to: str) -> dict[tuple[str, str], int]:
        """Rows the peer holds per (table, cd_time day), for the days in [day_from, day_to]."""
        ...


@dataclass(frozen=True)
class OutboxConfig:
    batch_rows: int = 500
    batch_bytes: int = 2 * 1024 * 1024
    concurrency: int = 2
    lease_s: float = 60.0
    max_attempts: int = 25
    retry_delay_s: float = 1.0

    @classmethod
    def from_settings(cls, peers: PeerSettings) -> OutboxConfig:
        k = peers.time_scale
        return cls(
            batch_rows=peers.outbox_batch_rows,
            batch_bytes=peers.outbox_batch_bytes,
            concurrency=max(1, peers.outbox_concurrency),
            lease_s=peers.outbox_lease_s * k,
            max_attempts=peers.outbox_max_attempts,
            retry_delay_s=peers.outbox_retry_delay_s * k,
        )


@dataclass
class ClaimedRow:
    id: int
    row_guid: str
    table: str
    project_no: str
    cd_time: str
    data: dict[str, Any]


@dataclass
class Batch:
    peer: str
    kind: str
    token: int
    batch_id: str
    rows: list[ClaimedRow]


@dataclass
class BatchResult:
    batch_id: str
    rows: int
    delivered: int = 0
    rejected: int = 0
    skipped: int = 0
    fenced: int = 0
    error: str | None = None


@dataclass
class DeliveryReport:
    peer: str
    batches: int = 0
    delivered: int = 0
    rejected: int = 0
    failed_batches: int = 0
    fenced: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    remaining: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# --- enqueue ----------------------------------------------------------------------------------


def enqueue_rows(
    session: Session, peer: str, rows: Iterable[tuple[str, dict[str, Any]]], *, chunk: int = 1000
) -> int:
    """Record case rows as pending for ``peer`` in the caller's transaction (idempotent by row_guid).

    Returns how many were new. Call it in the same transaction that makes the rows curated.
    """
    now = utcnow().isoformat(timespec="microseconds")
    total = 0
    buf: list[dict[str, Any]] = []
    seal = crypt_of(session).seal

    def flush() -> int:
        if not buf:
            return 0
        n = insert_ignore(session, OutboxRow, buf, ("peer", "row_guid"), fast=True)
        buf.clear()
        return int(n)

    for table, row in rows:
        payload = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        guid = str(row["row_guid"])
        buf.append(
            {
                "peer": peer,
                "kind": "case_row",
                "row_guid": guid,
                "table_name": table,
                "project_no": str(row["project_no"]),
                "cd_time": str(row["cd_time"]),
                "payload": seal(
                    payload, table="connector_outbox", column="payload", row_key=row_key(peer, guid)
                ),
                "size_bytes": len(payload.encode("utf-8")),
                "state": "pending",
                "attempts": 0,
                "not_before": 0.0,
                "created_at": now,
            }
        )
        if len(buf) >= chunk:
            total += flush()
    total += flush()
    return total


def enqueue_events(db: Database, peer: str, *, kinds: Sequence[str] | None = None, limit: int = 1000) -> int:
    """Copy core's domain events recorded after this peer's event cursor into the outbox."""
    with db.session() as s:
        cur = s.get(EventCursor, peer)
        after = cur.last_event_id if cur else 0
        evs = events_after(s, after, kinds=kinds, limit=limit)
        if not evs:
            return 0
        now = utcnow().isoformat(timespec="microseconds")
        values = []
        for ev in evs:
            body = {
                "event_id": ev.event_id,
                "kind": ev.kind,
                "aggregate_id": f"{ev.aggregate_type}:{ev.aggregate_id}",
                "occurred_at": ev.created_at,
                "payload": ev.payload,
            }
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            values.append(
                {
                    "peer": peer,
                    "kind": "event",
                    "row_guid": ev.event_id,
                    "table_name": ev.kind[:64],
                    "project_no": f"event:{ev.aggregate_type}:{ev.aggregate_id}"[:200],
                    "cd_time": f"{ev.id:020d}",  # event order within an aggregate
                    "payload": seal_value(s, payload, "connector_outbox", "payload", peer, ev.event_id),
                    "size_bytes": len(payload.encode()),
                    "state": "pending",
                    "attempts": 0,
                    "not_before": 0.0,
                    "created_at": now,
                }
            )
        n = insert_ignore(s, OutboxRow, values, ("peer", "row_guid"))
        if cur is None:
            s.add(EventCursor(peer=peer, last_event_id=evs[-1].id))
        else:
            cur.last_event_id = evs[-1].id
    failpoints.hit(FP_AFTER_ENQUEUE_EVENTS)
    return n


# --- claim ------------------------------------------------------------------------------------


def _bump_fence(s: Session, peer: str) -> int:
    token = s.execute(
        text(
            "INSERT INTO connector_fence (peer, token) VALUES (:p, 1) "
            "ON CONFLICT (peer) DO UPDATE SET token = connector_fence.token + 1 RETURNING token"
        ),
        {"p": peer},
    ).scalar_one()
    return int(token)


_CANDIDATES = text(
    "SELECT project_no FROM connector_outbox WHERE peer = :p AND kind = :k AND "
    "((state = 'pending' AND not_before <= :now) OR (state = 'inflight' AND lease_until < :now)) "
    "ORDER BY id LIMIT :n"
)
_CASE_ROWS = text(
    "SELECT id, row_guid, table_name, project_no, cd_time, state, lease_until, not_before, size_bytes, "
    "payload FROM connector_outbox WHERE peer = :p AND kind = :k AND project_no IN :keys "
    "AND state IN ('pending', 'inflight', 'dead') ORDER BY project_no, cd_time, id"
).bindparams(bindparam("keys", expanding=True))


def claim(
    db: Database, peer: str, cfg: OutboxConfig, *, kind: str = "case_row", now: float | None = None
) -> Batch | None:
    """Claim the next batch for ``peer`` under a new fencing token and a lease (None: nothing to do)."""
    now = time.time() if now is None else now
    with db.session() as s:
        token = _bump_fence(s, peer)
        keys: list[str] = []
        seen: set[str] = set()
        for (k,) in s.execute(_CANDIDATES, {"p": peer, "k": kind, "now": now, "n": cfg.batch_rows * 2}):
            if k not in seen:
                seen.add(k)
                keys.append(k)
        if not keys:
            return None
        by_case: dict[str, list[Any]] = {}
        for r in s.execute(_CASE_ROWS, {"p": peer, "k": kind, "keys": keys}):
            by_case.setdefault(r.project_no, []).append(r)
        chosen: list[Any] = []
        size = 0
        for k in keys:
            take: list[Any] = []
            for r in by_case.get(k, []):
                if r.state == "dead":
                    break  # blocks the rest of its case
                if r.state == "inflight" and (r.lease_until or 0) >= now:
                    take = []  # someone owns this case right now
                    break
                if r.state == "pending" and r.not_before > now:
                    break  # waiting out its backoff: later rows wait too
                take.append(r)
            for r in take:
                if chosen and (len(chosen) >= cfg.batch_rows or size + r.size_bytes > cfg.batch_bytes):
                    break
                chosen.append(r)
                size += r.size_bytes
            if len(chosen) >= cfg.batch_rows or size >= cfg.batch_bytes:
                break
        if not chosen:
            return None
        ids = [r.id for r in chosen]
        s.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids))
            .values(
                state="inflight",
                claim_token=token,
                lease_until=now + cfg.lease_s,
                attempts=OutboxRow.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        crypt = crypt_of(s)
        opened = [
            json.loads(
                crypt.open(
                    r.payload, table="connector_outbox", column="payload", row_key=row_key(peer, r.row_guid)
                )
            )
            for r in chosen
        ]
    batch = Batch(
        peer,
        kind,
        token,
        f"{peer}-{token}-{uuid.uuid4().hex[:8]}",
        [
            ClaimedRow(r.id, r.row_guid, r.table_name, r.project_no, r.cd_time, doc)
            for r, doc in zip(chosen, opened, strict=True)
        ],
    )
    failpoints.hit(FP_AFTER_CLAIM)
    return batch


# --- deliver ----------------------------------------------------------------------------------


def _mark(db: Database, batch: Batch, receipts: list[Receipt]) -> BatchResult:
    res = BatchResult(batch.batch_id, len(batch.rows))
    now_iso = utcnow().isoformat(timespec="microseconds")
    groups: dict[tuple[str, str], list[int]] = {}
    for row, rc in zip(batch.rows, receipts, strict=True):
        groups.setdefault((rc.status, rc.reason), []).append(row.id)
    changed = 0
    with db.session() as s:
        for (status, reason), ids in groups.items():
            where = (
                OutboxRow.id.in_(ids),
                OutboxRow.claim_token == batch.token,
                OutboxRow.state == "inflight",
            )
            if status in DELIVERED:
                values: dict[str, Any] = {"state": "delivered", "receipt": status, "delivered_at": now_iso}
                values.update(lease_until=None, last_code=None, last_error=None)
                res.delivered += len(ids)
            elif status == "rejected":
                values = {
                    "state": "dead",
                    "receipt": status,
                    "last_code": "PEER_REJECTED",
                    "last_error": reason,
                }
                res.rejected += len(ids)
            else:  # skipped: an earlier row of its case was rejected in this request
                values = {"state": "pending", "receipt": status, "not_before": 0.0, "lease_until": None}
                res.skipped += len(ids)
            stmt = (
                update(OutboxRow).where(*where).values(**values).execution_options(synchronize_session=False)
            )
            changed += _rowcount(s.execute(stmt))
    res.fenced = len(batch.rows) - changed
    return res


def _release(db: Database, batch: Batch, err: ConnectorError, cfg: OutboxConfig) -> None:
    ids = [r.id for r in batch.rows]
    with db.session() as s:
        attempts = s.execute(select(func.max(OutboxRow.attempts)).where(OutboxRow.id.in_(ids))).scalar() or 1
        delay = min(cfg.retry_delay_s * (2 ** min(int(attempts) - 1, 6)), cfg.retry_delay_s * 64)
        not_before = time.time() + random.uniform(delay / 2, delay)  # noqa: S311 - jitter
        base = (OutboxRow.id.in_(ids), OutboxRow.claim_token == batch.token, OutboxRow.state == "inflight")
        msg = str(err)[:2000]
        s.execute(
            update(OutboxRow)
            .where(*base, OutboxRow.attempts >= cfg.max_attempts)
            .values(
                state="dead",
                last_code=err.code,
                last_error=f"gave up after {cfg.max_attempts} attempts: {msg}",
            )
            .execution_options(synchronize_session=False)
        )
        values: dict[str, Any] = {
            "state": "pending",
            "not_before": not_before,
            "lease_until": None,
            "last_code": err.code,
            "last_error": msg,
        }
        if isinstance(err, CircuitOpen):  # nothing was sent: the attempt does not count
            values["attempts"] = OutboxRow.attempts - 1
        s.execute(
            update(OutboxRow).where(*base).values(**values).execution_options(synchronize_session=False)
        )
    failpoints.hit(FP_AFTER_RELEASE)


def deliver_batch(db: Database, batch: Batch, deliverer: Deliverer, cfg: OutboxConfig) -> BatchResult:
    """Send one claimed batch and record the per-row receipts (or release it on failure)."""
    try:
        if batch.kind == "event":
            receipts = deliverer.send_events(batch.batch_id, [r.data for r in batch.rows], batch.token)
        else:
            receipts = deliverer.send_rows(
                batch.batch_id, [(r.table, r.data) for r in batch.rows], batch.token
            )
        if len(receipts) != len(batch.rows):
            raise translate(
                ValueError(f"{len(receipts)} receipts for {len(batch.rows)} rows"), peer=batch.peer
            )
    except Exception as exc:
        err = translate(exc, peer=batch.peer, operation="deliver")
        _release(db, batch, err, cfg)
        return BatchResult(batch.batch_id, len(batch.rows), error=err.code)
    failpoints.hit(FP_AFTER_SEND)
    result = _mark(db, batch, receipts)
    failpoints.hit(FP_AFTER_MARK)
    return result


def open_work(db: Database, peer: str) -> int:
    """Rows that still need delivery (pending or in flight, not blocked behind a dead row)."""
    q = text(
        "SELECT COUNT(*) FROM connector_outbox o WHERE o.peer = :p AND o.state IN ('pending', 'inflight') "
        "AND NOT EXISTS (SELECT 1 FROM connector_outbox d WHERE d.peer = o.peer "
        "AND d.project_no = o.project_no AND d.state = 'dead')"
    )
    with db.session() as s:
        return int(s.execute(q, {"p": peer}).scalar_one())


def deliver(
    db: Database,
    peer: str,
    deliverer: Deliverer,
    cfg: OutboxConfig,
    *,
    max_seconds: float = 600.0,
    kinds: Sequence[str] = ("case_row", "event"),
    idle_sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Deliver until nothing is left to send (or ``max_seconds``), ``cfg.concurrency`` batches at a time."""
    report = DeliveryReport(peer)
    lock = threading.Lock()
    t0 = time.monotonic()
    stop = threading.Event()

    def worker() -> None:
        idle_rounds = 0
        while not stop.is_set() and time.monotonic() - t0 < max_seconds:
            batch = None
            for kind in kinds:
                batch = claim(db, peer, cfg, kind=kind)
                if batch is not None:
                    break
            if batch is None:
                if open_work(db, peer) == 0:
                    idle_rounds += 1
                    if idle_rounds >= 2:
                        return
                idle_sleep(min(0.05, max(cfg.retry_delay_s / 4, 0.002)))
                continue
            idle_rounds = 0
            res = deliver_batch(db, batch, deliverer, cfg)
            if res.error == CircuitOpen.code:
                idle_sleep(max(cfg.retry_delay_s, 0.01))  # the endpoint is resting: do not spin
            with lock:
                report.batches += 1
                report.delivered += res.delivered
                report.rejected += res.rejected
                report.fenced += res.fenced
                if res.error:
                    report.failed_batches += 1
                    report.errors[res.error] = report.errors.get(res.error, 0) + 1

    with ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix=f"outbox-{peer}") as pool:
        futures = [pool.submit(worker) for _ in range(cfg.concurrency)]
        try:
            for f in futures:
                f.result()
        finally:
            stop.set()
    report.seconds = time.monotonic() - t0
    report.remaining = open_work(db, peer)
    return report


# --- reconcile --------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    peer: str
    confirmed: int = 0  # unconfirmed rows the peer turned out to hold -> delivered
    missing_requeued: int = 0  # delivered rows the peer proved not to hold -> pending again
    ours: dict[str, int] = field(default_factory=dict)  # "table|day" -> delivered count
    theirs: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["agree"] = self.agree
        return d


def delivered_day_span(db: Database, peer: str) -> tuple[str, str] | None:
    """The first and last ``cd_time`` day of the case rows delivered to ``peer`` (None: none yet)."""
    day = func.substr(OutboxRow.cd_time, 1, 10)
    with db.session() as s:
        lo, hi = s.execute(
            select(func.min(day), func.max(day)).where(
                OutboxRow.peer == peer, OutboxRow.kind == "case_row", OutboxRow.state == "delivered"
            )
        ).one()
    return (str(lo), str(hi)) if lo and hi else None


def reconcile(
    db: Database, peer: str, deliverer: Deliverer, *, repair: bool = True, chunk: int = 1000
) -> ReconcileReport:
    """Compare what the peer holds with our record and repair the difference.

    1. Rows we sent but never got a receipt for (pending/expired in flight with attempts > 0):
       looked up by key; those the peer holds become delivered (receipt ``reconciled``).
    2. Delivered case rows per table and cd_time day against the peer's counts (asked for the span
       of days we delivered, in windows the peer's replies fit); where the peer
       holds fewer, the delivered keys of that table/day are looked up and the ones it lacks go
       back to pending (the only case in which a delivered row is sent again).
    """
    rep = ReconcileReport(peer)
    now = time.time()
    with db.session() as s:
        unconfirmed = s.execute(
            select(OutboxRow.id, OutboxRow.row_guid, OutboxRow.kind).where(
                OutboxRow.peer == peer,
                OutboxRow.attempts > 0,
                (OutboxRow.state == "pending")
                | ((OutboxRow.state == "inflight") & (OutboxRow.lease_until < now)),
            )
        ).all()
    for kind in ("case_row", "event"):
        rows = [(i, g) for i, g, k in unconfirmed if k == kind]
        for i in range(0, len(rows), chunk):
            part = rows[i : i + chunk]
            held = deliverer.lookup([g for _, g in part], kind)
            ids = [rid for rid, g in part if g in held]
            if ids and repair:
                with db.session() as s:
                    stmt = (
                        update(OutboxRow)
                        .where(OutboxRow.id.in_(ids), OutboxRow.state.in_(("pending", "inflight")))
                        .values(
                            state="delivered",
                            receipt="reconciled",
                            delivered_at=utcnow().isoformat(),
                            lease_until=None,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    rep.confirmed += _rowcount(s.execute(stmt))
    day = func.substr(OutboxRow.cd_time, 1, 10)
    with db.session() as s:
        for t, d, n in s.execute(
            select(OutboxRow.table_name, day, func.count())
            .where(OutboxRow.peer == peer, OutboxRow.kind == "case_row", OutboxRow.state == "delivered")
            .group_by(OutboxRow.table_name, day)
        ):
            rep.ours[f"{t}|{d}"] = int(n)
    days = sorted({k.split("|", 1)[1] for k in rep.ours})
    theirs = deliverer.counts(days[0], days[-1]) if days else {}
    rep.theirs = {f"{t}|{d}": n for (t, d), n in theirs.items()}
    for key in sorted(set(rep.ours) | set(rep.theirs)):
        a, b = rep.ours.get(key, 0), rep.theirs.get(key, 0)
        if a != b:
            rep.mismatches.append(f"{key}: ours {a}, peer {b}")
            if repair and b < a:
                table, d = key.split("|", 1)
                with db.session() as s:
                    cand = s.execute(
                        select(OutboxRow.id, OutboxRow.row_guid).where(
                            OutboxRow.peer == peer,
                            OutboxRow.kind == "case_row",
                            OutboxRow.state == "delivered",
                            OutboxRow.table_name == table,
                            day == d,
                        )
                    ).all()
                held = set()
                for i in range(0, len(cand), chunk):
                    held |= deliverer.lookup([g for _, g in cand[i : i + chunk]], "case_row")
                missing = [rid for rid, g in cand if g not in held]
                if missing:
                    with db.session() as s:
                        s.execute(
                            update(OutboxRow)
                            .where(OutboxRow.id.in_(missing))
                            .values(
                                state="pending",
                                receipt=None,
                                not_before=0.0,
                                last_code="MISSING_AT_PEER",
                                last_error="reconciliation: the peer does not hold this delivered row",
                            )
                            .execution_options(synchronize_session=False)
                        )
                    rep.missing_requeued += len(missing)
    return rep


# --- operator verbs ---------------------------------------------------------------------------


def list_rows(
    db: Database, *, peer: str | None = None, state: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    with db.session() as s:
        q = select(OutboxRow).order_by(OutboxRow.id).limit(limit)
        if peer:
            q = q.where(OutboxRow.peer == peer)
        if state:
            q = q.where(OutboxRow.state == state)
        return [
            {
                "id": r.id,
                "peer": r.peer,
                "kind": r.kind,
                "row_guid": r.row_guid,
                "table": r.table_name,
                "project_no": r.project_no,
                "cd_time": r.cd_time,
                "state": r.state,
                "attempts": r.attempts,
                "last_code": r.last_code,
                "last_error": r.last_error,
                "receipt": r.receipt,
            }
            for r in s.scalars(q)
        ]


def summary(db: Database, peer: str | None = None) -> dict[str, dict[str, int]]:
    with db.session() as s:
        q = select(OutboxRow.peer, OutboxRow.state, func.count()).group_by(OutboxRow.peer, OutboxRow.state)
        if peer:
            q = q.where(OutboxRow.peer == peer)
        out: dict[str, dict[str, int]] = {}
        for p, st, n in s.execute(q):
            out.setdefault(p, {})[st] = int(n)
        return out


def replay(db: Database, row_id: int) -> bool:
    """Put a dead (or released) row back to pending with fresh attempts; its case unblocks."""
    with db.session() as s:
        n = _rowcount(
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.state.in_(("dead", "released")))
                .values(state="pending", attempts=0, not_before=0.0, claim_token=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
        )
    return bool(n)


def release(db: Database, row_id: int, reason: str) -> bool:
    """Give up on a dead row (kept, marked released with the reason); later rows of its case flow."""
    with db.session() as s:
        n = _rowcount(
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.state == "dead")
                .values(state="released", last_error=f"released: {reason}")
                .execution_options(synchronize_session=False)
            )
        )
    return bool(n)
