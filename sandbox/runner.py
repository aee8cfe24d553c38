"""Starting the sandbox peers: ``tongban sandbox serve [province|county|department|all]`` and
``python -m sandbox serve ...`` (used by benchmarks to run the province in its own process).

Ports: province 8701, county (standard layout) 8702, county (vendor_b layout) 8703, department 8704
unless ``--port`` is given (one peer) — ``--port 0`` picks a free port and prints it.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from sandbox.countyfeed import CountyFeed
from sandbox.data import approval, case_rows
from sandbox.deptsystem import DepartmentSystem
from sandbox.faults import FaultInjector, FaultPlan
from sandbox.province import ProvinceStore, make_province_app
from sandbox.server import RunningServer, start

DEFAULT_PORTS = {"province": 8701, "county": 8702, "county-b": 8703, "department": 8704}
LATE_AFTER_S = 60.0  # the department keys in its late approvals a minute after it starts


def county_rows(seed: int, region: str, count: int) -> list[dict[str, Any]]:
    """``count`` generated rows of ``region``, tagged with their table (the contract layout)."""
    return [{"table": t, **row} for t, row in case_rows(seed, region, count, region=region)]


def approvals(seed: int, region: str, cases: int, *, late_every: int = 5) -> list[dict[str, Any]]:
    """Approval data of the finished cases (every third); every ``late_every``-th of them is late
    (none when 0)."""
    finished = [c for c in range(cases) if c % 3 == 0]
    return [
        dict(approval(seed, region, c), late=bool(late_every) and i % late_every == 0)
        for i, c in enumerate(finished)
    ]


def build_apps(
    which: str, data_dir: Path, faults: str = "", rows: int = 10_000, seed: int = 1
) -> dict[str, Any]:
    plan = FaultPlan.parse(faults) if faults else FaultPlan()
    apps: dict[str, Any] = {}
    if which in ("province", "all"):
        data_dir.mkdir(parents=True, exist_ok=True)
        store = ProvinceStore(data_dir / "province.db")
        apps["province"] = FaultInjector(make_province_app(store), plan)
    if which in ("county", "all"):
        apps["county"] = FaultInjector(
            CountyFeed("510129", county_rows(seed, "510129", rows)), plan, soap=False
        )
        apps["county-b"] = FaultInjector(
            CountyFeed("511825", county_rows(seed, "511825", rows), layout="vendor_b"), plan, soap=False
        )
    if which in ("department", "all"):
        dept = DepartmentSystem("510129", approvals(seed, "510129", rows // 5), late_after_s=LATE_AFTER_S)
        apps["department"] = FaultInjector(dept, plan, soap=False)
    if not apps:
        raise ValueError(f"unknown peer {which!r}: province, county, department or all")
    return apps


def serve(
    which: str,
    *,
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    faults: str = "",
    rows: int = 10_000,
    threads: int = 8,
    ready: Any = None,
) -> None:
    """Serve the chosen peers until interrupted; ``ready(name, url)`` is called for each."""
    apps = build_apps(which, data_dir, faults, rows)
    servers: list[RunningServer] = []
    for name, app in apps.items():
        p = port if (port is not None and len(apps) == 1) else DEFAULT_PORTS[name]
        srv = start(app, host=host, port=p, threads=threads)
        servers.append(srv)
        (ready or _print_ready)(name, srv.url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.close()


def _print_ready(name: str, url: str) -> None:
    sys.stdout.write(f"{name} {url}\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox")
    ap.add_argument("command", choices=["serve"])
    ap.add_argument("which", nargs="?", default="all")
    ap.add_argument("--data-dir", default="var/sandbox")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--faults", default="")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=8)
    a = ap.parse_args(argv)
    serve(
        a.which,
        data_dir=Path(a.data_dir),
        host=a.host,
        port=a.port,
        faults=a.faults,
        rows=a.rows,
        threads=a.threads,
    )
    return 0
