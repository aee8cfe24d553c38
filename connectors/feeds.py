"""REST feeds of county window systems and department systems (httpx), and the incremental pull.

A feed answers ``GET <path>?cursor=<c>&limit=<n>`` with ``{"items": [{"seq", "row"}],
"next_cursor", "has_more"}`` — the wire contract in ``contracts/wire/county_feed.openapi.json`` and
``department.openapi.json``; the sandbox peers implement it.

:class:`FeedClient` — one ``httpx.Client`` per peer (keep-alive), bearer or HMAC auth, connect/read
timeouts, a bounded reply (streamed, cut at ``max_response_bytes``), retries with backoff on
retryable errors only and the endpoint's circuit breaker (:mod:`connectors.resilience`), every
attempt handed to the message-log recorder. A reply that is not the feed's JSON shape is
:class:`~connectors.errors.MalformedResponse` (retryable: a flaky proxy, not our data).

:func:`pull_county` — the incremental pull of flow 1: page after page from the peer's stored
cursor (``connector_pull_cursor``); each page's rows are mapped to the contract layout
(:func:`connectors.peer_registry.map_row`) and landed in ``connector_inbound`` **in the same
transaction** that advances the cursor. The landing key is the feed position (``seq``), not the
row's ``row_guid``: a county that re-sends a row_guid, or sends a row without one, must still reach
the quality gate. A crash anywhere resumes from the last committed page: no gap, no duplicate.
Failpoints: ``pull.after_fetch`` (page fetched, nothing landed), ``pull.after_land`` (landed and
committed, before the next fetch).

Public API::

    Auth(kind="none"|"bearer"|"hmac", token=, key_id=, secret=)
    Page(items: list[tuple[int, dict]], next_cursor, has_more)
    FeedClient(base_url, *, peer, token=None | auth=Auth(...), timing=None, recorder=None)
    FeedClient.page(path, cursor, limit) -> Page ; .close()
    read_cursor(session, key) -> str | None ; save_cursor(session, key, cursor, rows)
    pull_pages(db, key, client, path, land, *, page_size=500, max_pages=None) -> (pages, rows, cursor)
    pull_county(db, peer, client, mapping, *, page_size=500, max_pages=None) -> PullReport
    inbound_after(db, peer, after_id, limit) -> list[InboundRow]
    release_inbound(session, peer, first_id, last_id) -> int   # payloads a raw batch now holds
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.errors import (
    ConfigurationError,
    MalformedResponse,
    ResponseTooLarge,
    http_status_error,
    translate,
)
from connectors.models import InboundRow, PullCursor
from connectors.peer_registry import FieldMapping, map_row
from connectors.resilience import Timing, breaker_for, call_with_retry
from connectors.soap import Exchange, Recorder
from contracts.wire import COUNTY_FEED_PATH
from core import failpoints
from core.db import Database, insert_ignore, utcnow
from core.sealing import crypt_of, row_key

T = TypeVar("T")

FP_AFTER_FETCH = failpoints.declare("pull.after_fetch", "a page was fetched, nothing landed yet")
FP_AFTER_LAND = failpoints.declare("pull.after_land", "a page landed and the cursor was committed")


@dataclass(frozen=True)
class Auth:
    """How a REST peer authenticates us: ``none``, ``bearer`` (token) or ``hmac`` (key id + secret).

    HMAC: ``X-Key-Id``, ``X-Timestamp`` (Unix seconds) and ``X-Signature`` = hex HMAC-SHA256 of
    ``METHOD\nPATH?QUERY\nTIMESTAMP``, made anew for every attempt.
    """

    kind: str = "none"
    token: str | None = None
    key_id: str | None = None
    secret: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("none", "bearer", "hmac"):
            raise ConfigurationError(f"unknown REST auth {self.kind!r}: none, bearer or hmac")
        if self.kind == "bearer" and not self.token:
            raise ConfigurationError("bearer auth needs a token (the Connection's password or extra.token)")
        if self.kind == "hmac" and not (self.key_id and self.secret):
            raise ConfigurationError("hmac auth needs a key id (login) and a secret (password)")

    def headers(self, method: str, path_qs: str) -> dict[str, str]:
        if self.kind == "bearer":
            return {"Authorization": f"Bearer {self.token}"}
        if self.kind == "hmac":
            ts = str(int(time.time()))
            msg = f"{method}\n{path_qs}\n{ts}".encode()
            sig = hmac.new((self.secret or "").encode(), msg, hashlib.sha256).hexdigest()
            return {"X-Key-Id": self.key_id or "", "X-Timestamp": ts, "X-Signature": sig}
        return {}

    def __repr__(self) -> str:  # never print secrets
        return f"Auth(kind={self.kind!r}, key_id={self.key_id!r})"


@dataclass(frozen=True)
class Page:
    items: list[tuple[int, dict[str, Any]]]
    next_cursor: str
    has_more: bool


class FeedClient:
    """A cursor-paged JSON feed over httpx (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        *,
        peer: str,
        token: str | None = None,
        auth: Auth | None = None,
        timing: Timing | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.peer = peer
        self.timing = timing or Timing()
        self.recorder = recorder
        self.auth = auth or (Auth("bearer", token=token) if token else Auth())
        headers = {"User-Agent": "tongban-connectors", "Accept": "application/json"}
        self.http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(self.timing.read_timeout_s, connect=self.timing.connect_timeout_s),
        )
        self.breaker = breaker_for(f"{peer}:{self.base_url}", self.timing)

    def close(self) -> None:
        self.http.close()

    def _get(
        self, path: str, params: dict[str, Any], n: int, correlation: str, parse: Callable[[bytes], T]
    ) -> T:
        """One attempt: GET, bounded read, then ``parse`` — a reply it refuses is recorded as this
        attempt's error in the message log."""
        ex = Exchange(correlation, self.peer, f"GET {path}", n, dt.datetime.now(dt.UTC))
        path_qs = f"{path}?{urlencode(params)}" if params else path  # exactly what is signed and sent
        ex.request_bytes = path_qs.encode()
        t0 = time.perf_counter()
        body = bytearray()
        try:
            deadline = time.monotonic() + self.timing.read_timeout_s * 2
            headers = self.auth.headers("GET", path_qs)
            with self.http.stream("GET", path_qs, headers=headers) as resp:
                ex.response_code = resp.status_code
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > self.timing.max_response_bytes:
                        raise ResponseTooLarge(
                            f"reply exceeds {self.timing.max_response_bytes} bytes", peer=self.peer
                        )
                    if time.monotonic() > deadline:
                        raise TimeoutError("whole-reply deadline passed")
                if resp.status_code >= 400:  # the body was streamed: build the error from it
                    text = bytes(body[:200]).decode("utf-8", "replace")
                    raise http_status_error(resp.status_code, text, peer=self.peer, operation=f"GET {path}")
            return parse(bytes(body))
        except Exception as exc:
            err = translate(exc, peer=self.peer, operation=f"GET {path}", attempt=n)
            ex.error_code, ex.error = err.code, err.message
            raise err from exc
        finally:
            ex.duration_ms = (time.perf_counter() - t0) * 1000
            ex.response_bytes = bytes(body[:65536])
            if self.recorder is not None:
                self.recorder(ex)

    def page(self, path: str, cursor: str | None, limit: int) -> Page:
        """One page after ``cursor`` (None: from the start), with retries and the breaker."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        correlation = uuid.uuid4().hex

        def attempt(n: int) -> Page:
            return self._get(path, params, n, correlation, lambda body: _parse_page(body, self.peer, path))

        return call_with_retry(  # a feed page is a read: refused replies are asked again
            attempt,
            timing=self.timing,
            breaker=self.breaker,
            peer=self.peer,
            operation=f"GET {path}",
            idempotent=True,
        )


def _parse_page(body: bytes, peer: str, path: str) -> Page:
    try:
        doc = json.loads(body)
        items = [(int(it["seq"]), dict(it["row"])) for it in doc["items"]]
        return Page(items, str(doc["next_cursor"]), bool(doc["has_more"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedResponse(
            f"reply is not a feed page: {body[:80]!r}", peer=peer, operation=f"GET {path}"
        ) from exc


# --- cursors --------------------------------------------------------------------------------------


def read_cursor(session: Session, key: str) -> str | None:
    cur = session.get(PullCursor, key)
    return cur.cursor if cur else None


def save_cursor(session: Session, key: str, cursor: str, rows: int) -> None:
    """Advance the cursor in the caller's transaction (together with what the page landed)."""
    now = utcnow().isoformat(timespec="microseconds")
    cur = session.get(PullCursor, key)
    if cur is None:
        session.add(PullCursor(peer=key, cursor=cursor, rows_total=rows, pages_total=1, updated_at=now))
    else:
        cur.cursor = cursor
        cur.rows_total += rows
        cur.pages_total += 1
        cur.updated_at = now
    session.flush()


# --- the county pull ---------------------------------------------------------------------------


@dataclass
class PullReport:
    peer: str
    pages: int = 0
    rows: int = 0
    landed: int = 0
    cursor: str | None = None
    tables: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


PageLander = Callable[[Session, "str | None", Page], None]


def pull_pages(
    db: Database,
    key: str,
    client: FeedClient,
    path: str,
    land: PageLander,
    *,
    page_size: int = 500,
    max_pages: int | None = None,
) -> tuple[int, int, str | None]:
    """The one cursor-pull loop: page after page from the cursor stored under ``key``; each page is
    handed to ``land(session, cursor_before, page)`` and the cursor advanced **in the same
    transaction**, so a crash resumes from the last committed page with no gap and no duplicate.
    Failpoints ``pull.after_fetch`` and ``pull.after_land``. Returns (pages, rows, cursor)."""
    pages = rows = 0
    with db.session() as s:
        cursor = read_cursor(s, key)
    while max_pages is None or pages < max_pages:
        page = client.page(path, cursor, page_size)
        failpoints.hit(FP_AFTER_FETCH)
        with db.session() as s:
            land(s, cursor, page)
            if page.next_cursor != cursor:
                save_cursor(s, key, page.next_cursor, len(page.items))
        failpoints.hit(FP_AFTER_LAND)
        pages += 1
        rows += len(page.items)
        cursor = page.next_cursor
        if not page.has_more or not page.items:
            break
    return pages, rows, cursor


def pull_county(
    db: Database,
    peer: str,
    client: FeedClient,
    mapping: FieldMapping | None,
    *,
    path: str = COUNTY_FEED_PATH,
    page_size: int = 500,
    max_pages: int | None = None,
) -> PullReport:
    """Pull every new row of one county feed into ``connector_inbound`` (see the module docstring)."""
    rep = PullReport(peer)

    def land(s: Session, cursor: str | None, page: Page) -> None:
        now = utcnow().isoformat(timespec="microseconds")
        values = []
        seal = crypt_of(s).seal
        for seq, raw in page.items:
            table, row = map_row(raw, mapping)
            rep.tables[table or "?"] = rep.tables.get(table or "?", 0) + 1
            values.append(
                {
                    "peer": peer,
                    "row_guid": f"seq:{seq}",
                    "table_name": (table or "?")[:64],
                    "payload": seal(
                        json.dumps(row, ensure_ascii=False, separators=(",", ":")),
                        table="connector_inbound",
                        column="payload",
                        row_key=row_key(peer, f"seq:{seq}"),
                    ),
                    "page_cursor": cursor,
                    "pulled_at": now,
                }
            )
        rep.landed += insert_ignore(s, InboundRow, values, ("peer", "row_guid"))

    rep.pages, rep.rows, rep.cursor = pull_pages(
        db, peer, client, path, land, page_size=page_size, max_pages=max_pages
    )
    return rep


def inbound_after(db: Database, peer: str, after_id: int, limit: int = 1000) -> Sequence[InboundRow]:
    """Landed rows of ``peer`` with an id above ``after_id``, in landing order."""
    with db.session() as s:
        q = (
            select(InboundRow)
            .where(InboundRow.peer == peer, InboundRow.id > after_id)
            .order_by(InboundRow.id)
            .limit(limit)
        )
        return list(s.scalars(q))


def release_inbound(session: Session, peer: str, first_id: int, last_id: int) -> int:
    """Drop the payloads of ``peer``'s landed rows ``first_id..last_id`` (a raw batch holds them
    now); call it in the transaction that records the batch. Returns how many were released."""
    res = session.execute(
        update(InboundRow)
        .where(
            InboundRow.peer == peer,
            InboundRow.id >= first_id,
            InboundRow.id <= last_id,
            InboundRow.payload.is_not(None),
        )
        .values(payload=None)
    )
    return int(getattr(res, "rowcount", 0) or 0)
