"""The container tier: a Docker engine (started when none runs — a failure, never a skip, when it
cannot start), the images built on the debootstrap base (cached by their inputs), and one compose
deployment per module, torn down with its volumes."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.engine import Engine, ensure_engine
from tests.containers.images import Images, build_all

TIMES: dict[str, float] = {}


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    e = ensure_engine()  # raises: the tier fails loudly when the engine cannot start
    yield e
    e.stop()


@pytest.fixture(scope="session")
def images(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Images:
    log = tmp_path_factory.mktemp("image-build") / "build.log"
    t0 = time.monotonic()
    imgs = build_all(log, TIMES)
    TIMES["images total"] = round(time.monotonic() - t0, 1)
    return imgs


def project_name() -> str:
    return f"tongbantest{os.getpid()}{uuid.uuid4().hex[:6]}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMES:
        terminalreporter.write_line(
            "container tier times (s): " + ", ".join(f"{k} {v}" for k, v in TIMES.items())
        )


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    return tmp_path / "logs"
