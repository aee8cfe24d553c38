"""The message log: every exchange with a peer, one row per attempt.

Each record carries the correlation id (one per logical call, shared by its retries), peer,
operation, attempt, the SHA-256 of the request payload, response code, error code and timing.
Bodies are stored only after :func:`core.masking.redact_text` (resident IDs masked, private keys
removed) and cut to ``cap`` bytes; ``cap=0`` stores none. The log is written in its own short
transaction so a failed delivery is still recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import insert, select

from connectors.models import MessageLog
from connectors.soap import Exchange
from core.db import Database
from core.masking import redact_text


def redact_body(body: bytes, cap: int) -> str | None:
    """Redacted, capped text of a body (None when bodies are not kept)."""
    if cap <= 0 or not body:
        return None
    text = body[: cap * 2].decode("utf-8", errors="replace")
    text = redact_text(text)
    raw = text.encode("utf-8")
    if len(raw) > cap:
        text = raw[:cap].decode("utf-8", errors="ignore") + f"…[{len(body)} bytes, cut at {cap}]"
    return text


class MessageLogWriter:
    """A recorder for clients: buffers exchanges and writes them in small groups."""

    def __init__(self, db: Database, *, body_cap: int = 4096, flush_every: int = 20) -> None:
        self.db = db
        self.body_cap = body_cap
        self.flush_every = flush_every
        self._buf: list[dict[str, object]] = []
        self._lock = threading.Lock()

    def __call__(self, ex: Exchange) -> None:
        row = {
            "correlation_id": ex.correlation_id,
            "peer": ex.peer,
            "operation": ex.operation,
            "attempt": ex.attempt,
            "started_at": ex.started_at.isoformat(timespec="milliseconds"),
            "duration_ms": round(ex.duration_ms, 3),
            "rows": ex.rows,
            "payload_sha256": ex.payload_sha256,
            "request_size": len(ex.request_bytes),
            "response_code": ex.response_code,
            "error_code": ex.error_code,
            "error": redact_text(ex.error) if ex.error else None,
            "request_body": redact_body(ex.request_bytes, self.body_cap),
            "response_body": redact_body(ex.response_bytes, self.body_cap),
        }
        with self._lock:
            self._buf.append(row)
            full = len(self._buf) >= self.flush_every or ex.error_code is not None
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._buf = self._buf, []
        if rows:
            with self.db.session() as s:
                s.execute(insert(MessageLog), rows)


def recent(db: Database, peer: str | None = None, limit: int = 50) -> Sequence[MessageLog]:
    with db.session() as s:
        q = select(MessageLog).order_by(MessageLog.id.desc()).limit(limit)
        if peer:
            q = q.where(MessageLog.peer == peer)
        return list(s.scalars(q))
