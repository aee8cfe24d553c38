"""``tongban airflow up`` (``./run airflow``): a local Airflow on the demo's data, to open and look at.

What it starts, and stops again on Ctrl-C:

* the sandbox peers of the demo's day (``var/demo/day``: the same county feeds, department systems
  and the same province database ``var/demo/peers/province.db``), on loopback ports;
* their Connections in Airflow's metadata database, of the connection type ``tongban`` (so the UI's
  Admin → Connections lists them, and triggered runs reach the peers);
* Airflow 3 itself — ``api-server`` (UI and REST API), ``scheduler`` (LocalExecutor),
  ``dag-processor`` and ``triggerer`` — on the demo's metadata database (``var/airflow``, the one
  the demo's ``dag.test()`` runs were recorded in, so those runs show in the grid), or on the
  PostgreSQL of ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` when set.

Login: user ``admin`` with a password generated into ``var/airflow/passwords.json`` (kept between
runs), printed at start. The demo is run first when its data dir is missing.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.net import free_port
from core.settings import Settings

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
USER = "admin"


@dataclass
class LocalAirflow:
    """The running parts; :meth:`stop` ends them (Airflow first, then the peers)."""

    url: str
    user: str
    password: str
    home: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    peers: Any = None

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.procs.items()}

    def stop(self, timeout: float = 15.0) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs.values():
            left = max(0.1, deadline - time.monotonic())
            try:
                p.wait(timeout=left)
            except subprocess.TimeoutExpired:  # the triggerer may need it (FACTS.md)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        if self.peers is not None:
            self.peers.close()
            self.peers = None


def _password(home: Path) -> str:
    path = home / "passwords.json"
    if path.is_file():
        doc = json.loads(path.read_text())
        if doc.get(USER):
            return str(doc[USER])
    password = secrets.token_urlsafe(12)
    path.write_text(json.dumps({USER: password}))
    path.chmod(0o600)
    return password


def airflow_environment(base: Settings, demo: Settings, port: int) -> dict[str, str]:
    """The environment every component (and every task it runs) gets."""
    from tongban import airflow_env

    env = airflow_env.airflow_env(base.data_path)
    home = Path(env["AIRFLOW_HOME"])
    if os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__TRIGGERER__TRIGGERER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "30",
            "TONGBAN_DATA_DIR": str(demo.data_path),
            "TONGBAN_DATABASE_URL": demo.db_url,
            "TONGBAN_LOG_LEVEL": "WARNING",
        }
    )
    return env


def define_connections(env: dict[str, str], peer_env: dict[str, str], home: Path) -> list[str]:
    """Put the peers' Connections (``AIRFLOW_CONN_*`` of the sandbox) into the metadata DB as
    type ``tongban`` (one ``airflow connections import --overwrite``); returns their ids."""
    doc: dict[str, dict[str, Any]] = {}
    for name, value in sorted(peer_env.items()):
        if not name.startswith("AIRFLOW_CONN_"):
            continue
        conn_id = name.removeprefix("AIRFLOW_CONN_").lower()
        src = json.loads(value)
        extra: dict[str, str] = {"protocol": "soap" if "province" in conn_id else "rest"}
        if src.get("password"):
            extra["auth"] = "bearer"
        doc[conn_id] = {
            "conn_type": "tongban",
            "host": src["host"],
            "port": src["port"],
            "password": src.get("password"),
            "extra": json.dumps(extra),
        }
    path = home / "sandbox-connections.json"
    path.write_text(json.dumps(doc, indent=1))
    path.chmod(0o600)
    argv = [sys.executable, "-m", "airflow", "connections", "import", "--overwrite", str(path)]
    subprocess.run(argv, env=env, capture_output=True, check=True, timeout=300)  # noqa: S603 - our argv
    return sorted(doc)


def start(
    base: Settings,
    *,
    port: int | None = None,
    say: Callable[[str], None] = print,
    health_timeout_s: float = 240.0,
) -> LocalAirflow:
    """Start the peers and Airflow on the demo's data; return when the API answers healthy."""
    import httpx

    from tongban import demo

    demo_settings = demo.demo_settings(base)
    day_dir = demo_settings.data_path / "day"
    if not (day_dir / "cases.jsonl").is_file():
        raise FileNotFoundError(
            f"no demo data in {demo_settings.data_path}: run `./run demo` first (it makes the day, the "
            "licenses and the DAG runs this Airflow shows)"
        )
    port = port or free_port()
    env = {**os.environ, **airflow_environment(base, demo_settings, port)}
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    password = _password(home)
    migrate = [sys.executable, "-m", "airflow", "db", "migrate"]
    subprocess.run(migrate, env=env, capture_output=True, check=True, timeout=600)  # noqa: S603
    say("starting the sandbox peers of the demo's day …")
    day = demo.load_day(day_dir)
    peers = demo.start_peers(demo_settings.data_path / "peers", day)
    run = LocalAirflow(f"http://127.0.0.1:{port}", USER, password, home, env, peers=peers)
    try:
        ids = define_connections(env, peers.env, home)
        say(f"Connections (type tongban): {', '.join(ids)}")
        logs = home / "logs" / "local"
        logs.mkdir(parents=True, exist_ok=True)
        for name in COMPONENTS:
            args = [sys.executable, "-m", "airflow", name]
            if name == "api-server":
                args += ["--port", str(port), "--host", "127.0.0.1"]
            out = (logs / f"{name}.log").open("ab")
            run.procs[name] = subprocess.Popen(  # noqa: S603 - our own argv
                args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        say(f"starting Airflow ({', '.join(COMPONENTS)}; logs in {logs}) …")
        deadline = time.monotonic() + health_timeout_s
        while True:
            dead = [n for n, ok in run.alive().items() if not ok]
            if dead:
                tail = (logs / f"{dead[0]}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"airflow {dead[0]} exited:\n{tail}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                health = httpx.get(run.url + "/api/v2/monitor/health", timeout=5).json()
                if health.get("metadatabase", {}).get("status") == "healthy":
                    return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"Airflow did not answer healthy within {health_timeout_s:.0f} s")
            time.sleep(1)
    except BaseException:
        run.stop()
        raise


@contextlib.contextmanager
def running(base: Settings, **kw: Any) -> Iterator[LocalAirflow]:
    run = start(base, **kw)
    try:
        yield run
    finally:
        run.stop()
