"""A pusher process for the exactly-once drills: deliver a peer's outbox until idle, then exit 0.

Run as ``python -m tests.connectors.pusher --db URL --peer P (--soap URL | --exchange URL)``;
``TONGBAN_FAILPOINTS`` makes it crash (exit 137) at an outbox failpoint, like a killed worker.
"""

from __future__ import annotations

import argparse
import json
import sys

from connectors.delivery import SoapDeliverer
from connectors.exchange import ExchangeTableWriter
from connectors.messagelog import MessageLogWriter
from connectors.outbox import OutboxConfig, deliver
from connectors.resilience import Timing
from connectors.soap import ProvinceSoapClient
from tests.crypt import sealed_database

# The read timeout must hold an honest reply on a starved machine: at 0.3 s (once), a load average
# of 36 made nearly every reply late, the breaker opened, and 350 of 1,000 rows arrived in 240 s.
# The drills' injected timeouts sleep well past it (test_exactly_once_soap: 4 s).
TIMING = Timing(
    connect_timeout_s=2.0,
    read_timeout_s=2.0,
    backoff_s=0.005,
    max_backoff_s=0.03,
    attempts=1,  # every injected fault reaches the outbox: batches are released and retried there
    breaker_failures=50,
    breaker_cooldown_s=0.05,
    max_response_bytes=512 * 1024,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--peer", default="province")
    ap.add_argument("--soap")
    ap.add_argument("--exchange")
    ap.add_argument("--batch-rows", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--lease-s", type=float, default=1.5)
    ap.add_argument("--max-seconds", type=float, default=240)
    ap.add_argument("--report")
    a = ap.parse_args(argv)
    db = sealed_database(a.db)
    log = MessageLogWriter(db, body_cap=512)
    if a.soap:
        deliverer = SoapDeliverer(
            ProvinceSoapClient(a.soap, peer=a.peer, timing=TIMING, recorder=log, pool=4)
        )
    else:
        deliverer = ExchangeTableWriter(a.exchange, peer=a.peer, timing=TIMING, recorder=log)  # type: ignore[assignment]
    cfg = OutboxConfig(
        batch_rows=a.batch_rows,
        batch_bytes=1024 * 1024,
        concurrency=a.concurrency,
        lease_s=a.lease_s,
        max_attempts=1000,
        retry_delay_s=0.01,
    )
    report = deliver(db, a.peer, deliverer, cfg, max_seconds=a.max_seconds)
    log.flush()
    doc = json.dumps(report.as_dict())
    if a.report:
        with open(a.report, "w", encoding="utf-8") as fh:
            fh.write(doc)
    else:
        sys.stdout.write(doc + "\n")
    return 0 if report.remaining == 0 else 3


if __name__ == "__main__":
    sys.exit(main())
