"""Acceptance: exactly-once in effect over SOAP.

N generated rows (enqueued out of order) are pushed by a child process against the sandbox
province with 30% injected faults of every kind; the pusher is crashed once at each outbox
failpoint and restarted. Then the province holds exactly N distinct row_guids, its commit log
shows every case's rows in cd_time order, and the outbox agrees with the province's query.
CI runs N = 1,000; the slow drill runs 10,000.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from connectors.delivery import SoapDeliverer
from connectors.outbox import reconcile
from connectors.soap import ProvinceSoapClient
from migrations import runner
from sandbox.faults import KINDS, FaultPlan
from tests.connectors.conftest import FAST, Province
from tests.connectors.drill import assert_case_order, crash_and_restart, enqueue_shuffled, outbox_states
from tests.crypt import sealed_database

pytestmark = pytest.mark.integration


def _drill(province: Province, tmp_path: Path, n: int) -> dict[str, object]:
    url = f"sqlite:///{tmp_path / 'ours.db'}"
    runner.upgrade(url)
    db = sealed_database(url)
    rows = enqueue_shuffled(db, "province", n)
    province.faults(
        FaultPlan.spread(0.30, seed=5, timeout_s=4.0, oversized_bytes=2 * 1024 * 1024, cycle=True)
    )
    args = ["--db", url, "--peer", "province", "--soap", province.url, "--batch-rows", "50"]
    result = crash_and_restart(args)
    injected = dict(province.injector.counts)
    province.faults(FaultPlan())  # the check itself runs without faults

    cd_time = {r["row_guid"]: r["cd_time"] for _, r in rows}
    store = province.store
    assert store.distinct_rows() == n
    assert store.row_guids() == set(cd_time)
    log = store.commit_log()
    assert len(log) == n  # each row committed exactly once
    cases = assert_case_order(log, lambda g: str(cd_time[g]))
    client = ProvinceSoapClient(province.url, timing=dataclasses.replace(FAST, read_timeout_s=5))
    rep = reconcile(db, "province", SoapDeliverer(client))
    assert rep.agree and rep.missing_requeued == 0, rep.mismatches
    assert sum(rep.theirs.values()) == n
    assert outbox_states(db, "province") == {"delivered": n}
    for kind in KINDS:
        assert injected.get(kind, 0) > 0, f"fault {kind} never injected: {injected}"
    assert all(code == 137 for code in result.crashes.values()), result.crashes
    db.dispose()
    return {"n": n, "cases": cases, "faults": injected, "crashes": result.crashes, "reconcile": rep.as_dict()}


def test_exactly_once_over_soap_with_faults_and_crashes(province: Province, tmp_path: Path) -> None:
    _drill(province, tmp_path, 1000)


@pytest.mark.slow
def test_exactly_once_over_soap_10000(province: Province, tmp_path: Path) -> None:
    out = _drill(province, tmp_path, 10_000)
    print(out)
