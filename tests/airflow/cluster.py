"""A distributed Airflow for the production-shaped tier: CeleryExecutor, PostgreSQL metadata, Redis broker.

The components run as separate processes, the way the compose file runs them: ``api-server``
(with the task execution API), ``scheduler``, ``dag-processor`` and ``celery worker``. They share
an AIRFLOW_HOME, the JWT secret and the execution API URL. tongban's own data (registry, ledger)
lives in a PostgreSQL database of its own. Airflow is driven only through its REST API (simple
auth manager, a token from ``/auth/token``), as an operator would.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.net import free_port
from tongban.airflow_env import DAGS_FOLDER

COMPONENTS = (
    ("api-server", ["api-server", "--port", "{port}"]),
    ("scheduler", ["scheduler"]),
    ("dag-processor", ["dag-processor"]),
    ("worker", ["celery", "worker", "--concurrency", "2"]),
)


@dataclass
class Cluster:
    base: str
    env: dict[str, str]
    home: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    token: str = ""

    def api(self, method: str, path: str, **kw: Any) -> Any:
        r = httpx.request(
            method, self.base + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kw
        )
        r.raise_for_status()
        return r.json() if r.content else None

    def logs(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPStatusError):
                self.api("GET", f"/api/v2/dags/{dag_id}")
                return
            time.sleep(1)
        raise TimeoutError(f"{dag_id} never parsed; dag-processor log:\n{self.logs('dag-processor')[-3000:]}")

    def run_dag(self, dag_id: str, timeout: float = 240) -> dict[str, Any]:
        """Unpause, trigger and wait for the run; returns the final dag run document."""
        self.wait_for_dag(dag_id)
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        run_id = run["dag_run_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc: dict[str, Any] = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if doc["state"] in ("success", "failed"):
                return doc
            time.sleep(1)
        raise TimeoutError(
            f"{dag_id} run {run_id} did not finish; scheduler log:\n{self.logs('scheduler')[-3000:]}\n"
            f"worker log:\n{self.logs('worker')[-3000:]}"
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        doc = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return list(doc["task_instances"])


def _database(admin_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def cluster(
    tmp: Path, pg_admin_url: str, *, redis_url: str = "redis://127.0.0.1:6379/7", extra_env: dict[str, str]
) -> Iterator[Cluster]:
    """Migrate the metadata DB, start the components, yield a logged-in client; stop them after."""
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    meta_name = f"tongban_airflow_{tag}"
    meta = _database(pg_admin_url, meta_name)
    home = tmp / "airflow"
    home.mkdir(parents=True)
    password = secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(json.dumps({"admin": password}))
    port = free_port()
    env = {
        **os.environ,
        **extra_env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta,
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    airflow = [sys.executable, "-m", "airflow"]
    c = Cluster(f"http://127.0.0.1:{port}", env, home)
    try:
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
        for name, args in COMPONENTS:
            log = (home / f"{name}.log").open("wb")
            c.procs[name] = subprocess.Popen(
                [*airflow, *(a.format(port=port) for a in args)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while True:
            try:
                health = httpx.get(c.base + "/api/v2/monitor/health", timeout=5).json()
                if health.get("metadatabase", {}).get("status") == "healthy":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            dead = [n for n, p in c.procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"airflow did not start (exited: {dead}):\n{c.logs('api-server')[-3000:]}")
            time.sleep(1)
        r = httpx.post(c.base + "/auth/token", json={"username": "admin", "password": password}, timeout=30)
        r.raise_for_status()
        c.token = r.json()["access_token"]
        yield c
    finally:
        for p in c.procs.values():  # the whole process group: celery and gunicorn children too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in c.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        _drop(pg_admin_url, meta_name)
