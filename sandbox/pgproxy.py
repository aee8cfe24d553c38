"""A fault-injecting TCP proxy in front of PostgreSQL: the exchange database's network, made flaky.

It reads the frontend protocol (startup packet, then ``type + int32 length`` messages) to see each
simple query (``Q``) and, per a :class:`~sandbox.faults.FaultPlan` drawn per query:

One draw per transaction (at ``BEGIN``):

- ``reset`` / ``error``: abort both connections with a RST one to four statements into the
  transaction (the server rolls back);
- ``timeout``: stall the transaction's start for ``timeout_s`` (libpq has no read timeout: the
  client waits; the statement timeout only covers server time);
- ``lost``: forward the ``COMMIT``, let the server commit, then abort the client connection
  instead of relaying the reply (the commit happened; the client does not know);
- ``latency_ms``: added to every query.

Connect with ``sslmode=disable`` (the proxy does not speak TLS).
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter

from sandbox.faults import FaultPlan


class PgFaultProxy:
    def __init__(
        self, upstream: tuple[str, int], plan: FaultPlan, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.upstream = upstream
        self.plan = plan
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(plan.seed)  # noqa: S311 - fault draws
        self._lock = threading.Lock()
        self._cycle = 0
        self._sock = socket.create_server((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="pgproxy")
        self._thread.start()

    def set_plan(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed)  # noqa: S311

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()

    def _draw(self) -> str | None:
        """One draw per transaction (at BEGIN)."""
        with self._lock:
            p = self.plan
            u = self._rng.random()
            kinds = [k for k in ("reset", "error", "timeout", "lost") if getattr(p, k) > 0]
            total = sum(getattr(p, k) for k in kinds)
            if not kinds or u >= total:
                return None
            if p.cycle:
                self._cycle += 1
                kind = kinds[(self._cycle - 1) % len(kinds)]
            else:
                acc, kind = 0.0, kinds[-1]
                for k in kinds:
                    acc += getattr(p, k)
                    if u < acc:
                        kind = k
                        break
            self.counts[kind] += 1
            return kind

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            _abort(client)
            return
        drop_reply = threading.Event()
        armed: str | None = None
        reset_in = -1
        threading.Thread(target=self._pump_back, args=(server, client, drop_reply), daemon=True).start()
        try:
            # startup packet: int32 length (including itself), no type byte
            head = _recv_exact(client, 4)
            (length,) = struct.unpack("!I", head)
            server.sendall(head + _recv_exact(client, length - 4))
            while True:
                t = _recv_exact(client, 1)
                head = _recv_exact(client, 4)
                (length,) = struct.unpack("!I", head)
                body = _recv_exact(client, length - 4)
                if t == b"Q":
                    if self.plan.latency_ms:
                        time.sleep(self.plan.latency_ms / 1000)
                    sql = body[:-1].decode("utf-8", "replace").strip().upper()
                    if sql.startswith("BEGIN"):
                        armed = self._draw()
                        reset_in = self._rng.randint(1, 4) if armed in ("reset", "error") else -1
                        if armed == "timeout":
                            time.sleep(self.plan.timeout_s)
                    elif reset_in > 0:
                        reset_in -= 1
                    if reset_in == 0:  # in the middle of the transaction: nothing commits
                        _abort(client)
                        _abort(server)
                        return
                    if armed == "lost" and sql.startswith("COMMIT"):
                        drop_reply.set()
                server.sendall(t + head + body)
        except (OSError, ConnectionError):
            pass
        finally:
            for sock in (server, client):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def _pump_back(self, server: socket.socket, client: socket.socket, drop_reply: threading.Event) -> None:
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                if drop_reply.is_set():
                    time.sleep(0.01)  # the server has committed: now lose the reply
                    _abort(client)
                    _abort(server)
                    return
                client.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


def _abort(sock: socket.socket) -> None:
    """RST the connection. shutdown() first: a plain close() leaves the connection up while another
    thread is blocked in recv() on it."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
