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
