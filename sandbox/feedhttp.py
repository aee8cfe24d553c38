"""The HTTP side every sandbox REST feed shares: JSON replies, authentication, cursor paging.

Authentication, as the wire contract (``contracts/wire``) describes it — a peer accepts either:

* ``Authorization: Bearer <token>``, or
* HMAC: ``X-Key-Id``, ``X-Timestamp`` (Unix seconds, within ``HMAC_WINDOW_S`` of the server's
  clock) and ``X-Signature`` = hex HMAC-SHA256 of ``METHOD\\nPATH?QUERY\\nTIMESTAMP`` under the
  key id's secret.

A feed with neither a token nor HMAC keys is open. Paging: ``?cursor=<next seq>&limit=<n>``; the
reply is ``{"items": [{"seq", "row"}], "next_cursor", "has_more"}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

HMAC_WINDOW_S = 300


def json_reply(start_response: Callable[..., Any], status: str, doc: Any) -> list[bytes]:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    start_response(
        status, [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


def hmac_signature(secret: str, method: str, path_qs: str, timestamp: str) -> str:
    msg = f"{method}\n{path_qs}\n{timestamp}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def auth_error(
    environ: Mapping[str, Any], token: str | None, hmac_keys: Mapping[str, str] | None
) -> str | None:
    """Why the request is not authenticated, or None when it is (or the feed is open)."""
    if not token and not hmac_keys:
        return None
    if token and hmac.compare_digest(str(environ.get("HTTP_AUTHORIZATION", "")), f"Bearer {token}"):
        return None
    key_id = str(environ.get("HTTP_X_KEY_ID", ""))
    if hmac_keys and key_id:
        secret = hmac_keys.get(key_id)
        ts = str(environ.get("HTTP_X_TIMESTAMP", ""))
        if secret is None:
            return "unknown key id"
        if not ts.isdigit() or abs(time.time() - int(ts)) > HMAC_WINDOW_S:
            return "timestamp missing or outside the allowed window"
        qs = environ.get("QUERY_STRING", "")
        path_qs = str(environ.get("PATH_INFO", "")) + (f"?{qs}" if qs else "")
        good = hmac_signature(secret, str(environ.get("REQUEST_METHOD", "GET")), path_qs, ts)
        if hmac.compare_digest(str(environ.get("HTTP_X_SIGNATURE", "")), good):
            return None
        return "bad signature"
    return "bearer token or HMAC signature required"


def paging(environ: Mapping[str, Any], max_limit: int) -> tuple[int, int] | str:
    """``(cursor, limit)`` from the query string, or the reason it is not acceptable."""
    q = parse_qs(str(environ.get("QUERY_STRING", "")))
    try:
        cursor = int((q.get("cursor") or ["0"])[0] or 0)
        limit = int((q.get("limit") or ["500"])[0])
    except ValueError:
        return "cursor and limit are integers"
    if cursor < 0 or not 1 <= limit <= max_limit:
        return f"cursor >= 0 and limit within 1..{max_limit}"
    return cursor, limit


def page_of(rows: list[dict[str, Any]], cursor: int, limit: int) -> dict[str, Any]:
    part = rows[cursor : cursor + limit]
    nxt = cursor + len(part)
    return {
        "items": [{"seq": cursor + i, "row": r} for i, r in enumerate(part)],
        "next_cursor": str(nxt),
        "has_more": nxt < len(rows),
    }
