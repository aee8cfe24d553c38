"""The ``sandbox`` profile's peers: a generated county day served the way ``tongban demo`` serves it
on loopback, but on fixed ports of the container's network.

    python sandbox_world.py --out /opt/tongban/var/sandbox --cases 200 --seed 20261125 [--host 0.0.0.0]

Generates the day with :func:`tongban.demo.generate_day` (``sandbox.generator``: planted defects,
children before parents, late approval data; same seed, same bytes) into ``--out``, then serves

    province                 SOAP  :8701   (its store: <out>/province.db)
    county 510129            REST  :8702   county 511825 (vendor_b layout)  REST :8703
    department 510129        REST  :8704   department 511825                REST :8705

with the bearer token ``$SANDBOX_TOKEN`` (default ``sandbox-token``, a sandbox credential, not a
secret). ``<out>/ready.json`` appears once every peer listens. Runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

PORTS = {
    "tongban_province": 8701,
    "tongban_county_510129": 8702,
    "tongban_county_511825": 8703,
    "tongban_department_510129": 8704,
    "tongban_department_511825": 8705,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sandbox_world")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--bad-ratio", type=float, default=0.05)
    ap.add_argument("--host", default="0.0.0.0")  # noqa: S104  # the compose network, not the host's
    a = ap.parse_args(argv)

    from sandbox.countyfeed import CountyFeed
    from sandbox.deptsystem import DepartmentSystem, plan_status_changes
    from sandbox.province import ProvinceStore, make_province_app
    from sandbox.server import start
    from tongban import demo

    token = os.environ.get("SANDBOX_TOKEN", "sandbox-token")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "ready.json").unlink(missing_ok=True)
    day = demo.generate_day(
        a.out / "day", rows=int(a.cases * demo.ROWS_PER_CASE), seed=a.seed, bad_ratio=a.bad_ratio
    )
    servers: list[Any] = []
    province = ProvinceStore(a.out / "province.db")
    servers.append(start(make_province_app(province), host=a.host, port=PORTS["tongban_province"]))
    results = {
        str(r["project_no"]): r
        for rows in day.rows_by_county.values()
        for r in rows
        if r.get("table") == "up_pro_result"
        and isinstance(r.get("project_no"), str)
        and r.get("result_cert_no")
    }
    exclude = {str(d["project_no"]) for d in day.defects}
    for region in demo.COUNTIES:
        layout = "vendor_b" if region == demo.VENDOR_B_COUNTY else "standard"
        feed = CountyFeed(region, day.rows_by_county[region], layout=layout, token=token)
        servers.append(start(feed, host=a.host, port=PORTS[f"tongban_county_{region}"]))
        approvals = [x for x in day.approvals if str(x["project_no"]).startswith(region)]
        changes = plan_status_changes(
            approvals,
            {k: v for k, v in results.items() if k.startswith(region)},
            seed=int(region),
            exclude=exclude,
        )
        dept = DepartmentSystem(region, approvals, changes, token=token)
        servers.append(start(dept, host=a.host, port=PORTS[f"tongban_department_{region}"]))
    ready = {"cases": a.cases, "seed": a.seed, "bad_ratio": a.bad_ratio, "rows": day.rows, "ports": PORTS}
    (a.out / "ready.json").write_text(json.dumps(ready))
    sys.stdout.write(json.dumps({"event": "sandbox.ready", **ready}) + "\n")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for s in servers:
        s.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
