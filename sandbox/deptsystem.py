"""The simulated department approval system (部门审批系统): approval data and license status changes.

Two REST feeds with the county feed's cursor shape (``{"items": [{"seq", "row"}], "next_cursor",
"has_more"}``):

* ``GET /v1/approvals`` — 审批结果数据 for finished cases that end in a license (the face fields
  the catalog sources from ``approval``). Approvals the generator marked ``late`` are held back
  until :meth:`DepartmentSystem.release_late` (the department keyed them in days later).
* ``GET /v1/status-changes`` — status changes the department decided on licenses it issued,
  naming the license by type and printed number (ZZBH): ``{"change_id", "type_code",
  "license_no", "project_no", "action", "reason", "changed_at"}``. :func:`plan_status_changes`
  makes a deterministic set from approvals and result rows: suspensions, one illegal transition
  (reinstating a license that is not suspended) and one change naming a license nobody issued.

Authentication: a bearer token or HMAC keys (:mod:`sandbox.feedhttp`); late approvals arrive when
:meth:`DepartmentSystem.release_late` is called, or by themselves after ``late_after_s``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from contracts.wire import APPROVALS_PATH, STATUS_CHANGES_PATH
from sandbox.feedhttp import auth_error, json_reply, page_of, paging


def plan_status_changes(
    approvals: Iterable[Mapping[str, Any]],
    results: Mapping[str, Mapping[str, Any]],
    *,
    seed: int = 0,
    suspensions: int = 3,
    illegal: int = 1,
    unknown: int = 1,
    exclude: Iterable[str] = (),
    at: str = "2026-11-20T10:00:00+08:00",
) -> list[dict[str, Any]]:
    """Status changes for licenses the department issued (``results``: project_no → result row)."""
    rng = random.Random(seed)  # noqa: S311 - test data
    skip = set(exclude)
    eligible = [
        a
        for a in approvals
        if not a.get("late") and a["project_no"] in results and a["project_no"] not in skip
    ]
    rng.shuffle(eligible)
    out: list[dict[str, Any]] = []

    def change(a: Mapping[str, Any] | None, action: str, reason: str, license_no: str | None = None) -> None:
        n = len(out) + 1
        number = license_no if a is None else str(results[a["project_no"]]["result_cert_no"])
        out.append(
            {
                "change_id": f"SC-{seed}-{n:05d}",
                "type_code": a["type_code"] if a else "11100000YL0000012P001",
                "license_no": number,
                "project_no": a["project_no"] if a else None,
                "action": action,
                "reason": reason,
                "changed_at": at,
            }
        )

    for a in eligible[:suspensions]:
        change(a, "suspend", "经营场所与登记不符，责令整改期间暂扣")
    for a in eligible[suspensions : suspensions + illegal]:
        change(a, "reinstate", "整改完成，发还")  # the license is valid, not suspended: refused
    for i in range(unknown):
        change(None, "cancel", "申请人申请注销", license_no=f"NOSUCH{seed:04d}{i:06d}")
    return out


class DepartmentSystem:
    """One department system (per county in the demo)."""

    def __init__(
        self,
        region_code: str,
        approvals: Iterable[Mapping[str, Any]] = (),
        status_changes: Iterable[Mapping[str, Any]] = (),
        *,
        token: str | None = None,
        hmac_keys: Mapping[str, str] | None = None,
        late_after_s: float | None = None,
        max_limit: int = 1000,
    ) -> None:
        self.region_code = region_code
        self.token = token
        self.hmac_keys = dict(hmac_keys or {})
        self.late_after_s = late_after_s  # release the late approvals by themselves after this
        self._started = time.monotonic()
        self.max_limit = max_limit
        self._lock = threading.Lock()
        self._approvals: list[dict[str, Any]] = []
        self._late: list[dict[str, Any]] = []
        for a in approvals:
            row = {k: v for k, v in a.items() if k != "late"}
            (self._late if a.get("late") else self._approvals).append(row)
        self._changes: list[dict[str, Any]] = [dict(c) for c in status_changes]
        self.requests = 0

    @property
    def served_approvals(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._approvals)

    @property
    def late_pending(self) -> int:
        return len(self._late)

    def release_late(self) -> int:
        """The late approval data arrives: it is appended to the feed."""
        with self._lock:
            n = len(self._late)
            self._approvals.extend(self._late)
            self._late = []
            return n

    def add_status_changes(self, changes: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            self._changes.extend(dict(c) for c in changes)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self.requests += 1
        refused = auth_error(environ, self.token, self.hmac_keys)
        if refused:
            return json_reply(start_response, "401 Unauthorized", {"error": refused})
        if (
            self.late_after_s is not None
            and self._late
            and time.monotonic() - self._started >= self.late_after_s
        ):
            self.release_late()
        path = str(environ.get("PATH_INFO"))
        feeds = {APPROVALS_PATH: self._approvals, STATUS_CHANGES_PATH: self._changes}
        if environ.get("REQUEST_METHOD") != "GET" or path not in feeds:
            return json_reply(
                start_response, "404 Not Found", {"error": f"GET {APPROVALS_PATH} | {STATUS_CHANGES_PATH}"}
            )
        asked = paging(environ, self.max_limit)
        if isinstance(asked, str):
            return json_reply(start_response, "400 Bad Request", {"error": asked})
        with self._lock:
            return json_reply(start_response, "200 OK", page_of(feeds[path], *asked))
