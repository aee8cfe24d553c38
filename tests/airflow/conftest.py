"""The Airflow tier: an isolated AIRFLOW_HOME with a migrated SQLite metadata DB for this run.

Airflow reads its configuration at import, so ``prepare`` runs before any test imports airflow.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings


@pytest.fixture(scope="session")
def airflow_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from tongban import airflow_env, setup

    data_dir = tmp_path_factory.mktemp("airflow-var")
    os.environ["TONGBAN_DATA_DIR"] = str(data_dir)
    os.environ["TONGBAN_KEYS__PASSPHRASE"] = "airflow-tier-" + uuid.uuid4().hex
    setup.init(Settings())
    airflow_env.prepare(data_dir)
    yield data_dir
