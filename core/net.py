"""Loopback ports for servers that a process starts and another connects to (the local Airflow,
the benchmarks' servers, the tests' peers).

:func:`free_port` picks a port that is free now **below the kernel's ephemeral range**
(``/proc/sys/net/ipv4/ip_local_port_range``, 32768–60999 by default). Asking the kernel for port 0
and closing it gives a port from that range, and any outgoing connection of any process (a
database client, an HTTP call) may take it as its source port before the server binds it — which
is how an Airflow api-server once found its port "already in use". Below the range the kernel never
hands a port out by itself, so only another listener that chose the same port can collide, and
the random choice over twenty thousand ports makes that unlikely; a bind test skips ports in use.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_port"]

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000


def _ephemeral_low() -> int:
    try:
        low = int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
    return max(low, _LOWEST + 1000)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now, outside the ephemeral range."""
    candidates = list(range(_LOWEST, _ephemeral_low()))
    random.SystemRandom().shuffle(candidates)
    for port in candidates[:500]:
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port on {host} between {_LOWEST} and {_ephemeral_low()}")
