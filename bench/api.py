"""Sharing API: authenticated metadata lookups at a fixed offered rate, ours against a bare FastAPI app.

* **ours** — ``tongban api serve --workers 2`` on loopback with the registry and the use ledger on
  PostgreSQL: every ``GET /v1/licenses/{id}?purpose=…&use_cause=…`` verifies the bearer token
  (joserfc), checks the grant, takes a rate-limit token, reads the registry, and waits for its
  ledger entry to be committed (group commit) before answering.
* **baseline** — the same route shape (path parameter, two query parameters, a bearer header, a
  JSON body of the same size) on a bare FastAPI app that returns a constant, served by uvicorn with
  the same two workers: the framework's ceiling on this machine.

The load generator is open-loop: request *i* is sent at ``t0 + i/rate`` whatever happened before,
from one asyncio process with up to 256 keep-alive connections (a minimal HTTP/1.1 client: httpx's
pool degrades when thousands of requests queue, which would measure the generator); latency is
measured from the scheduled send time, so queueing in the generator or the server counts (no
coordinated omission).
Result: achieved throughput, p50, p99, errors, for both, and ``ratio`` = ours / baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from core.net import free_port as _free_port

PG_ADMIN = os.environ.get("TONGBAN_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
DEPT = "11510129008589710X"
PURPOSE = "510129-GS-001"
TYPE_BIZ = "11100000YL0000012P001"  # 营业执照

BARE_APP = """
from fastapi import FastAPI, Header, Query
app = FastAPI()
BODY = {BODY!r}

@app.get("/v1/licenses/{{license_id}}")
async def metadata(license_id: str, purpose: str = Query(...), use_cause: str = Query(...),
                   authorization: str = Header(...)):
    return BODY
"""


@contextlib.contextmanager
def _pg_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"tongban_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def _server(cmd: list[str], env: dict[str, str], port: int) -> Iterator[None]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"server {cmd} did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


class _Conn:
    """One keep-alive HTTP/1.1 connection (a minimal client: httpx's pool degrades with thousands of
    queued requests, which would measure the generator instead of the server)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = False  # has answered a request: the server may since have closed it as idle

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
        if length:
            await self.reader.readexactly(length)
        return status


async def _load(
    url: str, headers: dict[str, str], rate: float, duration: float, warmup: float
) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    idle: list[_Conn] = []
    opened = 0
    max_conns = 256
    waiters: asyncio.Queue[_Conn] = asyncio.Queue()

    async def acquire() -> _Conn:
        nonlocal opened
        if idle:
            return idle.pop()
        if opened < max_conns:
            opened += 1
            reader, writer = await asyncio.open_connection(host, port)
            return _Conn(reader, writer)
        return await waiters.get()

    def release(conn: _Conn) -> None:
        if waiters._getters:  # type: ignore[attr-defined]  # someone is waiting: hand over directly
            waiters.put_nowait(conn)
        else:
            idle.append(conn)

    latencies: list[float] = []
    errors: dict[str, int] = {}
    answered = {"warmup": 0}

    async def one(scheduled: float | None) -> None:
        nonlocal opened
        if scheduled is not None:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        for attempt in (1, 2):
            conn = await acquire()
            try:
                status = await asyncio.wait_for(conn.get(request), 10.0)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                conn.writer.close()
                opened -= 1
                stale = isinstance(exc, asyncio.IncompleteReadError) and not exc.partial and conn.used
                if stale and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: resend, as clients do
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            break
        conn.used = True
        release(conn)
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
        elif scheduled is not None:
            latencies.append(time.perf_counter() - scheduled)
        else:
            answered["warmup"] += 1

    end = time.perf_counter() + warmup  # warm up connections and caches, not recorded
    while time.perf_counter() < end:
        await asyncio.gather(*(one(None) for _ in range(8)))
    n = int(rate * duration)
    t0 = time.perf_counter() + 0.05
    tasks = []
    for i in range(n):
        scheduled = t0 + i / rate
        while time.perf_counter() < scheduled - 0.01:  # create tasks just ahead of their time
            await asyncio.sleep(0.002)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    for conn in idle:
        conn.writer.close()
    latencies.sort()

    def pct(p: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)
            if latencies
            else -1.0
        )

    return {
        "offered_per_s": rate,
        "requests": n,
        "ok": len(latencies),
        "errors": errors,
        "throughput_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else -1.0,
        "connections": opened,
        "warmup_ok": answered["warmup"],
    }


def _init(data: Path, db_url: str, passphrase: str) -> None:
    env = {
        **os.environ,
        "TONGBAN_DATA_DIR": str(data),
        "TONGBAN_DATABASE_URL": db_url,
        "TONGBAN_KEYS__PASSPHRASE": passphrase,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tongban", "init", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tongban init failed ({done.returncode}): {done.stderr[-2000:]}")


def run(
    *, rate: float = 500.0, duration: float = 30.0, workers: int = 2, warmup: float = 3.0
) -> dict[str, Any]:
    from core.runtime import open_database
    from core.settings import Settings
    from gateway.clients import add_client
    from gateway.services import build_services
    from licenses import Holder, IssueRequest, open_registry

    with tempfile.TemporaryDirectory(prefix="tongban-bench-api-") as tmp, _pg_database() as db_url:
        passphrase = uuid.uuid4().hex
        data = Path(tmp) / "var"
        settings = Settings(
            data_dir=data, database_url=db_url, keys={"passphrase": passphrase}, api={"token_ttl_s": 3600}
        )
        _init(data, db_url, passphrase)  # as a user does: `tongban init` on the data dir
        db = open_database(settings)
        reg = open_registry(settings, db=db)
        from contracts.validators import make_uscc

        lic = reg.issue(
            IssueRequest(
                type_code="business_license",
                issuer_code=DEPT,
                holders=[Holder("大邑县示例餐馆", make_uscc("92", "510129", "MA00BE01"), "001")],
                fields={
                    "KZ_LX": "个体工商户",
                    "KZ_JYZ": "张三",
                    "KZ_ZCXS": "个人经营",
                    "KZ_JYCS": "四川省成都市大邑县晋原街道示例路88号",
                    "KZ_JYFW": "餐饮服务；食品销售（仅销售预包装食品）。",
                },
                idempotency_key="bench-api-1",
            )
        )
        client = add_client(db, DEPT, types=[TYPE_BIZ], purposes=[PURPOSE])
        svc = build_services(settings, licenses=None)
        token = svc.tokens.issue(client.client_id)[0]
        svc.close()
        db.dispose()
        headers = {"Authorization": f"Bearer {token}"}
        path = (
            f"/v1/licenses/{lic.license_id}?purpose={PURPOSE}&use_cause=%E6%A0%B8%E5%AF%B9%E4%BF%A1%E6%81%AF"
        )

        env = dict(os.environ)
        env.update(
            {
                "TONGBAN_DATA_DIR": str(data),
                "TONGBAN_DATABASE_URL": db_url,
                "TONGBAN_KEYS__PASSPHRASE": passphrase,
                "TONGBAN_API__RATE_LIMIT_PER_S": "100000",
                "TONGBAN_API__RATE_LIMIT_BURST": "100000",
                "TONGBAN_API__WEBHOOK_INTERVAL_S": "0",
                "TONGBAN_API__ANCHOR_INTERVAL_S": "0",
                "TONGBAN_LOG_LEVEL": "WARNING",
            }
        )
        port = _free_port()
        with _server(
            [sys.executable, "-m", "tongban", "api", "serve", "--port", str(port), "--workers", str(workers)],
            env,
            port,
        ):
            sample = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)
            if sample.status_code != 200:
                raise RuntimeError(f"our API answered {sample.status_code}: {sample.text[:500]}")
            ours = asyncio.run(_load(f"http://127.0.0.1:{port}{path}", headers, rate, duration, warmup))
        # ledger entries written by the run: one per successful lookup (plus warm-up and the sample)
        from sqlalchemy import func, select

        from core.ledger import LedgerEntry

        check_db = open_database(settings)
        with check_db.session() as s:
            entries = s.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.stream == f"use.{client.client_id}")
            )
        check_db.dispose()

        body = sample.json()
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP.format(BODY=body))
        port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-keep-alive",
            str(Settings().api.keep_alive_s),  # the same keep-alive as ours
        ]
        with _server(cmd, {**env, "PYTHONPATH": tmp}, port):
            base = asyncio.run(_load(f"http://127.0.0.1:{port}{path}", headers, rate, duration, warmup))

    return {
        "name": "api",
        "ours_per_s": ours["throughput_per_s"],
        "baseline_per_s": base["throughput_per_s"],
        "ratio": round(ours["throughput_per_s"] / base["throughput_per_s"], 3)
        if base["throughput_per_s"]
        else None,
        "params": {
            "route": "GET /v1/licenses/{id}?purpose&use_cause (bearer token, ledger entry per call)",
            "offered_per_s": rate,
            "duration_s": duration,
            "workers": workers,
            "database": "postgresql",
            "ours": ours,
            "baseline": base,
            "ledger_entries": entries,
            # every answered lookup (warm-up and the first sample included) left exactly one entry
            "ledger_entries_expected": ours["ok"] + ours["warmup_ok"] + 1,
            "target": {"throughput_per_s": 500, "p99_ms": 25},
            "cpus": os.cpu_count(),
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(duration=float(sys.argv[1]) if len(sys.argv) > 1 else 30.0), indent=2))
