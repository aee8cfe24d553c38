"""DAG integrity (every file imports) and a ``dag.test()`` run of the heartbeat DAG."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow


def test_every_dag_file_imports(airflow_data_dir: Path) -> None:
    from tongban import airflow_env

    assert airflow_env.dag_import_errors() == {}
    bag = airflow_env.load_dagbag()
    assert "tongban_heartbeat" in bag.dags
    for dag_id, dag in bag.dags.items():
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.default_args.get("retries", 0) >= 1, f"{dag_id} has no retries"


@pytest.mark.parametrize(
    "planted",
    [
        "from airflow.sdk import dag\nraise RuntimeError('broken on purpose')\n",
        "import this_module_does_not_exist_anywhere\n",  # mentions neither word: still caught
        "def oops(:\n",
    ],
)
def test_integrity_check_catches_a_planted_broken_file(
    airflow_data_dir: Path, tmp_path: Path, planted: str
) -> None:
    from tongban import airflow_env

    folder = tmp_path / "dags"
    shutil.copytree(airflow_env.DAGS_FOLDER, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "broken_planted.py").write_text(planted)
    errors = airflow_env.dag_import_errors(folder)
    assert any(name.endswith("broken_planted.py") for name in errors), errors
    assert not any(name.endswith("tongban_heartbeat.py") for name in errors)


def test_heartbeat_dag_runs_and_writes_the_ledger(airflow_data_dir: Path) -> None:
    from core import ledger
    from core.health import HEARTBEAT_STREAM
    from core.runtime import open_database
    from core.settings import Settings
    from tongban import airflow_env

    db = open_database(Settings())
    with db.session() as s:
        before = ledger.head(s, HEARTBEAT_STREAM)[0]
    run = airflow_env.run_dag("tongban_heartbeat")
    assert str(run.state).endswith("success")
    with db.session() as s:
        assert ledger.head(s, HEARTBEAT_STREAM)[0] == before + 1
        assert ledger.verify_chain(s, HEARTBEAT_STREAM)[0].ok
    db.dispose()


PIPELINE_DAGS = {
    "county_cases_ingest",
    "case_quality",
    "case_push_province",
    "department_results_inbound",
    "license_issue",
    "license_catalog_sync",
    "sla_monitor",
    "province_reconcile",
    "license_archive",
    "license_expiry",
}


def test_pipeline_dags_carry_the_operational_settings(airflow_data_dir: Path) -> None:
    from tongban import airflow_env

    bag = airflow_env.load_dagbag()
    assert set(bag.dags) >= PIPELINE_DAGS
    for dag_id in PIPELINE_DAGS:
        dag = bag.dags[dag_id]
        args = dag.default_args
        assert args.get("owner") == "tongban-integration", dag_id
        assert args.get("retries", 0) >= 2 and args.get("retry_exponential_backoff"), dag_id
        assert args.get("execution_timeout") is not None, dag_id
        assert dag.max_active_runs == 1 and dag.max_active_tasks <= 4, dag_id
        assert dag.doc_md and dag.doc_md.strip().startswith(f"### {dag_id}"), dag_id
        for t in dag.tasks:
            assert t.on_failure_callback, f"{dag_id}.{t.task_id} has no failure callback"
            assert t.execution_timeout is not None, f"{dag_id}.{t.task_id}"
    for dag_id in ("case_quality", "case_push_province", "license_issue"):  # asset-triggered
        assert type(bag.dags[dag_id].timetable).__name__ == "AssetTriggeredTimetable", dag_id
    # issued licenses, or every 10 minutes for status changes no DAG made (the API, the CLI)
    assert type(bag.dags["license_catalog_sync"].timetable).__name__ == "AssetOrTimeSchedule"
    # the nightly watch DAGs run on Asia/Shanghai days
    for dag_id in ("license_archive", "license_expiry", "province_reconcile"):
        tt = bag.dags[dag_id].timetable
        assert getattr(tt._timezone, "name", None) == "Asia/Shanghai", (dag_id, vars(tt))
    assert [t.task_id for t in bag.dags["license_expiry"].tasks] == [
        "expire_due_licenses",
        "publish_to_catalog",
        "notify_departments",
    ]


def test_parsing_the_dags_does_no_io_and_imports_nothing_heavy(
    airflow_data_dir: Path, tmp_path: Path
) -> None:
    """DAG files only wire tasks: parsing them opens no peer, touches no data dir and does not import
    the packages the tasks use (great-expectations, pyhanko, zeep, our flows)."""
    import os
    import subprocess
    import sys

    probe = (
        "import sys, socket\n"
        "def no_net(*a, **k): raise AssertionError('network at import')\n"
        "socket.socket.connect = no_net\n"
        "from tongban import airflow_env\n"
        "bag = airflow_env.load_dagbag()\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "heavy = [m for m in ('great_expectations', 'pyhanko', 'zeep', 'pipeline', 'quality.gate', "
        "'licenses.registry', 'licenses.issuance') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "TONGBAN_DATA_DIR": str(tmp_path / "untouched")}
    out = subprocess.run(
        [sys.executable, "-c", probe], check=False, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HEAVY []" in out.stdout, out.stdout
    assert not (tmp_path / "untouched").exists()
