"""REST client on httpx for county feeds and department systems.

Bearer or HMAC auth (``X-Key-Id``, ``X-Timestamp``, ``X-Signature`` = hex HMAC-SHA256 over
``METHOD\\nPATH?QUERY\\nTIMESTAMP``), connect/read timeouts from :class:`~connectors.resilience.Timing`,
a body cap (streamed; a reply over ``max_response_bytes`` is cut off), retries with backoff and
jitter on retryable errors only, a circuit breaker per endpoint, one pooled ``httpx.Client``
(keep-alive). Every attempt is handed to the message-log recorder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.errors import MalformedResponse, ResponseTooLarge, http_status_error, translate
from connectors.resilience import CircuitBreaker, Timing, breaker_for, call_with_retry
from connectors.soap import Exchange, Recorder


@dataclass(frozen=True)
class Auth:
    kind: str = "none"  # none | bearer | hmac
    token: str | None = None
    key_id: str | None = None
    secret: str | None = None

    def headers(self, method: str, path_qs: str) -> dict[str, str]:
        if self.kind == "bearer":
            return {"Authorization": f"Bearer {self.token}"}
        if self.kind == "hmac":
            ts = str(int(time.time()))
            msg = f"{method}\n{path_qs}\n{ts}".encode()
            sig = hmac.new((self.secret or "").encode(), msg, hashlib.sha256).hexdigest()
            return {"X-Key-Id": self.key_id or "", "X-Timestamp": ts, "X-Signature": sig}
        return {}


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool


class RestClient:
    def __init__(
        self,
        base_url: str,
        *,
        peer: str,
        auth: Auth | None = None,
        timing: Timing | None = None,
        recorder: Recorder | None = None,
        transport: httpx.BaseTransport | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.peer = peer
        self.auth = auth or Auth()
        self.timing = timing or Timing()
        self.recorder = recorder
        t = self.timing
        self.http = httpx.Client(
            timeout=httpx.Timeout(t.read_timeout_s, connect=t.connect_timeout_s),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
            transport=transport,
        )
        self.breaker = breaker or breaker_for(f"{peer}:{self.base_url}", t)

    def close(self) -> None:
        self.http.close()

    def get_json(self, path: str, params: dict[str, Any], operation: str) -> Any:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        path_qs = path + (f"?{query}" if query else "")
        correlation = uuid.uuid4().hex

        def attempt(n: int) -> Any:
            ex = Exchange(
                correlation, self.peer, operation, n, dt.datetime.now(dt.UTC), request_bytes=path_qs.encode()
            )
            t0 = time.perf_counter()
            try:
                headers = self.auth.headers("GET", path_qs)
                with self.http.stream("GET", self.base_url + path_qs, headers=headers) as resp:
                    ex.response_code = resp.status_code
                    declared = int(resp.headers.get("content-length") or -1)
                    cap = self.timing.max_response_bytes
                    if declared > cap:
                        raise ResponseTooLarge(
                            f"reply announces {declared} bytes, more than the limit of {cap}"
                        )
                    buf = bytearray()
                    for chunk in resp.iter_bytes():
                        buf += chunk
                        if len(buf) > cap:
                            raise ResponseTooLarge(f"reply exceeded the limit of {cap} bytes")
                    ex.response_bytes = bytes(buf[:65536])
                    if resp.status_code >= 400:
                        raise http_status_error(resp.status_code, bytes(buf[:200]).decode("utf-8", "replace"))
                try:
                    return json.loads(bytes(buf))
                except ValueError as exc:
                    raise MalformedResponse(f"reply is not JSON: {exc}") from exc
            except Exception as exc:
                err = translate(exc, peer=self.peer, operation=operation, attempt=n)
                ex.error_code, ex.error = err.code, err.message
                raise err from exc
            finally:
                ex.duration_ms = (time.perf_counter() - t0) * 1000
                if self.recorder is not None:
                    self.recorder(ex)

        return call_with_retry(
            attempt, timing=self.timing, breaker=self.breaker, peer=self.peer, operation=operation
        )

    def page(self, path: str, cursor: str | None, limit: int, operation: str = "GetChanges") -> Page:
        doc = self.get_json(path, {"cursor": cursor, "limit": limit}, operation)
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
            raise MalformedResponse("page has no rows list", peer=self.peer, operation=operation)
        return Page(list(doc["rows"]), doc.get("next_cursor"), bool(doc.get("has_more")))
