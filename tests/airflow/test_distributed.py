"""The production-shaped tier: the pipeline on a distributed Airflow — CeleryExecutor workers, the
PostgreSQL metadata database, the Redis broker — with tongban's own registry, ledger and case store
on PostgreSQL too, driven through Airflow's REST API as an operator would.

The DAGs are unpaused as the chain reaches them, so the assets they emit trigger the next ones the
way the scheduler does in production (a DAG may run twice: once by its asset, once by the manual
trigger — the flows are idempotent, and the end state is checked against the generator's files).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from tests.airflow.cluster import Cluster, _database, _drop, cluster
from tests.airflow.pipeline_world import expected, world
from tongban.demo import PIPELINE

pytestmark = [pytest.mark.airflow, pytest.mark.pg, pytest.mark.integration]

REDIS_URL = "redis://127.0.0.1:6379/7"
CHAIN = PIPELINE  # the order ./run demo runs them in


def _quiet(c: Cluster, timeout: float = 240) -> None:
    """Wait until no DAG run is queued or running for a few seconds in a row."""
    deadline, calm = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        busy = sum(
            c.api("GET", "/api/v2/dags/~/dagRuns", params={"state": st, "limit": 1})["total_entries"]
            for st in ("queued", "running")
        )
        calm = calm + 1 if busy == 0 else 0
        if calm >= 4:
            return
        time.sleep(1)
    raise TimeoutError("DAG runs still active")


def test_the_chain_on_celery_workers_with_postgresql_and_redis(
    airflow_data_dir: Path, pg_admin_url: str, tmp_path: Path
) -> None:
    import redis
    from sqlalchemy import select

    from core.health import HEARTBEAT_STREAM
    from migrations import runner
    from pipeline.models import AWAITING, ISSUED, Approval, CaseLicense
    from pipeline.summary import collect

    broker = redis.Redis.from_url(REDIS_URL)
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    # this run's keys only: another run on the same Redis (a second checkout, a container tier)
    # must neither see our tasks nor lose its own when we clean up
    prefix = f"tongban_dist_{tag}:"
    app_name = f"tongban_dist_{tag}"
    app_url = _database(pg_admin_url, app_name)
    runner.upgrade(app_url)
    try:
        with world(tmp_path / "world", cases=30, seed=5, database_url=app_url) as w:
            broker_env = {"AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": prefix}
            with cluster(tmp_path / "cluster", pg_admin_url, redis_url=REDIS_URL, extra_env=broker_env) as c:
                beat = c.run_dag("tongban_heartbeat")
                assert beat["state"] == "success"
                (ti,) = c.task_instances("tongban_heartbeat", beat["dag_run_id"])
                assert ti["queue"] == "default" and ti["state"] == "success"
                for dag_id in CHAIN:
                    run = c.run_dag(dag_id)
                    assert run["state"] == "success", (dag_id, c.logs("worker")[-3000:])
                _quiet(c)
                failed = c.api("GET", "/api/v2/dags/~/dagRuns", params={"state": "failed"})["total_entries"]
                assert failed == 0
                assert broker.keys(f"{prefix}_kombu.binding.*"), "the Celery broker was not used"

            from core import ledger

            f = collect(w.ctx)
            exp = expected(w)
            assert f["rows_ingested"] == w.day.rows
            assert f["rows_curated"] == len(exp["valid_guids"])
            assert f["rows_held"] == len(exp["held_guids"])
            assert f["rows_quarantined"] == exp["defects"]
            assert f["province_rows"] == w.peers.province.distinct_rows() == f["rows_pushed"]
            assert w.peers.province.row_guids() == exp["valid_guids"]
            with w.ctx.db.session() as s:
                cases = list(s.scalars(select(CaseLicense)))
                with_approval = {a.project_no for a in s.scalars(select(Approval))}
                beats = [
                    e for e in ledger.entries(s, HEARTBEAT_STREAM) if "airflow:tongban_heartbeat" in e.payload
                ]
            assert cases and beats
            for case in cases:
                assert case.state == (ISSUED if case.project_no in with_approval else AWAITING), (
                    case.project_no
                )
            assert f["province_events"] == f["events_delivered"] == len(w.peers.province.events())
            assert sum((f.get("case_deadlines") or {}).values()) > 0
            assert f["ledger_ok"]
            assert w.ctx.db.url.startswith("postgresql")
            w.ctx.db.dispose()
    finally:
        _drop(pg_admin_url, app_name)
        for key in broker.scan_iter(f"{prefix}*"):
            broker.delete(key)
