"""Retries with backoff + jitter on retryable errors only; the circuit breaker's states; error mapping."""

from __future__ import annotations

import random

import pytest
import requests

from connectors.errors import CircuitOpen, ClientFault, NetworkError, Timeout, XmlAttack, translate
from connectors.resilience import CircuitBreaker, Timing, call_with_retry

T = Timing(backoff_s=0.1, max_backoff_s=0.3, attempts=4, breaker_failures=2, breaker_cooldown_s=5)


def test_retries_retryable_errors_with_capped_full_jitter() -> None:
    sleeps: list[float] = []
    calls: list[int] = []

    def fn(n: int) -> str:
        calls.append(n)
        if n < 3:
            raise requests.exceptions.ConnectionError("Read timed out.")
        return "ok"

    assert call_with_retry(fn, timing=T, sleep=sleeps.append, rng=random.Random(1)) == "ok"
    assert calls == [1, 2, 3] and len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


def test_permanent_errors_are_not_retried() -> None:
    calls: list[int] = []

    def fn(n: int) -> None:
        calls.append(n)
        raise ClientFault("no")

    with pytest.raises(ClientFault):
        call_with_retry(fn, timing=T, sleep=lambda _s: None)
    assert calls == [1]


def test_breaker_opens_then_half_opens_then_closes() -> None:
    now = [0.0]
    br = CircuitBreaker("e", failures=2, cooldown_s=5, clock=lambda: now[0])
    br.on_failure()
    assert br.state == "closed"
    br.on_failure()
    assert br.state == "open"
    with pytest.raises(CircuitOpen):
        br.before_call()
    now[0] = 6
    assert br.state == "half_open"
    br.before_call()  # one probe
    with pytest.raises(CircuitOpen):
        br.before_call()  # only one
    br.on_success()
    assert br.state == "closed"


def test_library_errors_are_mapped_once() -> None:
    from zeep.exceptions import DTDForbidden, Fault

    assert isinstance(
        translate(requests.exceptions.ConnectionError("Read timed out. (read timeout=1)")), Timeout
    )
    assert isinstance(translate(requests.exceptions.ConnectionError("Connection refused")), NetworkError)
    assert isinstance(translate(DTDForbidden("x", "y", "z")), XmlAttack)
    assert isinstance(translate(Fault("bad", code="soap:Client")), ClientFault)
    e = translate(ConnectionResetError(), peer="p", operation="op", attempt=2)
    assert (e.peer, e.operation, e.attempt, e.code) == ("p", "op", 2, "CONNECTOR_NETWORK")
