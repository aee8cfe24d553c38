"""Reads of a peer survive refused replies: QueryCounts, LookupRows and feed pages against the real
sandbox servers with the sandbox's own fault kinds.

* each refused-reply kind (malformed, oversized, every XML attack) costs one attempt, is recorded
  in the message log with its own code and logged as a warning, and the read is asked again and
  succeeds;
* a read whose every attempt is refused ends with the named error (peer, operation, attempts,
  last cause);
* writes keep their rule: a refused reply to SubmitCaseRows is not re-sent by the client (the
  outbox keeps the rows pending);
* no legitimate reply can outgrow the limit: 3 years x 6 tables of counts under a 256 KiB limit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator

import pytest

from connectors.errors import MalformedResponse, ResponseTooLarge, XmlAttack
from connectors.feeds import Auth, FeedClient
from connectors.soap import Exchange, ProvinceSoapClient, count_windows, lookup_pages
from contracts.fields import CASE_TABLES
from contracts.wire import COUNTY_FEED_PATH
from sandbox.countyfeed import CountyFeed
from sandbox.data import case_row, case_rows
from sandbox.faults import FaultInjector, FaultPlan
from sandbox.server import RunningServer, start
from tests.connectors.conftest import FAST, Province

pytestmark = pytest.mark.integration

# kind -> (fault spec, the code the message log records for the refused attempt)
REFUSED = {
    "malformed": ("malformed=1", "CONNECTOR_MALFORMED"),
    "oversized": ("oversized=1,oversized_bytes=600000", "CONNECTOR_RESPONSE_TOO_LARGE"),
    "billion_laughs": ("xml_attack=1,attack=billion_laughs", "CONNECTOR_XML_ATTACK"),
    "external_entity": ("xml_attack=1,attack=external_entity", "CONNECTOR_XML_ATTACK"),
    "dtd": ("xml_attack=1,attack=dtd", "CONNECTOR_XML_ATTACK"),
}


def _client(province: Province, log: list[Exchange], **kw: object) -> ProvinceSoapClient:
    timing = dataclasses.replace(FAST, **{"max_response_bytes": 256 * 1024, **kw})  # type: ignore[arg-type]
    return ProvinceSoapClient(province.url, timing=timing, recorder=log.append)


def _seed(province: Province, n: int = 8) -> list[str]:
    rows = list(case_rows(31, "510129", n))
    c = ProvinceSoapClient(province.url, timing=FAST)
    assert all(r.delivered for r in c.submit_rows("seed", rows))
    return [r["row_guid"] for _, r in rows]


def _days(province: Province) -> tuple[str, str]:
    with sqlite3.connect(province.store.path) as conn:
        lo, hi = conn.execute("SELECT min(cd_day), max(cd_day) FROM received").fetchone()
    return str(lo), str(hi)


@pytest.mark.parametrize("kind", list(REFUSED))
@pytest.mark.parametrize("read", ["QueryCounts", "LookupRows"])
def test_a_refused_reply_costs_one_attempt_and_the_read_succeeds(
    province: Province, caplog: pytest.LogCaptureFixture, kind: str, read: str
) -> None:
    guids = _seed(province)
    spec, code = REFUSED[kind]
    province.faults(FaultPlan.parse(spec + ",limit=1"))  # the first request only
    log: list[Exchange] = []
    c = _client(province, log)
    with caplog.at_level(logging.WARNING, logger="tongban.connectors"):
        if read == "QueryCounts":
            got = c.counts(*_days(province))  # one window
            assert sum(got.values()) == len(guids)
        else:
            found = c.lookup([*guids, "no-such-guid"])
            assert all(found[g].found for g in guids) and not found["no-such-guid"].found
    assert [(e.operation, e.attempt, e.error_code) for e in log] == [(read, 1, code), (read, 2, None)]
    warned = [r for r in caplog.records if r.getMessage() == "connector.reply_refused"]
    assert len(warned) == 1 and warned[0].code == code and warned[0].operation == read  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_spent_budget_ends_the_read_with_the_named_error(province: Province, kind: str) -> None:
    spec, code = REFUSED[kind]
    province.faults(FaultPlan.parse(spec))  # every request
    log: list[Exchange] = []
    c = _client(province, log, attempts=3)
    with pytest.raises((MalformedResponse, ResponseTooLarge, XmlAttack)) as info:
        c.query_counts()
    err = info.value
    assert err.code == code and err.attempts == 3 and err.peer == "province"
    assert err.operation == "QueryCounts"
    text = str(err)
    assert "province/QueryCounts" in text and "gave up after 3 attempts" in text and err.message in text
    assert [e.error_code for e in log] == [code] * 3


def test_a_refused_reply_to_a_write_is_not_resent_by_the_client(province: Province) -> None:
    province.faults(FaultPlan.parse("xml_attack=1,attack=dtd"))
    log: list[Exchange] = []
    with pytest.raises(XmlAttack) as info:
        _client(province, log, attempts=3).submit_rows("b", list(case_rows(32, "510129", 1)))
    assert info.value.attempt == 1 and len(log) == 1  # the outbox decides (rows stay pending)


# --- the reply limit: windows and pages ----------------------------------------------------------


def _three_years_of_counts(province: Province) -> dict[tuple[str, str], int]:
    """Load the province directly: every table, every day of 2024-2026, count = day of month."""
    expected: dict[tuple[str, str], int] = {}
    rows = []
    day = dt.date(2024, 1, 1)
    while day <= dt.date(2026, 12, 31):
        for t in CASE_TABLES:
            for k in range(day.day % 3 + 1):
                rows.append((f"{t}-{day}-{k}", t, "P", f"{day}T09:00:00+08:00", day.isoformat(), 0, "{}"))
            expected[(t, day.isoformat())] = day.day % 3 + 1
        day += dt.timedelta(days=1)
    with sqlite3.connect(province.store.path) as conn:
        conn.executemany(
            "INSERT INTO received (row_guid, table_name, project_no, cd_time, cd_day, seq, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return expected


def test_three_years_of_six_tables_are_counted_in_full_under_a_256_kib_limit(province: Province) -> None:
    expected = _three_years_of_counts(province)
    assert len(expected) == 1096 * len(CASE_TABLES)  # 2024 is a leap year
    log: list[Exchange] = []
    c = _client(province, log)
    with pytest.raises(ResponseTooLarge):  # one unbounded question would outgrow the limit
        c.query_counts()
    log.clear()
    assert c.counts("2024-01-01", "2026-12-31") == expected
    assert log and all(e.error_code is None for e in log)
    assert max(len(e.response_bytes) for e in log) <= 256 * 1024


def test_windows_and_pages_fit_the_limit_by_construction() -> None:
    for limit in (16 * 1024, 64 * 1024, 256 * 1024, 16 * 1024 * 1024):
        all_tables, days = count_windows(limit, len(CASE_TABLES))
        entries = days * (len(CASE_TABLES) if all_tables else 1)
        assert 2048 + entries * 320 <= limit
        pages = lookup_pages([f"guid-{i:058d}" for i in range(5000)], limit)
        assert sum(len(p) for p in pages) == 5000
        assert all(2048 + sum(320 + len(g) for g in p) <= limit for p in pages)


def test_a_lookup_larger_than_one_reply_is_paged(province: Province) -> None:
    guids = _seed(province, 20)
    log: list[Exchange] = []
    c = _client(province, log, max_response_bytes=2048 + 5 * (320 + 64))
    found = c.lookup(guids)
    assert all(found[g].found for g in guids) and len(log) == 4  # 5 keys a page


# --- feed pages ---------------------------------------------------------------------------------


@pytest.fixture
def feed() -> Iterator[tuple[FaultInjector, RunningServer]]:
    rows = [{"table": t, **r} for t, r in (case_row(33, "510129", i, region="510129") for i in range(30))]
    injector = FaultInjector(CountyFeed("510129", rows, token="t"), FaultPlan(), soap=False)
    srv = start(injector)
    yield injector, srv
    srv.close()


@pytest.mark.parametrize("kind", ["malformed", "oversized", "billion_laughs"])
def test_a_feed_page_is_asked_again_after_a_refused_reply(
    feed: tuple[FaultInjector, RunningServer], kind: str
) -> None:
    injector, srv = feed
    injector.plan = FaultPlan.parse(REFUSED[kind][0] + ",limit=1,only_post=false")
    injector.__post_init__()
    log: list[Exchange] = []
    timing = dataclasses.replace(FAST, max_response_bytes=256 * 1024)
    client = FeedClient(srv.url, peer="county_510129", auth=Auth("bearer", token="t"), timing=timing)
    client.recorder = log.append
    page = client.page(COUNTY_FEED_PATH, None, 10)
    assert len(page.items) == 10 and page.has_more
    assert [e.attempt for e in log] == [1, 2] and log[0].error_code and log[1].error_code is None
