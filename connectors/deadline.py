"""A whole-exchange deadline for ``requests`` (the SOAP client's transport).

``requests`` and urllib3 time out each socket read, not an exchange: a peer that trickles one byte
every half second keeps a call alive for as long as it likes — through the status line, the
headers and the body — although no single read waits longer than the read timeout.

:class:`DeadlineAdapter` makes each connection it opens remember itself in a thread-local slot when
a request goes out; :func:`deadline` arms a timer for the call and, when it fires, shuts the
connection's socket down, so the blocked read returns at once and the call fails. The caller then
raises :class:`~connectors.errors.Timeout` (retryable), not a generic error.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


@dataclass
class Deadline:
    """One armed deadline: whether it fired, and the connection it watches."""

    seconds: float
    fired: bool = False
    connections: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def expire(self) -> None:
        with self._lock:
            self.fired = True
            for conn in self.connections:
                sock = getattr(conn, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)


def _watch(conn: Any) -> None:
    armed: Deadline | None = getattr(_current, "deadline", None)
    if armed is not None:
        with armed._lock:
            armed.connections.append(conn)
            fired = armed.fired
        if fired:
            armed.expire()


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections can be cut by :func:`deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Cut the connection of any request this thread sends within the block after ``seconds``."""
    armed = Deadline(seconds)
    timer = threading.Timer(seconds, armed.expire)
    timer.daemon = True
    previous = getattr(_current, "deadline", None)
    _current.deadline = armed
    timer.start()
    try:
        yield armed
    finally:
        timer.cancel()
        _current.deadline = previous
