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
        """Stop in an order that leaves no thread behind holding a closed descriptor number.

        1. in the loop thread: close the listening socket and every connection (keep-alive ones
           too), but not the trigger: worker threads still finishing a request (an injected
           ``timeout`` sleeping, a filler streaming) pull it when they are done;
        2. wait for the worker threads to finish;
        3. close the trigger in the loop thread (the loop ends, its map empty) and join it.

        Closing the trigger first (as waitress's own ``close_all`` does) lets a late worker write
        to a descriptor number that the process may already have given to something else. Each
        step runs in the loop thread through :func:`_in_loop`.
        """
        from waitress import wasyncore

        srv = self.server
        if not self.thread.is_alive():
            return

        def _close_connections() -> None:
            for ch in list(srv._map.values()):
                if ch is srv.trigger:
                    continue
                with contextlib.suppress(OSError):
                    if ch is srv:
                        wasyncore.dispatcher.close(srv)  # the server's own close() shuts the trigger
                    else:
                        ch.close()

        _in_loop(srv, _close_connections)
        srv.task_dispatcher.shutdown(timeout=30)
        _in_loop(srv, srv.trigger.close)
        self.thread.join(timeout=30)


def _in_loop(srv: Any, thunk: Any) -> None:
    """Run ``thunk`` in the server's loop thread.

    waitress's ``pull_trigger(thunk)`` appends the thunk and then writes the wake-up byte; when a
    byte from an earlier pull is still unread, the loop can run the thunk in between — and when
    the thunk closes the trigger, the write goes to a closed descriptor (EBADF, seen in CI) or
    to whatever the process opened under that number since. Holding the trigger's lock across
    both steps keeps the loop from running thunks until the byte is written.
    """
    trig = srv.trigger
    with trig.lock:
        trig.thunks.append(thunk)
        trig._physical_pull()


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
