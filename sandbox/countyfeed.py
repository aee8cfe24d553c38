"""The simulated county window system (一窗受理系统): a REST feed of changed case rows.

``GET /v1/changes?cursor=<c>&limit=<n>`` answers ``{"items": [{"seq": s, "row": {...}}, ...],
"next_cursor": "<c'>", "has_more": bool}``: rows in the order the window system recorded them
(``seq`` grows by one per row; the cursor is the next ``seq``, opaque to clients). New rows can be
appended while the feed runs (:meth:`CountyFeed.append`), as a live system would.

Two vendor layouts:

* ``standard`` — rows exactly as the contract names them, tagged ``"table": "up_pro_accept"`` …
* ``vendor_b`` — another vendor's system (e.g. 天全县): upper-case pinyin field names and a record
  type code instead of the table name (``"SJLX": "SL"`` …). Values are passed through unchanged,
  so whatever a county sends wrong stays wrong for the quality gate to find.

``Authorization: Bearer <token>`` is required when the feed has a token. Wrap the app in
:class:`sandbox.faults.FaultInjector` (``soap=False``) for faults.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

# the other vendor's names: record types and fields (its own spelling; our side maps them back)
VENDOR_B_TYPES: Mapping[str, str] = {
    "up_pro_accept": "SL",
    "up_pro_process": "GC",
    "up_pro_special_procedure": "TBCX",
    "up_pro_result": "BJ",
    "up_pro_material": "CL",
    "up_pro_evaluation": "PJ",
}
VENDOR_B_FIELDS: Mapping[str, str] = {
    "project_no": "SBLSH",
    "task_code": "SXBM",
    "task_version": "SXBBH",
    "task_name": "SXMC",
    "region_code": "XZQHDM",
    "org_code": "SLJGDM",
    "org_name": "SLJGMC",
    "applyer_type": "SQRLX",
    "applyer_name": "SQRMC",
    "applyer_id_type": "SQRZJLX",
    "applyer_id": "SQRZJHM",
    "apply_date": "SQSJ",
    "accept_date": "SLSJ",
    "promise_day": "CNBJSX",
    "anticipate_day": "FDBJSX",
    "promise_date": "CNBJRQ",
    "handle_mode": "BLFS",
    "node_name": "HJMC",
    "handler": "BLR",
    "handle_date": "BLSJ",
    "node_result": "BLJG",
    "opinion": "BLYJ",
    "procedure_type": "TBCXLX",
    "start_date": "TBCXKSRQ",
    "end_date": "TBCXJSRQ",
    "result_date": "BJRQ",
    "result_type": "BJJGLX",
    "result_cert_name": "JGZZMC",
    "result_cert_no": "JGZZBH",
    "material_name": "CLMC",
    "material_type": "CLLX",
    "eval_level": "PJDJ",
    "eval_date": "PJRQ",
    "channel": "PJQD",
    "row_guid": "WYBS",
    "cd_batch": "TBPC",
    "cd_operation": "CZLX",
    "cd_time": "TBSJ",
    "data_source": "SJLY",
}
LAYOUTS = ("standard", "vendor_b")


def to_vendor_b(row: Mapping[str, Any]) -> dict[str, Any]:
    """A contract-layout row as the other vendor's system sends it."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "table":
            out["SJLX"] = VENDOR_B_TYPES.get(str(value), str(value))
        else:
            out[VENDOR_B_FIELDS.get(key, key)] = value
    return out


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines case file (lines that are not JSON objects are kept as raw strings)."""
    rows: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as f:
        for raw in f:
            text = raw.strip()
            if text:
                rows.append(json.loads(text))
    return rows


class CountyFeed:
    """One county's feed: rows in recording order, served by cursor."""

    def __init__(
        self,
        region_code: str,
        rows: Iterable[Mapping[str, Any]] = (),
        *,
        layout: str = "standard",
        token: str | None = None,
        max_limit: int = 1000,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
        self.region_code = region_code
        self.layout = layout
        self.token = token
        self.max_limit = max_limit
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.requests = 0
        self.append(rows)

    def append(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Record more rows (a live window system keeps accepting cases)."""
        conv: Callable[[Mapping[str, Any]], dict[str, Any]] = (
            to_vendor_b if self.layout == "vendor_b" else dict
        )
        new = [conv(r) for r in rows]
        with self._lock:
            self._rows.extend(new)
            return len(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def page(self, cursor: int, limit: int) -> dict[str, Any]:
        with self._lock:
            part: Sequence[dict[str, Any]] = self._rows[cursor : cursor + limit]
            total = len(self._rows)
        nxt = cursor + len(part)
        return {
            "items": [{"seq": cursor + i, "row": r} for i, r in enumerate(part)],
            "next_cursor": str(nxt),
            "has_more": nxt < total,
        }

    # --- WSGI ---
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self.requests += 1
        if self.token and environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.token}":
            return _json(start_response, "401 Unauthorized", {"error": "bearer token required"})
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") != "/v1/changes":
            return _json(start_response, "404 Not Found", {"error": "GET /v1/changes only"})
        q = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            cursor = int((q.get("cursor") or ["0"])[0] or 0)
            limit = int((q.get("limit") or ["500"])[0])
        except ValueError:
            return _json(start_response, "400 Bad Request", {"error": "cursor and limit are integers"})
        if cursor < 0 or not 1 <= limit <= self.max_limit:
            return _json(start_response, "400 Bad Request", {"error": f"limit within 1..{self.max_limit}"})
        return _json(start_response, "200 OK", self.page(cursor, limit))


def _json(start_response: Callable[..., Any], status: str, doc: Any) -> list[bytes]:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    start_response(
        status, [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
