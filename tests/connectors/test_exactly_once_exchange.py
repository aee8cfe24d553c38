"""Acceptance: exactly-once in effect over the province's exchange tables (前置库, PostgreSQL).

The pusher writes through a fault-injecting proxy (resets, stalls, lost COMMIT replies) while the
province's ETL keeps emptying the exchange tables; it is crashed once at each outbox failpoint and
restarted. The province's commit log (a trigger on every exchange table) then holds each of the N
row_guids exactly once, every case in cd_time order, and the outbox agrees with the peer's query.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.exchange import ExchangeTableWriter
from connectors.outbox import reconcile
from migrations import runner
from sandbox.exchange import ExchangeProvince
from sandbox.faults import FaultPlan
from sandbox.pgproxy import PgFaultProxy
from tests.connectors.conftest import FAST
from tests.connectors.drill import assert_case_order, crash_and_restart, enqueue_shuffled, outbox_states
from tests.crypt import sealed_database

pytestmark = [pytest.mark.integration, pytest.mark.pg]


@pytest.fixture
def exchange(pg_admin_url: str) -> Iterator[ExchangeProvince]:
    ex = ExchangeProvince(pg_admin_url).create()
    yield ex
    ex.drop()


def _drill(exchange: ExchangeProvince, tmp_path: Path, n: int) -> dict[str, object]:
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    runner.upgrade(url)
    db = sealed_database(url)
    rows = enqueue_shuffled(db, "province-exchange", n)
    host_port = exchange.dsn.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    plan = FaultPlan(reset=0.1, lost=0.1, timeout=0.05, error=0.05, timeout_s=0.2, seed=3, cycle=True)
    proxy = PgFaultProxy((host, int(port)), plan)
    proxied = exchange.url.replace(host_port, f"{proxy.host}:{proxy.port}")
    stop = threading.Event()

    def etl() -> None:
        while not stop.wait(0.2):
            exchange.run_etl()

    etl_thread = threading.Thread(target=etl, daemon=True)
    etl_thread.start()
    try:
        args = ["--db", url, "--peer", "province-exchange", "--exchange", proxied, "--batch-rows", "50"]
        result = crash_and_restart(args)
    finally:
        stop.set()
        etl_thread.join()
        proxy.close()
    exchange.run_etl()

    cd_time = {str(r["row_guid"]): str(r["cd_time"]) for _, r in rows}
    log = exchange.commit_log()
    assert len(log) == n, f"{len(log)} inserts for {n} rows"  # never written twice, never lost
    assert {g for _, g, _, _, _ in log} == set(cd_time)
    assert exchange.held_row_guids() == set(cd_time)
    cases = assert_case_order(log, lambda g: cd_time[g])
    writer = ExchangeTableWriter(exchange.url, peer="province-exchange", timing=FAST)
    rep = reconcile(db, "province-exchange", writer)
    writer.close()
    assert rep.agree and rep.missing_requeued == 0, rep.mismatches
    assert outbox_states(db, "province-exchange") == {"delivered": n}
    assert all(code == 137 for code in result.crashes.values()), result.crashes
    injected = dict(proxy.counts)
    for kind in ("reset", "lost", "timeout", "error"):
        assert injected.get(kind, 0) > 0, injected
    db.dispose()
    return {"n": n, "cases": cases, "faults": injected, "crashes": result.crashes}


def test_exactly_once_over_exchange_tables(exchange: ExchangeProvince, tmp_path: Path) -> None:
    _drill(exchange, tmp_path, 1000)


@pytest.mark.slow
def test_exactly_once_over_exchange_tables_10000(exchange: ExchangeProvince, tmp_path: Path) -> None:
    print(_drill(exchange, tmp_path, 10_000))
