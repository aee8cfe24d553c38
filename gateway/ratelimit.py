"""Per-client rate limits: a token bucket (``rate`` per second, ``burst`` deep) per client.

Two backends with one interface (:class:`RateLimiter`):

* :class:`MemoryRateLimiter` — in-process (the embedded default); with several worker processes each
  process has its own buckets, so the effective limit is ``workers × rate``.
* :class:`RedisRateLimiter` — one bucket per client shared by every worker and host (production),
  updated atomically by a Lua script.

Both take an injectable clock so tests are deterministic. A Redis outage fails *open* (requests pass,
``errors`` counts it, a warning is logged): the limiter protects capacity, it is not an access control.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0  # how long until one token is available (when refused)
    remaining: float = 0.0

    @property
    def retry_after_header(self) -> int:
        """Whole seconds for ``Retry-After`` (at least 1)."""
        return max(1, math.ceil(self.retry_after_s))


class RateLimiter(Protocol):
    async def take(self, key: str) -> Decision: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Token buckets in this process."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.errors = 0

    def take_sync(self, key: str) -> Decision:
        now = self.clock()
        with self._lock:
            tokens, ts = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - ts) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return Decision(True, 0.0, tokens - 1.0)
            self._buckets[key] = (tokens, now)
            return Decision(False, (1.0 - tokens) / self.rate, tokens)

    async def take(self, key: str) -> Decision:
        return self.take_sync(key)

    async def close(self) -> None:
        return None


_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local st = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(st[1])
local ts = tonumber(st[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(retry), tostring(tokens)}
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every worker (atomic Lua script)."""

    def __init__(
        self,
        url: str,
        rate: float,
        burst: int,
        *,
        prefix: str = "tongban:rl:",
        clock: Callable[[], float] = time.time,
        client: Any = None,
    ) -> None:
        import redis.asyncio as aioredis

        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.clock, self.prefix = rate, burst, clock, prefix
        self._redis = client or aioredis.from_url(  # type: ignore[no-untyped-call]
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._script = self._redis.register_script(_LUA)
        self.errors = 0

    async def take(self, key: str) -> Decision:
        try:
            allowed, retry, tokens = await self._script(
                keys=[self.prefix + key], args=[repr(self.rate), str(self.burst), repr(self.clock())]
            )
        except Exception as exc:  # fail open: see the module docstring
            self.errors += 1
            log.warning("rate limiter: redis unavailable (%s); request allowed", type(exc).__name__)
            return Decision(True)
        return Decision(bool(int(allowed)), float(retry), float(tokens))

    async def close(self) -> None:
        await self._redis.aclose()
