"""The deployment files agree with the code: every setting tongban reads (``core.settings.Settings``,
env prefix ``TONGBAN_``, nested with ``__``, and the few variables read directly) and every
``AIRFLOW__*`` / ``AIRFLOW_CONN_*`` variable the deployment sets appears both in ``.env.example``
and in ``docker-compose.yml``; Compose accepts the file with and without the test override.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from core.settings import Settings
from tests.containers.engine import ROOT, compose_bin
from tests.containers.stack import COMPOSE_FILE, ENV_EXAMPLE, TEST_OVERRIDE

PRODUCT = ("contracts", "core", "quality", "connectors", "licenses", "pipeline", "gateway", "dags", "tongban")
# "TONGBAN_…" literals that are not deployment settings: the demo's size and sample, an OID
# constant's name, the error kernel's code
NOT_DEPLOYMENT = {"TONGBAN_DEMO_CASES", "TONGBAN_DEMO_VERIFY", "TONGBAN_OID_ARC", "TONGBAN_ERROR"}


def settings_env_names(model: type[BaseModel] = Settings, prefix: str = "TONGBAN_") -> set[str]:
    names: set[str] = set()
    for name, f in model.model_fields.items():
        ann = f.annotation
        env = prefix + name.upper()
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names |= settings_env_names(ann, env + "__")
        else:
            names.add(env)
    return names


def direct_env_names() -> set[str]:
    """``"TONGBAN_…"`` string literals in the product packages: variables read without Settings."""
    found: set[str] = set()
    for pkg in PRODUCT:
        for p in (ROOT / pkg).rglob("*.py"):
            found |= set(re.findall(r"[\"'](TONGBAN_[A-Z0-9_]+)[\"']", p.read_text(encoding="utf-8")))
    return found - NOT_DEPLOYMENT


def compose_env() -> dict[str, dict[str, str]]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return {name: dict(svc.get("environment") or {}) for name, svc in doc["services"].items()}


def test_every_setting_is_in_env_example_and_in_the_compose_file() -> None:
    wanted = settings_env_names() | direct_env_names()
    assert "TONGBAN_STORE__S3_ENDPOINT" in wanted and "TONGBAN_FAILPOINTS" in wanted
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    mentioned = set(re.findall(r"\b[A-Z_][A-Z0-9_]*\b", example))
    envs = compose_env()
    common = envs["airflow-worker"]  # the tasks' environment
    assert not (wanted - mentioned), f"missing from .env.example: {sorted(wanted - mentioned)}"
    assert not (wanted - set(common)), f"missing from docker-compose.yml: {sorted(wanted - set(common))}"
    for svc in ("airflow-init", "airflow-scheduler", "airflow-apiserver", "tongban-api"):
        assert set(common) - {"DUMB_INIT_SETSID"} <= set(envs[svc]), svc
    # what the compose file sets for Airflow is documented in .env.example too
    airflow = {k for k in common if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    assert {"AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL"} <= airflow
    assert not (airflow - mentioned), f"missing from .env.example: {sorted(airflow - mentioned)}"
    # peers: one Connection per registry entry
    from connectors.peer_registry import load_registry

    registry = load_registry(ROOT / "connectors" / "registry_data" / "peers.json")
    conns = {f"AIRFLOW_CONN_{p.conn_id.upper()}" for p in registry.peers()}
    assert conns <= airflow and conns <= mentioned


def test_env_example_commits_no_secret() -> None:
    from tests.containers.stack import SECRETS, parse_env

    values = parse_env(ENV_EXAMPLE.read_text(encoding="utf-8"))
    for k in (*SECRETS, "AIRFLOW__CORE__FERNET_KEY"):
        assert values.get(k, None) == "", k


@pytest.mark.containers
@pytest.mark.parametrize(
    "files", [(COMPOSE_FILE,), (COMPOSE_FILE, TEST_OVERRIDE)], ids=["plain", "with-test-override"]
)
def test_docker_compose_config_accepts_the_file(files: tuple[Path, ...]) -> None:
    args = [compose_bin(), "--env-file", str(ENV_EXAMPLE), "--profile", "sandbox"]
    for f in files:
        args += ["-f", str(f)]
    r = subprocess.run([*args, "config"], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(r.stdout)
    assert doc["services"]["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    images = {s: d["image"] for s, d in doc["services"].items()}
    if len(files) == 1:
        assert images["postgres"] == "postgres:16" and images["airflow-worker"] == "tongban:latest"
    else:
        assert all(i.startswith("tongban-test/") for i in images.values()), images
