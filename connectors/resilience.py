"""Retries with exponential backoff and full jitter, and a circuit breaker per endpoint.

Only :class:`~connectors.errors.RetryableError` is retried; a permanent error goes straight up —
except on a read (``idempotent=True``: counts, lookups, feed pages), where a refused reply
(:class:`~connectors.errors.RefusedReply`: malformed, oversized, hostile) is one failed attempt of
the same budget, logged as a warning, and the read is asked again. When the budget is spent the
last error is raised with ``attempts`` set, so its message names peer, operation, the attempts
and the last cause.
Every duration comes from :class:`Timing`, built from the peer settings and multiplied by
``time_scale``, so fault tests run the real code paths in seconds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from connectors.errors import CircuitOpen, RefusedReply, RetryableError, translate
from core.logging import log_event
from core.settings import PeerSettings

log = logging.getLogger("tongban.connectors")

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """Scaled durations and counts for clients, breakers and the outbox."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    backoff_s: float = 0.5
    max_backoff_s: float = 10.0
    attempts: int = 3
    breaker_failures: int = 5
    breaker_cooldown_s: float = 30.0
    max_response_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_settings(cls, peers: PeerSettings) -> Timing:
        k = peers.time_scale
        return cls(
            connect_timeout_s=peers.connect_timeout_s * k,
            read_timeout_s=peers.request_timeout_s * k,
            backoff_s=peers.retry_backoff_s * k,
            max_backoff_s=peers.retry_max_backoff_s * k,
            attempts=max(1, peers.retry_attempts),
            breaker_failures=max(1, peers.breaker_failures),
            breaker_cooldown_s=peers.breaker_cooldown_s * k,
            max_response_bytes=peers.max_response_bytes,
        )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]."""
        cap = min(self.max_backoff_s, self.backoff_s * (2 ** max(0, attempt - 1)))
        return (rng or random).uniform(0, cap)


class CircuitBreaker:
    """closed → (``failures`` consecutive retryable failures) → open → (cool-down) → half-open.

    Half-open lets one call through: success closes, failure opens again. Permanent errors do
    not count (the endpoint answered). Thread-safe; one instance per endpoint.
    """

    def __init__(
        self, name: str, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ):
        self.name = name
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._opened_at: float | None = None
        self._probe = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def before_call(self) -> None:
        with self._lock:
            st = self._state()
            if st == "open" or (st == "half_open" and self._probe):
                left = max(0.0, self.cooldown_s - (self.clock() - (self._opened_at or 0.0)))
                raise CircuitOpen(f"circuit of {self.name} is open (retry in {left:.2f}s)", peer=self.name)
            if st == "half_open":
                self._probe = True

    def on_success(self) -> None:
        with self._lock:
            self._count = 0
            self._opened_at = None
            self._probe = False

    def on_failure(self) -> None:
        with self._lock:
            self._count += 1
            if self._probe or self._count >= self.failures:
                self._opened_at = self.clock()
                self._probe = False


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(endpoint: str, timing: Timing) -> CircuitBreaker:
    """The process-wide breaker of an endpoint (peer name + URL)."""
    with _breakers_lock:
        br = _breakers.get(endpoint)
        if br is None:
            br = _breakers[endpoint] = CircuitBreaker(
                endpoint, timing.breaker_failures, timing.breaker_cooldown_s
            )
        return br


def call_with_retry(
    fn: Callable[[int], T],
    *,
    timing: Timing,
    breaker: CircuitBreaker | None = None,
    peer: str | None = None,
    operation: str | None = None,
    idempotent: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn(attempt)`` up to ``timing.attempts`` times; retry retryable errors only.

    ``idempotent=True`` (a read): refused replies are retried too (see the module docstring).
    Library exceptions are translated; the error raised last carries its attempt number, and
    ``attempts`` when the budget was spent on it.
    A breaker that is open fails fast with :class:`CircuitOpen` (and counts as an attempt).
    """
    for attempt in range(1, timing.attempts + 1):
        try:
            if breaker is not None:
                breaker.before_call()
            result = fn(attempt)
        except Exception as exc:
            err = translate(exc, peer=peer, operation=operation, attempt=attempt)
            err.attempt = attempt
            refused = isinstance(err, RefusedReply)
            retry = err.retryable or (idempotent and refused)
            if breaker is not None:
                if isinstance(err, RetryableError) and not isinstance(err, CircuitOpen):
                    breaker.on_failure()
                elif not err.retryable:
                    breaker.on_success()  # the endpoint answered
            if not retry:
                raise err from exc
            if attempt < timing.attempts:
                if refused:
                    log_event(
                        log,
                        "connector.reply_refused",
                        logging.WARNING,
                        peer=peer,
                        operation=operation,
                        attempt=attempt,
                        code=err.code,
                        cause=err.message,
                        retrying=True,
                    )
                sleep(timing.backoff(attempt, rng))
                continue
            err.attempts = attempt
            raise err from exc
        if breaker is not None:
            breaker.on_success()
        return result
    raise AssertionError("unreachable: timing.attempts >= 1")  # pragma: no cover
