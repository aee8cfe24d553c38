"""Flow 4, issue (``license_issue``): finished cases + department approval data → licenses.

1. :func:`discover_finished` — every accepted result row with result type 1 (准予) whose accepted
   case belongs to a catalog item that ends in a license becomes a ``flow_case_licenses`` row in
   state ``awaiting`` (first seen now; idempotent by ``(project_no, type_code)``); then joint
   cases are tracked and settled (:func:`pipeline.joint.track`).
2. :func:`issue_ready` — awaiting (or failed) cases whose approval data has arrived
   (``flow_approvals``) are issued through :meth:`licenses.LicenseRegistry.issue_many` with the
   request the catalog's field sources give (:func:`licenses.from_case.request_from_case`); the
   idempotency key ``<project_no>:<type_code>`` makes a re-run return the license already issued.
   The rest keep waiting in ``awaiting``, and so does a case with a 容缺 material not yet supplied
   or a license reference not verified (:mod:`pipeline.materials`; README, 容缺受理 and 免提交): its
   license is issued only after the supply (or a passing reference) arrives.
   A member of a joint case (联办件) still open is held (:func:`pipeline.joint.held_select`):
   the licenses of a joint case are issued together once every member has finished, and the
   joint result record is written after them (:func:`pipeline.joint.record_results`).
3. :func:`flag_overdue` — cases awaiting longer than ``settings.pipeline.awaiting_flag_hours`` are
   flagged once (``flagged_at``, one ledger entry each in ``pipeline.flows``).
4. :func:`verify_issued` — re-reads each issued license file from the store and verifies it
   (signature, chain, timestamp, registry status).

The domain events the registry records (``license.issued``) reach the province catalog through
:func:`pipeline.catalog.publish`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from contracts.catalog import load_catalog
from contracts.errors import CatalogError
from core import ledger
from core.casematerials import blocked_projects
from core.casestore import CaseRow
from core.db import insert_ignore, utcnow
from pipeline import joint
from pipeline.context import FLOW_STREAM, FlowContext
from pipeline.models import AWAITING, FAILED, ISSUED, Approval, CaseLicense

RESULT_GRANTED = "1"


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="microseconds")


def discover_finished(ctx: FlowContext, *, now: datetime | None = None, page: int = 2000) -> int:
    """Record finished cases that end in a license (returns how many are new)."""
    catalog = load_catalog()
    stamp = _stamp(now or utcnow())
    new = 0
    after = 0
    while True:
        with ctx.db.session() as s:
            results = list(
                s.scalars(
                    select(CaseRow)
                    .where(CaseRow.table_name == "up_pro_result", CaseRow.id > after)
                    .order_by(CaseRow.id)
                    .limit(page)
                )
            )
            if not results:
                break
            after = results[-1].id
            pnos = sorted({r.project_no for r in results if r.project_no})
            accepts = {
                a.project_no: a.row()
                for a in s.scalars(
                    select(CaseRow).where(CaseRow.table_name == "up_pro_accept", CaseRow.project_no.in_(pnos))
                )
            }
            values = []
            for r in results:
                row = r.row()
                accept = accepts.get(r.project_no)
                if accept is None or row.get("result_type") != RESULT_GRANTED:
                    continue
                try:
                    item = catalog.item(str(accept.get("task_code")))
                except CatalogError:
                    continue
                if item.license is None:
                    continue
                values.append(
                    {
                        "project_no": r.project_no,
                        "type_code": item.license.type_code,
                        "task_code": item.task_code,
                        "license_no": row.get("result_cert_no"),
                        "state": AWAITING,
                        "since": stamp,
                        "updated_at": stamp,
                    }
                )
            new += insert_ignore(s, CaseLicense, values, ("project_no", "type_code"))
    joint.track(ctx, now=now)
    return new


def _ready(
    ctx: FlowContext, limit: int
) -> list[tuple[CaseLicense, dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Cases to issue now: awaiting/failed with approval data, and their accept and result rows."""
    with ctx.db.session() as s:
        pairs = s.execute(
            select(CaseLicense, Approval)
            .join(
                Approval,
                (Approval.project_no == CaseLicense.project_no)
                & (Approval.type_code == CaseLicense.type_code),
            )
            .where(
                CaseLicense.state.in_((AWAITING, FAILED)),
                CaseLicense.project_no.not_in(blocked_projects()),  # 容缺 unsupplied, reference held
                CaseLicense.project_no.not_in(joint.held_select()),  # members of open joint cases wait
            )
            .order_by(CaseLicense.since, CaseLicense.project_no)
            .limit(limit)
        ).all()
        seen: set[tuple[str, str]] = set()
        out = []
        pnos = sorted({c.project_no for c, _ in pairs})
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        if pnos:
            for r in s.scalars(
                select(CaseRow)
                .where(
                    CaseRow.project_no.in_(pnos), CaseRow.table_name.in_(("up_pro_accept", "up_pro_result"))
                )
                .order_by(CaseRow.id)
            ):
                rows.setdefault((str(r.project_no), r.table_name), r.row())
        for c, a in pairs:
            key = (c.project_no, c.type_code)
            accept, result = (
                rows.get((c.project_no, "up_pro_accept")),
                rows.get((c.project_no, "up_pro_result")),
            )
            if key in seen or accept is None or result is None:
                continue
            seen.add(key)
            out.append((c, accept, result, json.loads(a.payload)))
        return out


def issue_ready(
    ctx: FlowContext,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    skip_failed: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Issue every case whose approval data has arrived; returns counts of this run."""
    from licenses.errors import LicenseError
    from licenses.from_case import request_from_case

    chunk = max(1, ctx.settings.pipeline.issue_chunk)
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    tried: set[tuple[str, str]] = set(skip_failed)
    while True:
        ready = [
            r for r in _ready(ctx, chunk + len(tried)) if (r[0].project_no, r[0].type_code) not in tried
        ][:chunk]
        if not ready:
            break
        requests = []
        keyed: list[tuple[CaseLicense, Any]] = []
        for case, accept, result, approval in ready:
            tried.add((case.project_no, case.type_code))
            try:
                req = request_from_case(accept, result, approval, actor="license_issue")
            except (LicenseError, ValueError, KeyError) as exc:
                _mark(ctx, case, FAILED, error=f"{type(exc).__name__}: {exc}")
                counts["failed"] += 1
                errors[getattr(exc, "code", type(exc).__name__)] += 1
                continue
            requests.append(req)
            keyed.append((case, req))
        outcomes = ctx.licenses.issue_many(requests) if requests else []
        for (case, _), outcome in zip(keyed, outcomes, strict=True):
            if outcome.license is not None:
                _mark(ctx, case, ISSUED, license_id=outcome.license.license_id)
                counts["existed" if outcome.license.existed else "issued"] += 1
            else:
                err = outcome.error
                _mark(ctx, case, FAILED, error=f"{getattr(err, 'code', '')}: {err}")
                counts["failed"] += 1
                errors[str(getattr(err, "code", "error"))] += 1
        if on_progress is not None:
            on_progress(counts["issued"] + counts["existed"], counts["failed"])
    joint_results = joint.record_results(ctx)
    return {
        **dict(counts),
        "errors": dict(errors),
        **({"joint_results": joint_results} if joint_results else {}),
    }


def _mark(
    ctx: FlowContext,
    case: CaseLicense,
    state: str,
    *,
    license_id: str | None = None,
    error: str | None = None,
) -> None:
    with ctx.db.session() as s:
        row = s.get(CaseLicense, (case.project_no, case.type_code))
        assert row is not None
        if row.state == ISSUED:
            return
        row.state = state
        row.license_id = license_id or row.license_id
        row.last_error = error[:2000] if error else None
        row.updated_at = _stamp(utcnow())


def flag_overdue(ctx: FlowContext, *, now: datetime | None = None) -> int:
    """Flag cases that have waited too long for approval data (once each)."""
    now = now or utcnow()
    limit = _stamp(now - timedelta(hours=ctx.settings.pipeline.awaiting_flag_hours))
    with ctx.db.session() as s:
        due = list(
            s.scalars(
                select(CaseLicense).where(
                    CaseLicense.state == AWAITING,
                    CaseLicense.flagged_at.is_(None),
                    CaseLicense.since <= limit,
                )
            )
        )
        for c in due:
            c.flagged_at = _stamp(now)
        if due:
            ledger.append_many(
                s,
                FLOW_STREAM,
                [
                    (
                        "license.awaiting_overdue",
                        {"project_no": c.project_no, "type_code": c.type_code, "since": c.since},
                    )
                    for c in due
                ],
                now=now,
            )
        return len(due)


def verify_issued(ctx: FlowContext, *, limit: int | None = None) -> dict[str, Any]:
    """Verify every issued license (or the first ``limit``) from its stored file."""
    from licenses import verify_license

    with ctx.db.session() as s:
        q = select(CaseLicense.license_id).where(CaseLicense.state == ISSUED).order_by(CaseLicense.license_id)
        ids = [i for i in s.scalars(q.limit(limit) if limit else q) if i]
    valid = 0
    reasons: Counter[str] = Counter()
    for lid in ids:
        report = verify_license(ctx.licenses.file(lid), trust=ctx.trust, registry=ctx.licenses)
        if report.valid:
            valid += 1
        reasons.update(report.reasons)
    return {"checked": len(ids), "valid": valid, "reasons": dict(reasons)}
