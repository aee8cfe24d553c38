"""Acceptance: incremental pull of county rows (one county in the other vendor's layout) with a crash
in the middle: no gap, no duplicate, fields mapped. CI: 3,000 rows per county; slow: 50,000 in all.

The pull is the pipeline's own (``connectors.feeds.pull_county`` over ``FeedClient``), against the
sandbox county window systems on loopback, with the peer registry's mappings."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.feeds import Auth, FeedClient, inbound_after, pull_county, read_cursor
from connectors.peer_registry import load_registry, map_row
from contracts.wire import COUNTY_FEED_PATH as FEED_PATH
from core import failpoints
from core.db import Database
from migrations import runner
from sandbox.countyfeed import CountyFeed
from sandbox.data import case_row
from sandbox.server import RunningServer, start
from tests.connectors.conftest import FAST
from tests.crypt import sealed_database

pytestmark = pytest.mark.integration

TOKEN = "county-token"
SEED = 9
COUNTIES = {"county_510129": ("510129", "standard"), "county_511825": ("511825", "vendor_b")}


def _rows(region: str, n: int) -> list[dict[str, object]]:
    return [{"table": t, **row} for t, row in (case_row(SEED, region, i, region=region) for i in range(n))]


@pytest.fixture
def counties(request: pytest.FixtureRequest) -> Iterator[dict[str, tuple[CountyFeed, RunningServer]]]:
    n = getattr(request, "param", 3000)
    out = {}
    for peer, (region, layout) in COUNTIES.items():
        feed = CountyFeed(region, _rows(region, n), layout=layout, token=TOKEN)
        out[peer] = (feed, start(feed))
    yield out
    for _, srv in out.values():
        srv.close()


def _client(base: str, peer: str) -> FeedClient:
    return FeedClient(base, peer=peer, auth=Auth("bearer", token=TOKEN), timing=FAST)


def _pull_child(url: str, base: str, peer: str, page: int, failpoint: str | None) -> None:
    os.environ.pop("TONGBAN_FAILPOINTS", None)
    failpoints.disable()
    if failpoint:
        os.environ["TONGBAN_FAILPOINTS"] = failpoint
    mapping = load_registry().mapping_for(peer)
    pull_county(sealed_database(url), peer, _client(base, peer), mapping, path=FEED_PATH, page_size=page)
    os._exit(0)


def _run(url: str, base: str, peer: str, page: int, failpoint: str | None) -> int:
    # spawned, not forked: the sandbox counties' server threads run in this process (see drill.py)
    p = multiprocessing.get_context("spawn").Process(
        target=_pull_child, args=(url, base, peer, page, failpoint)
    )
    p.start()
    p.join(300)
    return int(p.exitcode or 0)


def _check(db: Database, peer: str, feed: CountyFeed) -> None:
    region = COUNTIES[peer][0]
    landed = list(inbound_after(db, peer, 0, limit=len(feed) + 1))
    assert len(landed) == len(feed)  # no gap ...
    assert [r.row_guid for r in landed] == [
        f"seq:{i}" for i in range(len(feed))
    ]  # ... no duplicate, in order
    for i, row in enumerate(landed):
        exp_table, expected = case_row(SEED, region, i, region=region)
        assert row.table_name == exp_table
        assert json.loads(row.payload or "null") == {"table": exp_table, **expected}  # all mapped back


def _drill(
    counties: dict[str, tuple[CountyFeed, RunningServer]], tmp_path: Path, page: int
) -> dict[str, int]:
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    runner.upgrade(url)
    db = sealed_database(url)
    requests = {}
    for peer, (feed, srv) in counties.items():
        # crash in the middle: after fetching page 3 (before it lands), then after landing page 5
        assert _run(url, srv.url, peer, page, "pull.after_fetch=3*crash") == 137
        with db.session() as s:
            assert read_cursor(s, peer) is not None
        assert _run(url, srv.url, peer, page, "pull.after_land=5*crash") == 137
        assert _run(url, srv.url, peer, page, None) == 0
        _check(db, peer, feed)
        requests[peer] = feed.requests
    db.dispose()
    return requests


def test_pull_with_crash_in_the_middle_no_gap_no_duplicate(counties, tmp_path: Path) -> None:
    requests = _drill(counties, tmp_path, page=250)
    # refetches only the page lost in the first crash: 12 pages + 1 (+ the final empty check)
    for n in requests.values():
        assert n <= 3000 // 250 + 2


@pytest.mark.slow
@pytest.mark.parametrize("counties", [25_000], indirect=True)
def test_pull_50000_rows(counties, tmp_path: Path) -> None:
    print(_drill(counties, tmp_path, page=1000))


def test_resumes_from_cursor_in_process(counties, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    runner.upgrade(url)
    db = sealed_database(url)
    feed, srv = counties["county_511825"]
    mapping = load_registry().mapping_for("county_511825")
    assert mapping is not None  # the other vendor's layout
    client = _client(srv.url, "county_511825")
    first = pull_county(db, "county_511825", client, mapping, path=FEED_PATH, page_size=500, max_pages=2)
    assert first.rows == 1000
    rest = pull_county(db, "county_511825", client, mapping, path=FEED_PATH, page_size=500)
    assert rest.rows == 2000 and rest.landed == 2000
    again = pull_county(db, "county_511825", client, mapping, path=FEED_PATH, page_size=500)
    assert again.rows == 0 and again.landed == 0
    _check(db, "county_511825", feed)
    # the mapping is the registry's, and it is what turned the vendor's names back into ours
    raw = feed.page(0, 1)["items"][0]["row"]
    assert "SBLSH" in raw and map_row(raw, mapping)[1]["project_no"] == raw["SBLSH"]
