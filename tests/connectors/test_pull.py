"""Acceptance: incremental pull of county rows (one county in the other vendor's layout) with a crash
in the middle: no gap, no duplicate, fields mapped. CI: 3,000 rows per county; slow: 50,000 in all."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.pull import current_cursor, inbound_count, inbound_rows, pull_county
from connectors.registry import VENDOR_B_MAPPING, PeerConfig, parse_registry
from connectors.rest import Auth, RestClient
from core import failpoints
from core.db import Database
from migrations import runner
from sandbox.county import CountyFeed
from sandbox.data import case_row
from sandbox.server import RunningServer, start
from tests.connectors.conftest import FAST

pytestmark = pytest.mark.integration

REGISTRY = {
    "peers": [
        {
            "name": "county-510129",
            "kind": "county",
            "conn_id": "c1",
            "protocol": "rest",
            "region_code": "510129",
        },
        {
            "name": "county-511825",
            "kind": "county",
            "conn_id": "c2",
            "protocol": "rest",
            "region_code": "511825",
            "mapping": "vendor_b",
        },
    ],
    "mappings": {"vendor_b": VENDOR_B_MAPPING},
}


@pytest.fixture
def counties(request: pytest.FixtureRequest) -> Iterator[dict[str, tuple[CountyFeed, RunningServer]]]:
    n = getattr(request, "param", 3000)
    out = {}
    for name, region, layout in (
        ("county-510129", "510129", "standard"),
        ("county-511825", "511825", "vendor_b"),
    ):
        feed = CountyFeed(region, n, seed=9, layout=layout)
        out[name] = (feed, start(feed))
    yield out
    for _, srv in out.values():
        srv.close()


def _pull_child(url: str, base: str, peer_name: str, page: int, failpoint: str | None) -> None:
    os.environ.pop("TONGBAN_FAILPOINTS", None)
    failpoints.disable()
    if failpoint:
        os.environ["TONGBAN_FAILPOINTS"] = failpoint
    peer = parse_registry(REGISTRY).get(peer_name)
    client = RestClient(base, peer=peer.name, auth=Auth("bearer", token="county-token"), timing=FAST)
    pull_county(Database(url), peer, client, page_size=page)
    os._exit(0)


def _run(url: str, base: str, peer: str, page: int, failpoint: str | None) -> int:
    p = multiprocessing.get_context("fork").Process(
        target=_pull_child, args=(url, base, peer, page, failpoint)
    )
    p.start()
    p.join(300)
    return int(p.exitcode or 0)


def _check(db: Database, peer: PeerConfig, feed: CountyFeed) -> None:
    assert inbound_count(db, peer.name) == feed.count  # no gap, no duplicate (unique per row_guid)
    seen = 0
    for _, table, row in inbound_rows(db, peer.name, limit=feed.count + 1):
        exp_table, expected = case_row(feed.seed, feed.source, seen, region=feed.source)
        assert table == exp_table
        assert row == {k: v for k, v in expected.items()}  # every field mapped back to the contract
        seen += 1
    assert seen == feed.count


def _drill(counties, tmp_path: Path, page: int) -> dict[str, int]:
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    runner.upgrade(url)
    db = Database(url)
    reg = parse_registry(REGISTRY)
    requests = {}
    for name, (feed, srv) in counties.items():
        peer = reg.get(name)
        # crash in the middle: after fetching page 3 (before its commit), then after committing page 5
        assert _run(url, srv.url, name, page, "pull.after_fetch_before_commit=3*crash") == 137
        assert current_cursor(db, name) is not None
        assert _run(url, srv.url, name, page, "pull.after_commit=5*crash") == 137
        assert _run(url, srv.url, name, page, None) == 0
        _check(db, peer, feed)
        requests[name] = feed.requests
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
    db = Database(url)
    feed, srv = counties["county-511825"]
    peer = parse_registry(REGISTRY).get("county-511825")
    client = RestClient(srv.url, peer=peer.name, auth=Auth("bearer", token="county-token"), timing=FAST)
    first = pull_county(db, peer, client, page_size=500, max_pages=2)
    assert first.rows == 1000
    rest = pull_county(db, peer, client, page_size=500)
    assert rest.rows == 2000 and rest.new_rows == 2000
    again = pull_county(db, peer, client, page_size=500)
    assert again.rows == 0
    _check(db, peer, feed)
