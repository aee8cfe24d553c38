"""Running our DAGs in-process on the embedded defaults (``dag.test()`` on SQLite metadata).

Airflow reads its configuration at import, so :func:`prepare` must run before anything imports
``airflow``; it points ``AIRFLOW_HOME`` under the data dir and migrates the metadata DB once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import dags

DAGS_FOLDER = Path(dags.__file__).resolve().parent


def airflow_env(data_dir: Path) -> dict[str, str]:
    home = data_dir / "airflow"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }


def prepare(data_dir: Path) -> dict[str, str]:
    """Set Airflow's environment for this process and migrate its metadata DB if needed."""
    env = airflow_env(data_dir)
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != env["AIRFLOW_HOME"]:
        raise RuntimeError("airflow was imported before tongban.airflow_env.prepare(); call prepare first")
    os.environ.update(env)
    # Airflow imports fastapi.testclient, which warns about httpx on every start
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    stamp = home / ".migrated"
    if not stamp.exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
        )
        stamp.write_text("ok")
    return env


def load_dagbag(folder: Path = DAGS_FOLDER) -> Any:
    """Parse every ``.py`` file of ``folder`` (``safe_mode=False``: a broken file is reported even
    when it mentions neither "airflow" nor "dag")."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder), safe_mode=False)


def dag_import_errors(folder: Path = DAGS_FOLDER) -> dict[str, str]:
    """Import errors per DAG file (empty when every file imports)."""
    errors: dict[str, str] = dict(load_dagbag(folder).import_errors)
    return errors


def load_dag(dag_id: str) -> Any:
    bag = load_dagbag()
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def run_dag(dag_id: str, **conf: Any) -> Any:
    """Run one DAG with ``dag.test()`` and return the DagRun."""
    dag = load_dag(dag_id)
    return dag.test(run_conf=conf or None)
