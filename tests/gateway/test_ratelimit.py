"""Both rate-limit backends, deterministic with a settable clock: in-process buckets and Redis."""

from __future__ import annotations

import uuid

import pytest

from gateway.ratelimit import MemoryRateLimiter, RedisRateLimiter
from tests.gateway.conftest import PURPOSE, FakeClock

pytestmark = pytest.mark.anyio
REDIS_URL = "redis://127.0.0.1:6379/15"


async def _redis_or_skip() -> None:
    import redis.asyncio as aioredis

    r = aioredis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await r.ping()
    except Exception as exc:
        import os

        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires Redis at {REDIS_URL}: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    finally:
        await r.aclose()


async def test_memory_bucket_refills_at_the_rate() -> None:
    clock = FakeClock(0.0)
    lim = MemoryRateLimiter(rate=2.0, burst=3, clock=clock)
    assert [(await lim.take("a")).allowed for _ in range(4)] == [True, True, True, False]
    d = await lim.take("a")
    assert not d.allowed and d.retry_after_s == pytest.approx(0.5) and d.retry_after_header == 1
    clock.advance(0.5)
    assert (await lim.take("a")).allowed and not (await lim.take("a")).allowed
    assert (await lim.take("b")).allowed  # buckets are per client


async def test_redis_bucket_is_shared_by_workers() -> None:
    await _redis_or_skip()
    clock = FakeClock(1_000_000.0)
    prefix = f"tongban:test:{uuid.uuid4().hex}:"
    w1 = RedisRateLimiter(REDIS_URL, rate=1.0, burst=4, prefix=prefix, clock=clock)
    w2 = RedisRateLimiter(REDIS_URL, rate=1.0, burst=4, prefix=prefix, clock=clock)  # a second worker
    try:
        got = [(await (w1 if i % 2 else w2).take("c1")).allowed for i in range(5)]
        assert got == [True, True, True, True, False]
        d = await w1.take("c1")
        assert not d.allowed and d.retry_after_header == 1
        clock.advance(2.0)
        assert [(await w2.take("c1")).allowed for _ in range(3)] == [True, True, False]
        assert (await w1.take("other")).allowed
    finally:
        await w1.close()
        await w2.close()


async def test_redis_outage_fails_open_and_is_counted() -> None:
    lim = RedisRateLimiter("redis://127.0.0.1:1/0", rate=1.0, burst=1, clock=FakeClock())
    try:
        assert (await lim.take("c")).allowed and (await lim.take("c")).allowed
        assert lim.errors == 2
    finally:
        await lim.close()


async def test_api_answers_429_from_the_redis_backend(make_gateway) -> None:
    await _redis_or_skip()
    clock = FakeClock(2_000_000.0)
    lim = RedisRateLimiter(
        REDIS_URL, rate=0.1, burst=2, prefix=f"tongban:test:{uuid.uuid4().hex}:", clock=clock
    )
    gw = await make_gateway(no_licenses=True, limiter=lim)
    headers = await gw.auth(gw.add_client())
    body = {"holder_code": "X1", "holder_code_type": "001", "purpose": "NOT-" + PURPOSE, "use_cause": "x"}
    codes = [
        (await gw.client.post("/v1/licenses:search", json=body, headers=headers)).status_code
        for _ in range(3)
    ]
    assert codes == [403, 403, 429]
    r = await gw.client.post("/v1/licenses:search", json=body, headers=headers)
    assert r.status_code == 429 and r.headers["retry-after"] == "10" and r.json()["code"] == "RATE_LIMITED"
