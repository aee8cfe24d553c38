"""Serving a sandbox WSGI app with waitress, in a background thread or in the foreground.

waitress keeps connections alive (FACTS.md: spyne under wsgiref opens a connection per call).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from waitress.server import create_server


@dataclass
class RunningServer:
    """A waitress server on loopback, running in a daemon thread."""

    server: Any
    thread: threading.Thread
    host: str
    port: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        """Stop: close every channel (keep-alive ones too) inside the loop thread, then join."""
        srv = self.server

        def _close_all() -> None:
            for ch in list(srv._map.values()):
                with contextlib.suppress(OSError):
                    ch.close()

        srv.trigger.pull_trigger(_close_all)
        self.thread.join(timeout=5)
        srv.task_dispatcher.shutdown(timeout=2)


def start(app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 8) -> RunningServer:
    """Start ``app`` on ``host:port`` (0: a free port) in a background thread."""
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        channel_timeout=30,
        asyncore_loop_timeout=0.05,
        connection_limit=200,
        clear_untrusted_proxy_headers=True,
        ident="tongban-sandbox",
    )
    actual_port = int(server.effective_port)
    thread = threading.Thread(target=server.run, name=f"sandbox-{actual_port}", daemon=True)
    thread.start()
    return RunningServer(server, thread, host, actual_port)


def serve_forever(app: Any, host: str, port: int, threads: int = 8) -> None:
    """Serve in the foreground (``tongban sandbox serve``)."""
    server = create_server(app, host=host, port=port, threads=threads, ident="tongban-sandbox")
    server.run()
