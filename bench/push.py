"""Benchmark: rows to the sandbox province through our batched outbox path vs the plain per-record zeep call.

Both paths run in the same run against the same province (spyne + waitress, in its own process):

- **ours**: enqueue N generated rows into the outbox (SQLite), then ``deliver`` — batches of
  ``batch_rows``, ``concurrency`` in flight, per-row receipts, message log — until all are delivered;
- **plain**: what a user would write — ``zeep.Client(wsdl_url)`` and one ``SubmitCaseRows`` call per
  row — on a sample of ``sample`` rows; its rate is extrapolated to N.

Reports rows/s of both, the ratio, and the peak RSS of this process (the outbox reads rows per
batch, so memory stays flat in N).
"""

from __future__ import annotations

import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from connectors.delivery import SoapDeliverer
from connectors.messagelog import MessageLogWriter
from connectors.outbox import OutboxConfig, deliver, enqueue_rows, summary
from connectors.resilience import Timing
from connectors.soap import ProvinceSoapClient
from core.db import Database
from core.fieldcrypt import FieldCrypt
from core.keys.datakeys import DataKeyring
from core.net import free_port as _free_port
from migrations import runner
from sandbox.data import case_rows


def _wait(url: str, timeout: float = 30) -> None:
    import requests

    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if requests.get(url + "?wsdl", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"sandbox province did not start at {url}")


def run(
    rows: int = 100_000, sample: int = 2_000, batch_rows: int = 500, concurrency: int = 2
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tongban-bench-push-"))
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "province",
            "--port",
            str(port),
            "--data-dir",
            str(tmp / "province"),
            "--threads",
            "4",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait(url)
        # ours
        db_url = f"sqlite:///{tmp / 'ours.db'}"
        runner.upgrade(db_url)
        # payloads are sealed in the outbox as the product seals them, under throwaway keys
        crypt = FieldCrypt(DataKeyring(tmp / "field-keys", secrets.token_bytes(32)))
        db = Database(db_url, crypt=crypt)
        timing = Timing(read_timeout_s=60)
        log = MessageLogWriter(db, body_cap=1024)
        client = ProvinceSoapClient(url, timing=timing, recorder=log, pool=concurrency + 1)
        t0 = time.perf_counter()
        with db.session() as s:
            enqueue_rows(s, "province", case_rows(7, "510129", rows))
        t_enq = time.perf_counter() - t0
        cfg = OutboxConfig(batch_rows=batch_rows, batch_bytes=4 * 1024 * 1024, concurrency=concurrency)
        rep = deliver(db, "province", SoapDeliverer(client), cfg)
        log.flush()
        t_ours = time.perf_counter() - t0
        states = summary(db, "province").get("province", {})
        if states != {"delivered": rows}:
            raise RuntimeError(f"ours did not deliver everything: {states}")
        rss_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # plain: the per-record zeep call a user would write
        from zeep import Client

        plain = Client(url + "?wsdl")
        sample_rows = list(case_rows(8, "510130", sample))
        t1 = time.perf_counter()
        for i, (table, row) in enumerate(sample_rows):
            plain.service.SubmitCaseRows(
                batch_id=f"plain-{i}", sender="user", rows={"CaseRow": [{table: row}]}
            )
        t_plain = time.perf_counter() - t1
        ours_per_s = rows / t_ours
        plain_per_s = sample / t_plain
        return {
            "name": "push",
            "ours_per_s": round(ours_per_s, 1),
            "baseline_per_s": round(plain_per_s, 1),
            "ratio": round(ours_per_s / plain_per_s, 1),
            "params": {
                "rows": rows,
                "baseline_sample": sample,
                "baseline_extrapolated_s": round(rows / plain_per_s, 1),
                "ours_s": round(t_ours, 1),
                "enqueue_s": round(t_enq, 1),
                "batch_rows": batch_rows,
                "concurrency": concurrency,
                "batches": rep.batches,
                "peak_rss_mib": round(rss_ours, 1),
                "transport": "SOAP 1.1 (zeep) to spyne+waitress on loopback, province in its own process",
            },
        }
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    import json

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
