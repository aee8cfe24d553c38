"""The exactly-once drill shared by the SOAP and exchange-table tests (and the slow 10,000-row run)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from connectors.outbox import enqueue_rows, summary
from core.db import Database
from sandbox.data import case_rows

# (failpoint, crash on the n-th pass): the release point first, while many batches remain
OUTBOX_FAILPOINTS = (
    ("outbox.after_release", 1),
    ("outbox.after_claim", 2),
    ("outbox.after_send_before_mark", 2),
    ("outbox.after_mark", 2),
)


@dataclass
class DrillResult:
    crashes: dict[str, int] = field(default_factory=dict)
    runs: int = 0
    reports: list[dict[str, object]] = field(default_factory=list)


def enqueue_shuffled(db: Database, peer: str, n: int, seed: int = 11) -> list[tuple[str, dict[str, object]]]:
    rows = list(case_rows(seed, "510129", n))
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)  # enqueue order is not cd_time order
    with db.session() as s:
        assert enqueue_rows(s, peer, shuffled) == n
    with db.session() as s:  # idempotent
        assert enqueue_rows(s, peer, shuffled[:50]) == 0
    return rows


def _child(args: list[str], failpoint: str | None) -> None:
    from core import failpoints
    from tests.connectors import pusher

    os.environ.pop("TONGBAN_FAILPOINTS", None)
    failpoints.disable()
    if failpoint:
        os.environ["TONGBAN_FAILPOINTS"] = failpoint
    os._exit(pusher.main(args))


def run_pusher(args: list[str], failpoint: str | None, timeout: float = 300) -> tuple[int, str]:
    """Run the pusher in a fresh child process. Spawned, not forked: the test process runs the
    sandbox province's server threads, and a fork taken while one of them holds a lock (logging,
    a connection) leaves the child waiting on it for ever."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as fh:
        ctx = multiprocessing.get_context("spawn")
        p = ctx.Process(target=_child, args=([*args, "--report", fh.name], failpoint))
        p.start()
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join()
            raise AssertionError(f"pusher did not finish in {timeout}s")
        return int(p.exitcode or 0), fh.read()


def crash_and_restart(args: list[str], points: Iterable[tuple[str, int]] = OUTBOX_FAILPOINTS) -> DrillResult:
    """Crash the pusher once at each failpoint (on its n-th pass), then run it to completion."""
    res = DrillResult()
    for fp, nth in points:
        code, out = run_pusher(args, f"{fp}={nth}*crash")
        res.runs += 1
        res.crashes[fp] = code
        assert code in (137, 0), (fp, code, out[-3000:])
    code, out = run_pusher(args, None)
    res.runs += 1
    assert code == 0, out[-3000:]
    res.reports.append(json.loads(out.strip().splitlines()[0]))
    return res


def assert_case_order(log: list[tuple[int, str, str, str, str]], cd_time_of: Callable[[str], str]) -> int:
    """Every case's rows appear in the commit log in cd_time order; returns the number of cases."""
    last: dict[str, str] = {}
    for _seq, guid, _table, project, cd_time in log:
        assert cd_time == cd_time_of(guid)
        prev = last.get(project)
        assert prev is None or prev <= cd_time, f"case {project}: {cd_time} committed after {prev}"
        last[project] = cd_time
    return len(last)


def outbox_states(db: Database, peer: str) -> dict[str, int]:
    return summary(db, peer).get(peer, {})
