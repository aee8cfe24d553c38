"""The compose deployment, brought up for real: ``docker-compose.yml`` with the test override (images
only), two Celery workers, the sandbox profile's peers; the chain triggered through Airflow's REST
API; one worker killed (``docker kill``) while it runs a ``case_push_province`` task — after the
peer has the rows and before the outbox marked them (a failpoint holds each batch there); the end
state checked as the process tier checks it: rows at the province exactly once, quarantine, held
rows, licenses verified from the S3 store with seals on the PKCS#11 token, ledger chains intact.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from core.net import free_port
from tests.airflow.pipeline_world import expected
from tests.containers.conftest import TIMES, project_name
from tests.containers.engine import docker
from tests.containers.images import Images
from tests.containers.stack import Stack, probe, wait_healthy, write_env
from tongban.demo import PIPELINE

# the whole deployment (image builds on a cold machine included) outlives the 600 s default
pytestmark = [pytest.mark.containers, pytest.mark.timeout(2700)]

CASES = 30
SEED = 7
KILL_IN = "case_push_province"
KILL_TASK = "deliver_and_reconcile"  # the task that sends rows and marks them delivered
# each outbox batch waits here after the province has it and before it is marked delivered
FAILPOINT = "outbox.after_send_before_mark=sleep:4000"
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def stack(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("stack")
    overrides = {
        "AIRFLOW_API_PORT": str(free_port()),
        "TONGBAN_API_PORT": str(free_port()),
        "MINIO_CONSOLE_PORT": str(free_port()),
        "SANDBOX_CASES": str(CASES),
        "SANDBOX_SEED": str(SEED),
        # a killed worker's task is failed and retried after 30 s without a heartbeat; Redis hands
        # an unacknowledged task to another worker after 90 s (longer than any task here)
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "90",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "TONGBAN_PIPELINE__RAW_BATCH_ROWS": "150",
        "TONGBAN_PIPELINE__PULL_PAGE_ROWS": "100",
        "TONGBAN_PIPELINE__ISSUE_CHUNK": "16",
        "TONGBAN_PIPELINE__RETRY_DELAY_S": "1",
        "TONGBAN_PEERS__OUTBOX_BATCH_ROWS": "40",
        "TONGBAN_FAILPOINTS": FAILPOINT,
        "TONGBAN_API__WORKERS": "1",
    }
    env_file = tmp / "deploy.env"
    s = Stack(project_name(), env_file, write_env(env_file, overrides), images.env(), tmp / "logs")
    t0 = time.monotonic()
    try:
        s.compose("up", "-d", "--scale", "airflow-worker=2", timeout=1500)
        wait_healthy(s.airflow + "/api/v2/monitor/health")
        s.login()
        TIMES["compose up"] = round(time.monotonic() - t0, 1)
        yield s
    finally:
        t1 = time.monotonic()
        s.save_logs()
        s.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False)
        TIMES["compose down"] = round(time.monotonic() - t1, 1)
        label = f"label=com.docker.compose.project={s.project}"
        left = docker("ps", "-aq", "--filter", label).split()
        vols = docker("volume", "ls", "-q", "--filter", label).split()
        assert not left and not vols, f"left behind: containers {left}, volumes {vols}"


def _inflight_rows(s: Stack) -> tuple[int, int]:
    """(in flight, delivered) case rows of the outbox, read from tongban's database directly."""
    from sqlalchemy import create_engine, text

    url = f"postgresql+psycopg2://tongban:{s.values['TONGBAN_DB_PASSWORD']}@{s.ip('postgres')}:5432/tongban"
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            q = "SELECT state, count(*) FROM connector_outbox WHERE kind = 'case_row' GROUP BY state"
            got: dict[str, int] = dict(c.execute(text(q)).tuples().all())
    finally:
        eng.dispose()
    return int(got.get("inflight", 0)), int(got.get("delivered", 0))


def _kill_a_worker_mid_task(s: Stack, dag_id: str, workers: list[str]) -> dict[str, Any]:
    """Wait until a worker running ``KILL_TASK`` has sent a batch it has not marked (rows in
    flight, the failpoint holding them), then ``docker kill`` that worker."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        doc = s.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances", params={"state": "running"})
        running = [t for t in doc["task_instances"] if t.get("hostname") and t["task_id"] == KILL_TASK]
        inflight, delivered = _inflight_rows(s)
        if running and inflight:
            ti = running[0]
            host = str(ti["hostname"])
            (victim,) = [w for w in workers if w.startswith(host) or host.startswith(w[:12])]
            time.sleep(1)  # past the send, inside the failpoint's 4 s
            docker("kill", victim)
            return {"container": victim, "hostname": host, "inflight": inflight, "delivered": delivered, **ti}
        time.sleep(0.3)
    raise TimeoutError(f"no {dag_id}.{KILL_TASK} ever had rows in flight:\n{s.diagnose()}")


def test_the_chain_on_the_compose_deployment_survives_a_killed_worker(stack: Stack, tmp_path: Path) -> None:
    s = stack
    t0 = time.monotonic()
    workers = s.containers("airflow-worker")
    assert len(workers) == 2, workers

    beat_id = s.trigger("tongban_heartbeat")
    assert s.wait_run("tongban_heartbeat", beat_id)["state"] == "success"
    killed: dict[str, Any] | None = None
    for dag_id in PIPELINE:
        run_id = s.trigger(dag_id)
        if dag_id == KILL_IN and killed is None:
            killed = _kill_a_worker_mid_task(s, dag_id, workers)
        run = s.wait_run(dag_id, run_id)
        assert run["state"] == "success", (dag_id, s.diagnose())
    s.quiet()
    failed = s.api("GET", "/api/v2/dags/~/dagRuns", params={"state": "failed"})["total_entries"]
    assert failed == 0
    TIMES["chain with a kill"] = round(time.monotonic() - t0, 1)

    state = probe(s, HERE / "probe_state.py")
    lic = state["one_license"]
    api_verdict = _verify_through_the_sharing_api(s, lic) if lic else None

    # the sandbox's own view: its generated day and the province's store, copied out of its volume
    (sandbox_cid,) = s.containers("sandbox")
    s.compose("stop", "sandbox")
    out = tmp_path / "sandbox"
    docker("cp", f"{sandbox_cid}:/opt/tongban/sandbox", str(out))
    from sandbox.generator import approvals_path, defects_path
    from sandbox.province import ProvinceStore

    cases_file = out / "day" / "cases.jsonl"

    def jsonl(p: Path) -> list[dict[str, Any]]:
        return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x]

    day = SimpleNamespace(
        cases=cases_file, defects=jsonl(defects_path(cases_file)), approvals=jsonl(approvals_path(cases_file))
    )
    exp = expected(SimpleNamespace(day=day))  # type: ignore[arg-type]
    rows = sum(1 for _ in cases_file.open(encoding="utf-8"))
    province = ProvinceStore(out / "province.db")

    f = state["figures"]
    assert (state["database"], state["store"], state["keys"]) == ("postgresql+psycopg2", "S3Store", "pkcs11")
    assert f["rows_ingested"] == rows
    assert f["rows_curated"] == len(exp["valid_guids"])
    assert f["rows_held"] == len(exp["held_guids"])
    assert f["rows_quarantined"] == exp["defects"]
    # nothing lost: every valid row reached the province; nothing duplicated: each committed once
    assert f["rows_not_delivered"] == 0
    assert f["province_rows"] == province.distinct_rows() == f["rows_pushed"]
    assert province.row_guids() == exp["valid_guids"]
    committed = [g for _seq, g, *_ in province.commit_log()]
    assert len(committed) == len(set(committed)) == len(exp["valid_guids"])
    events = [e["event_id"] for e in province.events()]
    assert f["province_events"] == f["events_delivered"] == len(events) == len(set(events))
    # licenses: one per finished case with approval data, every one verifies from the store
    with_approval = set(state["with_approval"])
    assert state["cases"]
    for project, (case_state, _lid) in state["cases"].items():
        want = state["issued_state"] if project in with_approval else state["awaiting_state"]
        assert case_state == want, project
    issued = [lid for st, lid in state["cases"].values() if st == state["issued_state"]]
    assert len(issued) == len(set(issued)) == f["licenses_issued"] > 0
    v = f["verification"]
    other = {k: n for k, n in v["reasons"].items() if k != "status_not_valid"}
    assert not other and v["checked"] == len(issued)
    assert v["valid"] + v["reasons"].get("status_not_valid", 0) == v["checked"]
    assert api_verdict is not None and api_verdict["license_id"] == lic["license_id"]
    assert api_verdict["valid"] or api_verdict["reasons"] == ["status_not_valid"], api_verdict
    assert f["ledger_ok"] and state["heartbeats"] > 0
    assert sum((f.get("case_deadlines") or {}).values()) > 0

    # the killed task was tried again, on the surviving worker, and succeeded
    assert killed is not None
    again = s.api(
        "GET",
        f"/api/v2/dags/{KILL_IN}/dagRuns/{killed['dag_run_id']}/taskInstances/{killed['task_id']}"
        + (f"/{killed['map_index']}" if killed.get("map_index", -1) >= 0 else ""),
    )
    assert again["state"] == "success" and again["try_number"] > killed["try_number"], again
    assert again["hostname"] != killed["hostname"], again


def _verify_through_the_sharing_api(s: Stack, lic: dict[str, Any]) -> dict[str, Any]:
    """A department verifies the license PDF through tongban-api (token, upload, use ledger)."""
    purpose = "510129-GS-001"
    out = s.exec(
        "tongban-api",
        "tongban",
        "api",
        "client",
        "add",
        lic["issuer_code"],
        "--types",
        lic["type_code"],
        "--purposes",
        purpose,
        "--json",
    )
    client = json.loads(out)
    base = f"http://{s.ip('tongban-api')}:8700"
    tok = httpx.post(
        base + "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
        timeout=30,
    )
    tok.raise_for_status()
    r = httpx.post(
        base + "/v1/verify",
        headers={"Authorization": f"Bearer {tok.json()['access_token']}"},
        files={"file": ("license.pdf", base64.b64decode(lic["pdf"]), "application/pdf")},
        data={"purpose": purpose, "use_cause": "容器测试核验"},
        timeout=60,
    )
    r.raise_for_status()
    doc: dict[str, Any] = r.json()
    return doc
