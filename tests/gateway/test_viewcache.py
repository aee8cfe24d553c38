"""The per-worker license view cache: hits skip the registry, status events from any process evict,
staleness stays bounded when the watcher cannot read, and a read racing an eviction is not kept."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from core.db import Database
from core.events import record_event
from core.runtime import open_database
from core.settings import Settings
from gateway.licensing import LicensesAdapter
from gateway.ports import CopyRequest, LicensePort, LicenseView
from gateway.viewcache import CachedLicensePort, EventCursor
from tests.crypt import sealed_database
from tests.gateway.conftest import Issued


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingPort(LicensePort):
    """A registry stand-in that counts reads and can pause inside one."""

    def __init__(self) -> None:
        self.reads = 0
        self.status = "01"
        self.inside: threading.Event | None = None
        self.release: threading.Event | None = None

    def get(self, license_id: str) -> LicenseView | None:
        self.reads += 1
        status = self.status
        if self.inside is not None and self.release is not None:
            self.inside.set()
            assert self.release.wait(10)
        if license_id == "missing":
            return None
        return LicenseView(license_id, "T", "营业执照", "N1", "局", "D", "2026-01-01", status, "有效")

    def find_by_holder(self, code_type: str, code: str, type_code: str | None = None) -> list[LicenseView]:
        return []

    def check_verify_code(self, license_id: str, code: str) -> bool:
        return False

    def make_copy(self, request: CopyRequest) -> bytes:
        return b""

    def verify(self, pdf: bytes, *, as_dept: str | None, at: Any = None) -> dict[str, Any]:
        return {}

    def change_status(self, license_id: str, action: str, reason: str, *, actor: str) -> LicenseView:
        self.status = "03"
        view = self.get(license_id)
        assert view is not None
        return view


def _status_event(db: Database, license_id: str) -> None:
    """What the registry records when any process changes a license's status."""
    with db.session() as s:
        record_event(s, "license.status_changed", "license", license_id, {"license_id": license_id})


def _cache(db: Database, inner: LicensePort, clock: Clock) -> CachedLicensePort:
    cache = CachedLicensePort(inner, db, refresh_s=0.2, clock=clock)
    cache.refresh_once()  # what the watcher thread does first
    return cache


def test_hits_are_served_from_memory_and_misses_are_never_cached(db: Database) -> None:
    inner, clock = CountingPort(), Clock()
    cache = _cache(db, inner, clock)
    assert cache.get("L1") is not None and cache.get("L1") is not None
    assert inner.reads == 1
    assert cache.cached("L1")[0] is True
    assert cache.get("missing") is None and cache.get("missing") is None
    assert inner.reads == 3  # an unknown license is asked for every time (it may be issued any moment)


def test_a_status_event_from_another_process_evicts(db: Database) -> None:
    inner, clock = CountingPort(), Clock()
    cache = _cache(db, inner, clock)
    assert cache.get("L1").status == "01"  # type: ignore[union-attr]
    assert cache.get("L2") is not None
    inner.status = "03"
    _status_event(db, "L1")  # committed by someone else: the CLI, another worker
    assert cache.get("L1").status == "01"  # type: ignore[union-attr]  # not seen yet
    assert cache.refresh_once() == 1
    assert cache.get("L1").status == "03"  # type: ignore[union-attr]
    assert cache.cached("L2")[0] is True  # other licenses stay cached


def test_the_worker_that_changes_a_status_sees_it_at_once(db: Database) -> None:
    inner, clock = CountingPort(), Clock()
    cache = _cache(db, inner, clock)
    assert cache.get("L1").status == "01"  # type: ignore[union-attr]
    cache.change_status("L1", "revoke", "test", actor="t")
    assert cache.get("L1").status == "03"  # type: ignore[union-attr]


def test_a_watcher_that_cannot_read_events_turns_the_cache_off(db: Database) -> None:
    inner, clock = CountingPort(), Clock()
    cache = _cache(db, inner, clock)
    cache.get("L1")
    clock.now += cache.stale_after_s + 0.01  # no successful read of the events since
    assert cache.cached("L1") == (False, None)
    cache.get("L1")
    cache.get("L1")
    assert inner.reads == 3  # straight to the registry, and nothing stored while unwatched
    cache.refresh_once()
    cache.get("L1")
    assert cache.cached("L1")[0] is True


def test_entries_expire_after_max_age(db: Database) -> None:
    inner, clock = CountingPort(), Clock()
    cache = CachedLicensePort(inner, db, refresh_s=0.2, max_age_s=5.0, clock=clock)
    cache.refresh_once()
    cache.get("L1")
    clock.now += 5.1
    cache.refresh_once()
    assert cache.cached("L1") == (False, None)


def test_a_read_that_raced_an_eviction_is_not_kept(db: Database) -> None:
    inner, clock = CountingPort(), Clock()
    cache = _cache(db, inner, clock)
    inner.inside, inner.release = threading.Event(), threading.Event()
    result: list[LicenseView | None] = []
    reader = threading.Thread(target=lambda: result.append(cache.get("L1")))
    reader.start()
    assert inner.inside.wait(10)  # the reader holds the old status ...
    inner.status = "03"
    _status_event(db, "L1")  # ... when the change commits and the watcher sees it
    cache.refresh_once()
    inner.release.set()
    reader.join(10)
    assert result[0] is not None and result[0].status == "01"  # that answer was already on its way
    inner.inside = inner.release = None
    assert cache.cached("L1") == (False, None)  # but it was not cached
    assert cache.get("L1").status == "03"  # type: ignore[union-attr]


def test_bounded_size_drops_the_least_recently_used(db: Database) -> None:
    inner, clock = CountingPort(), Clock()
    cache = CachedLicensePort(inner, db, refresh_s=0.2, max_entries=2, clock=clock)
    cache.refresh_once()
    cache.get("A")
    cache.get("B")
    cache.get("A")  # A is now the most recent
    cache.get("C")
    assert len(cache) == 2
    assert cache.cached("A")[0] and cache.cached("C")[0] and not cache.cached("B")[0]


def test_cursor_waits_for_ids_committed_out_of_order_then_gives_up() -> None:
    clock = Clock()
    cur = EventCursor(10, gap_timeout_s=30, clock=clock)
    cur.read([11, 12, 14, 15])
    assert cur.top == 15 and set(cur.gaps) == {13}
    cur.read([13])  # the slower transaction committed: its id appears late
    assert cur.gaps == {}
    cur.read([18])
    assert set(cur.gaps) == {16, 17}
    clock.now += 30
    cur.read([])  # rolled back: never appears
    assert cur.gaps == {}


@pytest.mark.pg
def test_a_late_committing_event_below_the_top_still_evicts(pg_url: str) -> None:
    """Event ids are taken before commit: a change whose id is below ones already read is not lost.

    PostgreSQL only: SQLite has one writer at a time, so its ids always commit in order.
    """
    db = sealed_database(pg_url)
    inner, clock = CountingPort(), Clock()
    cache = _cache(db, inner, clock)
    cache.get("L1")
    # two transactions take ids; the later one commits first
    with db.session() as late:
        record_event(late, "license.status_changed", "license", "L1", {})  # id n, not committed
        with db.session() as early:
            record_event(early, "case.pushed", "case", "X", {})  # id n+1
        cache.refresh_once()  # sees n+1, notes the gap at n
        assert cache.cached("L1")[0] is True
        assert cache._cursor is not None and cache._cursor.gaps
    cache.refresh_once()  # n committed: the gap fills and L1 goes
    assert cache.cached("L1") == (False, None)
    db.dispose()


def test_real_registry_revocation_through_the_adapter(gw_settings: Settings, issued: Issued) -> None:
    from licenses import open_registry

    db = open_database(gw_settings)
    try:
        clock = Clock()
        cache = CachedLicensePort(LicensesAdapter(gw_settings, db), db, clock=clock)
        cache.refresh_once()
        assert cache.get(issued.biz_h2).status == "01"  # type: ignore[union-attr]
        # another process (the CLI, say) revokes it through the registry
        other = open_database(gw_settings)
        open_registry(gw_settings, db=other).transition(issued.biz_h2, "revoke", reason="测试吊销")
        other.dispose()
        assert cache.refresh_once() == 1
        view = cache.get(issued.biz_h2)
        assert view is not None and view.status == "07"  # 吊销
    finally:
        cache.close()
        db.dispose()


@pytest.mark.anyio
async def test_the_cache_is_on_in_the_api_and_shows_in_metrics(make_gateway, issued: Issued) -> None:
    from tests.gateway.conftest import PURPOSE

    gw = await make_gateway()
    port = gw.services.licenses
    assert isinstance(port, CachedLicensePort)
    port.close()  # the watcher thread stops: the test drives the refreshes, so a loaded machine
    port.stale_after_s = 3600.0  # cannot make a slow refresh turn the cache off between the calls
    port.refresh_once()
    headers = await gw.auth(gw.add_client())
    params = {"purpose": PURPOSE, "use_cause": "核对信息"}
    for _ in range(3):
        r = await gw.client.get(f"/v1/licenses/{issued.biz_h1}", params=params, headers=headers)
        assert r.status_code == 200 and r.json()["license"]["status"] == "01"
    text = (await gw.client.get("/metrics")).text
    assert "tongban_license_cache_misses_total 1.0" in text
    assert "tongban_license_cache_hits_total 2.0" in text
    assert "tongban_license_cache_healthy 1.0" in text
    assert "tongban_license_cache_entries 1.0" in text
