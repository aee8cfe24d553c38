"""The HTTP/1.1 protocol the API server runs: uvicorn's httptools protocol with a bound on the
request head (request line and headers).

httptools accumulates a header however long it is, and uvicorn sets no limit, so a client could
make a worker read and hold a 32 MB header before any login. :class:`BoundedHttpToolsProtocol`
counts the bytes of every chunk after which a request's head is still incomplete and, past
:data:`MAX_HEAD_BYTES`, answers ``431 Request Header Fields Too Large`` and closes the connection
(a head is held at most to the bound plus two reads). A chunk that completes a head — with the
start of an upload's body after it — or in which one begins does not count. ``tongban api serve``
passes the class to uvicorn as ``http=``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # request line + headers (nginx's default large buffers are 4 × 8 KiB)

_REFUSAL = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 38\r\n"
    b"connection: close\r\n\r\n"
    b"request headers too large (max 64 KiB)"
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over :data:`MAX_HEAD_BYTES`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # a new connection starts with a request head
        self._head_bytes = 0
        self._began = False  # a head began inside the chunk being parsed (its share is unknown)
        self._refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._began = True, 0, True

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._began = True, 0, True  # what follows is a new head

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._began = False
        super().data_received(data)
        # counted after parsing, whole chunks after which the head is still open; the chunk in which
        # a head began is not counted (it may hold an earlier request and its body), so a head is
        # held at most to the bound plus two reads
        if self._in_head and not self._began:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refused = True
                self.transport.write(_REFUSAL)
                self.transport.close()
