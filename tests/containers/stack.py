"""One compose deployment for the container tier: ``docker-compose.yml`` plus the test override
(images only), an env file written from ``.env.example`` with secrets generated for this run,
driven with Debian's ``docker-compose`` (Compose v1) and torn down with its volumes.

Containers are reached on the compose network's addresses from this host (traffic stays on the
machine); published ports bind 127.0.0.1 on free ports so parallel runs do not collide.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.containers.engine import ROOT, EngineError, compose_bin, docker

WATCHED = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-worker", "tongban-api")
COMPOSE_FILE = ROOT / "docker-compose.yml"
TEST_OVERRIDE = ROOT / "docker" / "test" / "compose.test.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SECRETS = (
    "POSTGRES_PASSWORD",
    "TONGBAN_DB_PASSWORD",
    "REDIS_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "_AIRFLOW_WWW_USER_PASSWORD",
    "TONGBAN_KEYS__PASSPHRASE",
    "TONGBAN_KEYS__PKCS11_PIN",
    "TONGBAN_SOFTHSM_SO_PIN",
)


def parse_env(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v
    return out


def write_env(path: Path, overrides: Mapping[str, str]) -> dict[str, str]:
    """``.env.example`` with every secret generated now and ``overrides`` on top."""
    from cryptography.fernet import Fernet

    values = parse_env(ENV_EXAMPLE.read_text(encoding="utf-8"))
    for k in SECRETS:
        values[k] = secrets.token_hex(16)
    values["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()
    values.update(overrides)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    path.chmod(0o600)
    return values


@dataclass
class Stack:
    project: str
    env_file: Path
    values: dict[str, str]
    images: Mapping[str, str]
    logdir: Path
    token: str = ""
    _ips: dict[str, str] = field(default_factory=dict)

    # -- compose -----------------------------------------------------------------------------------
    def compose(self, *args: str, check: bool = True, timeout: float = 900) -> str:
        cmd = [
            compose_bin(),
            "--no-ansi",
            "-p",
            self.project,
            "--env-file",
            str(self.env_file),
            "-f",
            str(COMPOSE_FILE),
            "-f",
            str(TEST_OVERRIDE),
            "--profile",
            "sandbox",
            *args,
        ]
        env = {**os.environ, **self.images, "COMPOSE_HTTP_TIMEOUT": "300"}
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False
        )
        if check and r.returncode != 0:
            raise EngineError(
                f"docker-compose {' '.join(args[:3])} failed ({r.returncode}):\n{r.stderr[-4000:]}\n"
                f"{self.diagnose()}"
            )
        return r.stdout

    def containers(self, service: str) -> list[str]:
        """Running container ids of ``service``."""
        return self.compose("ps", "-q", service).split()

    def ip(self, service: str) -> str:
        if service not in self._ips:
            (cid, *_) = self.containers(service)
            self._ips[service] = docker(
                "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", cid
            ).split()[0]
        return self._ips[service]

    def exec(self, service: str, *cmd: str, stdin: str | None = None, timeout: float = 600) -> str:
        (cid, *_) = self.containers(service)
        r = subprocess.run(
            ["/usr/bin/docker", "exec", "-i", cid, *cmd],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if r.returncode != 0:
            raise EngineError(f"exec {cmd[:3]} in {service} failed ({r.returncode}):\n{r.stderr[-4000:]}")
        return r.stdout

    def logs(self, service: str, tail: int = 80) -> str:
        return self.compose("logs", "--no-color", "--tail", str(tail), service, check=False)

    def diagnose(self) -> str:
        """States of the services and the logs of any that is not up (for failure messages)."""
        ps = self.compose("ps", check=False) if self.project else ""
        return f"compose ps:\n{ps}\n" + "".join(
            f"--- {s} ---\n{self.logs(s, 40)}\n"
            for s in WATCHED
            if "Up" not in "".join(line for line in ps.splitlines() if s in line)
        )

    def save_logs(self) -> None:
        self.logdir.mkdir(parents=True, exist_ok=True)
        (self.logdir / "compose.log").write_text(self.compose("logs", "--no-color", check=False))

    # -- Airflow's REST API --------------------------------------------------------------------------
    @property
    def airflow(self) -> str:
        return f"http://{self.ip('airflow-apiserver')}:8080"

    def login(self) -> None:
        r = httpx.post(
            self.airflow + "/auth/token",
            json={
                "username": self.values["_AIRFLOW_WWW_USER_USERNAME"],
                "password": self.values["_AIRFLOW_WWW_USER_PASSWORD"],
            },
            timeout=30,
        )
        r.raise_for_status()
        self.token = r.json()["access_token"]

    def api(self, method: str, path: str, **kw: Any) -> Any:
        """One call of Airflow's REST API. A GET is safe to repeat, so one that gets no answer (the
        api-server stalls for minutes on a loaded 2-core machine) is asked again, up to 5 times;
        a call that changes something is sent once."""
        tries = 5 if method == "GET" else 1
        for attempt in range(1, tries + 1):
            try:
                r = httpx.request(
                    method,
                    self.airflow + path,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=60,
                    **kw,
                )
            except (httpx.TimeoutException, httpx.NetworkError):
                if attempt == tries:
                    raise
                time.sleep(2 * attempt)
                continue
            r.raise_for_status()
            return r.json() if r.content else None
        raise AssertionError("unreachable")

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPStatusError):
                self.api("GET", f"/api/v2/dags/{dag_id}")
                return
            time.sleep(2)
        raise TimeoutError(f"{dag_id} never parsed:\n{self.logs('airflow-dag-processor')}")

    def trigger(self, dag_id: str) -> str:
        self.wait_for_dag(dag_id)
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        return str(run["dag_run_id"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc: dict[str, Any] = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if doc["state"] in ("success", "failed"):
                return doc
            time.sleep(2)
        raise TimeoutError(f"{dag_id} {run_id} did not finish:\n{self.diagnose()}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        doc = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return list(doc["task_instances"])

    def quiet(self, timeout: float = 600) -> None:
        """Wait until no DAG run is queued or running for a few polls in a row."""
        deadline, calm = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            busy = sum(
                self.api("GET", "/api/v2/dags/~/dagRuns", params={"state": st, "limit": 1})["total_entries"]
                for st in ("queued", "running")
            )
            calm = calm + 1 if busy == 0 else 0
            if calm >= 4:
                return
            time.sleep(2)
        raise TimeoutError("DAG runs still active")


def wait_healthy(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        time.sleep(2)
    raise TimeoutError(f"{url} never answered 200")


def probe(stack: Stack, script: Path) -> dict[str, Any]:
    """Run a Python script inside the tongban-api container (the deployment's own settings) and
    read the last line of its output as JSON."""
    out = stack.exec("tongban-api", "python", "-", stdin=script.read_text(encoding="utf-8"))
    doc: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return doc
