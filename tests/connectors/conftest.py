"""Fixtures for connector tests: a real province SOAP server (spyne + waitress) on loopback with a
fault injector whose plan each test sets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.resilience import Timing
from sandbox.faults import FaultInjector, FaultPlan
from sandbox.province import ProvinceStore, make_province_app
from sandbox.server import RunningServer, start

FAST = Timing(  # short back-offs; timeouts generous enough for a loaded 2-core machine
    connect_timeout_s=2.0,
    read_timeout_s=5.0,
    backoff_s=0.005,
    max_backoff_s=0.02,
    attempts=3,
    breaker_failures=1000,
    breaker_cooldown_s=0.05,
    max_response_bytes=1024 * 1024,
)


class Province:
    def __init__(self, server: RunningServer, store: ProvinceStore, injector: FaultInjector) -> None:
        self.server, self.store, self.injector = server, store, injector

    @property
    def url(self) -> str:
        return self.server.url + "/"

    def faults(self, plan: FaultPlan) -> None:
        self.injector.plan = plan
        self.injector.__post_init__()


@pytest.fixture
def province(tmp_path: Path) -> Iterator[Province]:
    store = ProvinceStore(tmp_path / "province.db")
    injector = FaultInjector(make_province_app(store), FaultPlan())
    server = start(injector)
    yield Province(server, store, injector)
    server.close()
