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

A feed with a token or HMAC keys requires ``Authorization: Bearer <token>`` or an HMAC signature
(:mod:`sandbox.feedhttp`). Wrap the app in
:class:`sandbox.faults.FaultInjector` (``soap=False``) for faults.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from contracts.wire import COUNTY_FEED_PATH as FEED_PATH
from sandbox.feedhttp import auth_error, json_reply, page_of, paging

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
    "joint_no": "LBJBH",
    "theme_code": "YJSZTBM",
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
    "material_state": "CLZT",
    "supply_by": "BZQX",
    "supplied_date": "BZRQ",
    "license_ref": "DZZZBS",
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
        hmac_keys: Mapping[str, str] | None = None,
        max_limit: int = 1000,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
        self.region_code = region_code
        self.layout = layout
        self.token = token
        self.hmac_keys = dict(hmac_keys or {})
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
            return page_of(self._rows, cursor, limit)

    # --- WSGI ---
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self.requests += 1
        refused = auth_error(environ, self.token, self.hmac_keys)
        if refused:
            return json_reply(start_response, "401 Unauthorized", {"error": refused})
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") != FEED_PATH:
            return json_reply(start_response, "404 Not Found", {"error": f"GET {FEED_PATH} only"})
        asked = paging(environ, self.max_limit)
        if isinstance(asked, str):
            return json_reply(start_response, "400 Bad Request", {"error": asked})
        return json_reply(start_response, "200 OK", self.page(*asked))
