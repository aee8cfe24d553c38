"""Per-worker cache of license views, invalidated by the registry's domain events.

A metadata lookup is the API's hottest call, and a license's metadata changes only when its status
does. :class:`CachedLicensePort` wraps a :class:`~gateway.ports.LicensePort` and keeps the views it
has read in memory; a watcher thread reads the ``domain_events`` table every ``refresh_s`` seconds
and evicts every license named by a ``license.*`` event (a status change made by any process: the
CLI, another worker, the pipeline). Staleness is therefore bounded:

* a status change committed at *t* is seen by every worker by about *t* + ``refresh_s``;
* the worker that made the change evicts at once;
* if the watcher cannot read the events (database down, slow), the cache is bypassed as soon as its
  last good read is older than ``stale_after_s`` — it never serves from an unwatched cache;
* an entry also expires after ``max_age_s`` whatever happens, and the cache holds at most
  ``max_entries`` views (least recently used go first).

Event ids are allocated before commit, so on PostgreSQL a later id can become visible before an
earlier one. The watcher (:class:`EventCursor`) remembers the ids it skipped over; a gap is asked
for again until it fills (the transaction committed) or ``gap_timeout_s`` passes (it rolled back).

A read that raced an eviction is not stored: every eviction bumps a generation counter, and a view
read from the database is cached only if no eviction happened while it was being read. Unknown
licenses are never cached, so a license issued a moment ago is found at once. Verification,
copies and status changes always go to the registry itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from core.db import Database
from core.events import DomainEvent
from gateway.ports import CopyRequest, LicensePort, LicenseView

log = logging.getLogger(__name__)

LICENSE_EVENT_PREFIX = "license."


class EventCursor:
    """Which domain events have been read: everything up to ``top``, except the open ``gaps``.

    A gap is an id below ``top`` that was not visible when ``top`` passed it: a transaction that
    took its id earlier and has not committed yet. Gaps are asked for again on every read until they
    appear or ``gap_timeout_s`` passes (a rolled-back transaction's id never appears).
    """

    MAX_GAPS = 10_000

    def __init__(self, top: int, *, gap_timeout_s: float, clock: Callable[[], float]) -> None:
        self.top = top
        self.gap_timeout_s = gap_timeout_s
        self.clock = clock
        self.gaps: dict[int, float] = {}  # missing id -> when first noticed

    def read(self, ids: list[int]) -> None:
        """Record the ids just read (new ones above ``top`` and filled gaps), in any order."""
        now = self.clock()
        for i in sorted(ids):
            if i > self.top:
                for missing in range(self.top + 1, i):
                    self.gaps.setdefault(missing, now)
                self.top = i
            else:
                self.gaps.pop(i, None)
        for gap, since in list(self.gaps.items()):
            if now - since >= self.gap_timeout_s:
                del self.gaps[gap]
        while len(self.gaps) > self.MAX_GAPS:  # oldest first: a flood of rolled-back ids
            del self.gaps[min(self.gaps)]


class CachedLicensePort(LicensePort):
    """A :class:`LicensePort` whose ``get`` is served from memory while the watcher is healthy."""

    LOOKBACK = 1000  # event ids re-read at start-up, in case some were still uncommitted

    def __init__(
        self,
        inner: LicensePort,
        db: Database,
        *,
        refresh_s: float = 0.2,
        stale_after_s: float | None = None,
        max_age_s: float = 60.0,
        max_entries: int = 20_000,
        gap_timeout_s: float = 30.0,
        batch: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.db = db
        self.refresh_s = refresh_s
        self.stale_after_s = stale_after_s if stale_after_s is not None else max(1.0, 5 * refresh_s)
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self.gap_timeout_s = gap_timeout_s
        self.batch = batch
        self.clock = clock
        self.stats = {"hits": 0, "misses": 0, "evictions": 0, "refreshes": 0, "refresh_errors": 0}
        self._views: OrderedDict[str, tuple[float, LicenseView]] = OrderedDict()
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._generation = 0
        self._cursor: EventCursor | None = None
        self._last_refresh = float("-inf")
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- the watcher ----------------------------------------------------------------------------
    def start(self) -> CachedLicensePort:
        """Start the watcher thread (idempotent). Until its first read the cache is not used."""
        with self._lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._watch, name="license-view-cache", daemon=True)
                self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(5.0)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh_once()
            except Exception as exc:  # logged, and the cache goes unused until a read succeeds
                self.stats["refresh_errors"] += 1
                log.warning("license view cache: cannot read domain events (%s: %s)", type(exc).__name__, exc)
            self._stop.wait(self.refresh_s)

    def refresh_once(self) -> int:
        """Read new domain events and evict the licenses they name; returns how many were evicted."""
        with self._refresh_lock:  # the watcher thread, or a caller that wants it now
            return self._refresh()

    def _refresh(self) -> int:
        cols = (DomainEvent.id, DomainEvent.kind, DomainEvent.aggregate_id)
        with self.db.session() as s:
            if self._cursor is None:
                top = int(s.scalar(select(func.coalesce(func.max(DomainEvent.id), 0))) or 0)
                # ids in flight at start-up: look back over a window so its gaps are watched too
                self._cursor = EventCursor(
                    max(0, top - self.LOOKBACK), gap_timeout_s=self.gap_timeout_s, clock=self.clock
                )
            cursor = self._cursor
            rows = list(
                s.execute(
                    select(*cols)
                    .where(DomainEvent.id > cursor.top)
                    .order_by(DomainEvent.id)
                    .limit(self.batch)
                )
            )
            if cursor.gaps:
                rows += list(s.execute(select(*cols).where(DomainEvent.id.in_(sorted(cursor.gaps)[:1000]))))
        ids = {a for _i, k, a in rows if k.startswith(LICENSE_EVENT_PREFIX)}
        evicted = self._evict_many(ids) if ids else 0
        cursor.read([i for i, _k, _a in rows])
        self._last_refresh = self.clock()
        self.stats["refreshes"] += 1
        return evicted

    @property
    def healthy(self) -> bool:
        """Whether the watcher read the events recently enough to trust the cache."""
        return self.clock() - self._last_refresh <= self.stale_after_s

    # -- the cache ------------------------------------------------------------------------------
    def _evict_many(self, license_ids: set[str]) -> int:
        with self._lock:
            self._generation += 1
            n = 0
            for lid in license_ids:
                if self._views.pop(lid, None) is not None:
                    n += 1
        self.stats["evictions"] += n
        return n

    def evict(self, license_id: str) -> None:
        self._evict_many({license_id})

    def cached(self, license_id: str) -> tuple[bool, LicenseView | None]:
        """``(hit, view)`` from memory only: never touches the database (safe on the event loop)."""
        if not self.healthy:
            return False, None
        now = self.clock()
        with self._lock:
            entry = self._views.get(license_id)
            if entry is None or now - entry[0] > self.max_age_s:
                return False, None
            self._views.move_to_end(license_id)
        self.stats["hits"] += 1
        return True, entry[1]

    def get(self, license_id: str) -> LicenseView | None:
        hit, view = self.cached(license_id)
        if hit:
            return view
        self.stats["misses"] += 1
        generation = self._generation
        view = self.inner.get(license_id)
        if view is not None and self.healthy:
            with self._lock:
                if generation == self._generation:  # no eviction raced this read
                    self._views[license_id] = (self.clock(), view)
                    self._views.move_to_end(license_id)
                    while len(self._views) > self.max_entries:
                        self._views.popitem(last=False)
        return view

    def __len__(self) -> int:
        return len(self._views)

    # -- everything else goes to the registry ---------------------------------------------------
    def find_by_holder(self, code_type: str, code: str, type_code: str | None = None) -> list[LicenseView]:
        return self.inner.find_by_holder(code_type, code, type_code)

    def check_verify_code(self, license_id: str, code: str) -> bool:
        return self.inner.check_verify_code(license_id, code)

    def make_copy(self, request: CopyRequest) -> bytes:
        return self.inner.make_copy(request)

    def verify(self, pdf: bytes, *, as_dept: str | None, at: datetime | None = None) -> dict[str, Any]:
        return self.inner.verify(pdf, as_dept=as_dept, at=at)

    def change_status(self, license_id: str, action: str, reason: str, *, actor: str) -> LicenseView:
        try:
            return self.inner.change_status(license_id, action, reason, actor=actor)
        finally:
            self.evict(license_id)
