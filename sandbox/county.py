"""The simulated county window system (县窗口系统): a REST feed of changed case rows, cursor paginated,
and the department approval system. Plain WSGI apps (no framework), served by waitress.

County feed — ``GET /v1/cases/changes?cursor=C&limit=N`` with ``Authorization: Bearer <token>``::

    {"rows": [...], "next_cursor": "…", "has_more": true}

Rows are :mod:`sandbox.data` rows ``0..count-1`` in change order. Layout ``standard`` sends the
contract's columns with ``"table"``; layout ``vendor_b`` (another vendor's system) sends
``{"BIAOMING": "SL", "BJBH": …, "WYBS": …, "TBSJ": "2026-03-02 08:30:13", "DATA": {"TASK_CODE": …,
"APPLY_DATE": "20260302", …}}`` — other names, a table code, dates without dashes, local times
without offset. The cursor is opaque (base64 of the last index served).

Department — ``GET /v1/approvals?cursor=C&limit=N`` with an HMAC signature
(``X-Key-Id``, ``X-Timestamp``, ``X-Signature`` = hex HMAC-SHA256 over
``METHOD\\nPATH?QUERY\\nTIMESTAMP``): approval data for finished cases. Every ``late_every``-th
approval is late: it enters the change log only ``late_after_s`` after the server started (after
the on-time ones, so a cursor never skips it).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from contracts.fields import TABLES
from sandbox.data import approval, case_row

VENDOR_B_TABLE_CODES = {
    "up_pro_accept": "SL",
    "up_pro_process": "GC",
    "up_pro_special_procedure": "TB",
    "up_pro_result": "BJ",
    "up_pro_material": "CL",
    "up_pro_evaluation": "PJ",
}
_VENDOR_SYNC = {
    "project_no": "BJBH",
    "row_guid": "WYBS",
    "cd_batch": "PCH",
    "cd_operation": "CZLX",
    "data_source": "SJLY",
}


def to_vendor_b(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The other vendor's layout of a contract row."""
    spec = TABLES[table]
    out: dict[str, Any] = {"BIAOMING": VENDOR_B_TABLE_CODES[table]}
    data: dict[str, Any] = {}
    for f in spec.fields:
        v = row.get(f.name)
        if f.name in _VENDOR_SYNC:
            out[_VENDOR_SYNC[f.name]] = v
            continue
        if f.name == "cd_time":
            out["TBSJ"] = dt.datetime.fromisoformat(str(v)).strftime("%Y-%m-%d %H:%M:%S")
            continue
        if v is not None and f.type == "date":
            v = str(v).replace("-", "")
        elif v is not None and f.type == "timestamp":
            v = dt.datetime.fromisoformat(str(v)).strftime("%Y-%m-%d %H:%M:%S")
        elif v is not None and f.type == "integer":
            v = str(v)  # this vendor sends numbers as strings
        data[f.name.upper()] = v
    out["DATA"] = data
    return out


def encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"i": index}).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["i"])


def _json(start_response: Callable[..., Any], status: str, doc: Any) -> Iterable[bytes]:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    start_response(
        status, [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


@dataclass
class CountyFeed:
    source: str  # the county's region code (data_source)
    count: int
    seed: int = 1
    layout: str = "standard"  # standard | vendor_b
    token: str = "county-token"  # noqa: S105 - sandbox credential
    max_limit: int = 2000
    requests: int = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.token}":
            return _json(start_response, "401 Unauthorized", {"error": "bad token"})
        if environ.get("PATH_INFO") != "/v1/cases/changes":
            return _json(start_response, "404 Not Found", {"error": "no such resource"})
        q = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            start = decode_cursor(q.get("cursor", [""])[0])
            limit = min(self.max_limit, int(q.get("limit", ["500"])[0]))
        except (ValueError, KeyError):
            return _json(start_response, "400 Bad Request", {"error": "bad cursor or limit"})
        self.requests += 1
        end = min(self.count, start + limit)
        rows = []
        for i in range(start, end):
            table, row = case_row(self.seed, self.source, i, region=self.source)
            rows.append({"table": table, **row} if self.layout == "standard" else to_vendor_b(table, row))
        return _json(
            start_response,
            "200 OK",
            {"rows": rows, "next_cursor": encode_cursor(end), "has_more": end < self.count},
        )


def hmac_signature(secret: str, method: str, path_qs: str, timestamp: str) -> str:
    msg = f"{method}\n{path_qs}\n{timestamp}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


@dataclass
class DepartmentSystem:
    source: str
    cases: int
    seed: int = 1
    key_id: str = "dept"
    secret: str = "dept-secret"  # noqa: S105 - sandbox credential
    late_every: int = 5
    late_after_s: float = 1.0
    started: float = field(default_factory=time.monotonic)

    def _log(self) -> list[int]:
        finished = [c for c in range(self.cases) if c % 3 == 0]  # cases that end with a result row
        on_time = [c for i, c in enumerate(finished) if i % self.late_every]
        late = [c for i, c in enumerate(finished) if not i % self.late_every]
        if time.monotonic() - self.started >= self.late_after_s:
            return on_time + late
        return on_time

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path_qs = environ.get("PATH_INFO", "") + (
            "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""
        )
        ts = environ.get("HTTP_X_TIMESTAMP", "")
        sig = environ.get("HTTP_X_SIGNATURE", "")
        good = hmac_signature(self.secret, environ.get("REQUEST_METHOD", "GET"), path_qs, ts)
        if environ.get("HTTP_X_KEY_ID") != self.key_id or not hmac.compare_digest(sig, good):
            return _json(start_response, "401 Unauthorized", {"error": "bad signature"})
        if environ.get("PATH_INFO") != "/v1/approvals":
            return _json(start_response, "404 Not Found", {"error": "no such resource"})
        q = parse_qs(environ.get("QUERY_STRING", ""))
        start = decode_cursor(q.get("cursor", [""])[0])
        limit = int(q.get("limit", ["200"])[0])
        log = self._log()
        end = min(len(log), start + limit)
        items = [approval(self.seed, self.source, c) for c in log[start:end]]
        return _json(
            start_response,
            "200 OK",
            {"rows": items, "next_cursor": encode_cursor(end), "has_more": end < len(log)},
        )
