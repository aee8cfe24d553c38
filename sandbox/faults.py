"""Fault injection for the sandbox peers: a WSGI middleware driven by a per-run :class:`FaultPlan`.

Kinds (each a probability per request; one seeded draw per request picks at most one):

=============  ======================================================================================
``error``      HTTP 500 before processing (a SOAP ``soap:Server`` fault, or a JSON error)
``reset``      TCP reset before processing (nothing done)
``timeout``    sleep ``timeout_s`` (longer than the client waits), then process (the client gave up)
``lost``       process and commit, then reset the connection: the reply is lost
``malformed``  process, then answer 200 with a body that is not the contract's
``oversized``  process, then stream ``oversized_bytes`` of filler (no Content-Length)
``xml_attack`` process, then answer a reply with a DTD: billion laughs, external entity, or DTD only
=============  ======================================================================================

``latency_ms`` is added to every request; ``limit`` (when above 0) stops injecting after that many
faults (``xml_attack=1,limit=1``: the first request is attacked, the rest are served). A plan
parses from ``"error=0.05,reset=0.05,lost=0.05,latency_ms=2,seed=7"`` (``tongban sandbox serve
--faults ...``).
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

KINDS = ("error", "reset", "timeout", "lost", "malformed", "oversized", "xml_attack")

SOAP_FAULT = (
    b'<?xml version="1.0" encoding="UTF-8"?><soap11env:Envelope '
    b'xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"><soap11env:Body><soap11env:Fault>'
    b"<faultcode>soap11env:Server</faultcode><faultstring>sandbox: injected server error</faultstring>"
    b"</soap11env:Fault></soap11env:Body></soap11env:Envelope>"
)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"><soap11env:Body>
<x>&lol9;</x></soap11env:Body></soap11env:Envelope>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"><soap11env:Body>
<x>&xxe;</x></soap11env:Body></soap11env:Envelope>"""

DTD_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">
<soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"><soap11env:Body/>
</soap11env:Envelope>"""

XML_ATTACKS = {"billion_laughs": BILLION_LAUGHS, "external_entity": EXTERNAL_ENTITY, "dtd": DTD_ONLY}


@dataclass
class FaultPlan:
    error: float = 0.0
    reset: float = 0.0
    timeout: float = 0.0
    lost: float = 0.0
    malformed: float = 0.0
    oversized: float = 0.0
    xml_attack: float = 0.0
    latency_ms: float = 0.0
    timeout_s: float = 1.0
    oversized_bytes: int = 8 * 1024 * 1024
    attack: str = "any"  # billion_laughs | external_entity | dtd | any
    seed: int = 1
    only_post: bool = True
    cycle: bool = False  # when a fault is drawn, take the kinds in turn (every kind shows up early)
    limit: int = 0  # inject at most this many faults (0: no limit)

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        plan = cls()
        types = {f.name: f.type for f in fields(cls)}
        for item in filter(None, (s.strip() for s in spec.split(","))):
            key, _, value = item.partition("=")
            key = key.strip()
            if key not in types:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(types)}")
            cur = getattr(plan, key)
            if isinstance(cur, bool):
                setattr(plan, key, value.strip().lower() in ("1", "true", "yes"))
            elif isinstance(cur, int):
                setattr(plan, key, int(value))
            elif isinstance(cur, float):
                setattr(plan, key, float(value))
            else:
                setattr(plan, key, value.strip())
        return plan

    @classmethod
    def spread(cls, total: float, seed: int = 1, **kw: Any) -> FaultPlan:
        """``total`` split evenly over every kind (the drills' "30% faults of every kind")."""
        plan = cls(seed=seed, **kw)
        for k in KINDS:
            setattr(plan, k, total / len(KINDS))
        return plan

    @property
    def total(self) -> float:
        return float(sum(getattr(self, k) for k in KINDS))


@dataclass
class FaultInjector:
    """WSGI middleware applying a :class:`FaultPlan` to ``app``; ``counts`` tells what was injected."""

    app: Callable[..., Iterable[bytes]]
    plan: FaultPlan
    soap: bool = True
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.plan.seed)  # noqa: S311 - fault draws, not crypto
        self._lock = threading.Lock()
        self._attack_i = 0
        self._cycle_i = 0

    def _draw(self) -> str | None:
        """One seeded draw: the kind to inject (counted here, under the lock) or None."""
        with self._lock:
            if self.plan.limit and sum(self.counts.values()) >= self.plan.limit:
                return None
            u = self._rng.random()
            kind: str | None = None
            if self.plan.cycle:
                if u < self.plan.total:
                    active = [k for k in KINDS if getattr(self.plan, k) > 0]
                    self._cycle_i += 1
                    kind = active[(self._cycle_i - 1) % len(active)]
            else:
                acc = 0.0
                for k in KINDS:
                    acc += getattr(self.plan, k)
                    if u < acc:
                        kind = k
                        break
            if kind is not None:
                self.counts[kind] += 1
            return kind

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.plan.latency_ms:
            time.sleep(self.plan.latency_ms / 1000)
        if self.plan.only_post and environ.get("REQUEST_METHOD") != "POST" and self.soap:
            return self.app(environ, start_response)
        kind = self._draw()
        if kind is None:
            return self.app(environ, start_response)
        if kind == "error":
            _drain(environ)
            if self.soap:
                start_response("500 Internal Server Error", [("Content-Type", "text/xml; charset=utf-8")])
                return [SOAP_FAULT]
            start_response("500 Internal Server Error", [("Content-Type", "application/json")])
            return [b'{"error": "sandbox: injected server error"}']
        if kind == "reset":
            _drain(environ)
            _reset(environ)
        if kind == "timeout":
            time.sleep(self.plan.timeout_s)
            return self.app(environ, start_response)
        # the rest process the request first (the peer commits), then spoil the reply
        body = _run(self.app, environ)
        if kind == "lost":
            _reset(environ)
        if kind == "malformed":
            start_response(
                "200 OK", [("Content-Type", "text/xml; charset=utf-8" if self.soap else "application/json")]
            )
            return [b"<soap:Envelope><unclosed>" if self.soap else b'{"rows": [truncated']
        if kind == "oversized":
            start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
            return _filler(self.plan.oversized_bytes)
        # xml_attack
        name = self.plan.attack
        if name == "any":
            with self._lock:
                name = list(XML_ATTACKS)[self._attack_i % len(XML_ATTACKS)]
                self._attack_i += 1
        del body
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [XML_ATTACKS[name]]


def _drain(environ: dict[str, Any]) -> None:
    stream = environ.get("wsgi.input")
    if stream is not None:
        while stream.read(65536):
            pass


def _run(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> bytes:
    status: list[str] = []

    def sr(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        status.append(s)
        return lambda _b: None

    result = app(environ, sr)
    try:
        return b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def _reset(environ: dict[str, Any]) -> None:
    """Abort the TCP connection with a RST (SO_LINGER 0) and stop serving this request."""
    from waitress.channel import ClientDisconnected

    probe = environ.get("waitress.client_disconnected")
    channel = getattr(probe, "__self__", None)
    sock = getattr(channel, "socket", None)
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ClientDisconnected("sandbox: injected connection reset")


def _filler(n: int) -> Iterator[bytes]:
    chunk = b"<pad>" + b"x" * (64 * 1024 - 11) + b"</pad>"
    sent = 0
    yield b'<?xml version="1.0"?><soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/">'
    while sent < n:
        yield chunk
        sent += len(chunk)
