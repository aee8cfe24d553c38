"""Case materials (issue 18): 容缺 materials awaiting supply, and e-licenses reused at intake
(电子证照免提交, 共享互用) instead of a paper document. README, "容缺受理 and 免提交", states the rules.

:func:`track` reads the curated ``up_pro_material`` rows (the case store) and keeps
``case_materials`` (:mod:`core.casematerials`) current:

* a 容缺 row (material_state 2) becomes a ``deferred`` material, ``missing`` until a 已补正 row
  (material_state 3; a later cd_operation U row of the same project_no and material_name, with a
  row_guid of its own) arrives — then ``supplied`` with its date (rows of a case arrive in any order
  and across batches, so every run matches the materials still missing);
* an 电子证照 row (material_state 4) becomes a ``license_ref`` material, ``pending``.

:func:`verify` checks every pending reference against the license registry, at ``now``: the license
exists (else ``license_ref.unknown``), its status is 01 有效 (02 → ``license_ref.suspended``, 03
withdrawn, 04 cancelled, 05 expired, 06 transferred_out, 07 revoked, 99 status_other), it is within
its validity (``licenses.validity``: expired / not_yet_valid), and the applicant is one of its
holders — the blind index of the accept row's applyer_id (with its id type) equals a holder's
``code_bidx`` (:mod:`core.sealing`; no name is compared, no code is opened). A reference that
passes is ``verified`` and one use is written to the use ledger (:func:`core.uselog.append_use`, the
shape the sharing API writes): stream ``use.intake``, op ``intake``, purpose 办事, cause = the case
number, department = the case's org_code — so the holder's uses route lists it. One that fails is
``held`` with its reason (a rule id of :data:`contracts.rules.INTAKE_RULES`) and a detail without
personal data. The use and the state change commit in one transaction, keyed by the material
row_guid: a re-run finds the row verified and records nothing again.

Issuance waits (:func:`pipeline.issue.issue_ready` skips a case while :func:`core.casematerials.blocking`
names a material of it); the SLA monitor flags a missed supply date once (:func:`pipeline.sla.flag_missed`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select

from contracts import rules as R
from core.canonical import canonical_json, sha256_hex
from core.casematerials import (
    DEFERRED,
    HELD,
    LICENSE_REF,
    MISSING,
    PENDING,
    SUPPLIED,
    VERIFIED,
    CaseMaterial,
)
from core.casestore import CaseRow, CaseStore
from core.db import utcnow
from core.sealing import crypt_of, holder_kind
from core.uselog import append_use, use_entry
from pipeline.context import FlowContext

MATERIAL = "up_pro_material"
STATE_MISSING, STATE_SUPPLIED, STATE_LICENSE = "2", "3", "4"  # material_state (contracts.codes)
INTAKE_CLIENT = "intake"  # the use ledger's client for uses the gateway records at intake
INTAKE_STREAM = f"use.{INTAKE_CLIENT}"
PURPOSE = "办事"  # contracts.codes use_purpose

_STATUS_REASON = {
    "02": R.LICENSE_REF_SUSPENDED,
    "03": R.LICENSE_REF_WITHDRAWN,
    "04": R.LICENSE_REF_CANCELLED,
    "05": R.LICENSE_REF_EXPIRED,
    "06": R.LICENSE_REF_TRANSFERRED,
    "07": R.LICENSE_REF_REVOKED,
}


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="microseconds")


def track(ctx: FlowContext, *, now: datetime | None = None, page: int = 2000) -> dict[str, int]:
    """Register new 容缺 and license-reference material rows; mark supplied the missing ones whose
    supply row has arrived. Returns counts of this run (``deferred``, ``references``, ``supplied``)."""
    stamp = _stamp(now or utcnow())
    counts: Counter[str] = Counter()
    with ctx.db.session() as s:
        after = 0
        while True:
            rows = list(
                s.scalars(
                    select(CaseRow)
                    .where(CaseRow.table_name == MATERIAL, CaseRow.id > after)
                    .order_by(CaseRow.id)
                    .limit(page)
                )
            )
            if not rows:
                break
            after = rows[-1].id
            wanted = [r for r in rows if r.row().get("material_state") in (STATE_MISSING, STATE_LICENSE)]
            known = set(
                s.scalars(
                    select(CaseMaterial.row_guid).where(
                        CaseMaterial.row_guid.in_([r.row_guid for r in wanted])
                    )
                )
            )
            for r in wanted:
                if r.row_guid in known or not r.project_no:
                    continue
                row = r.row()
                deferred = row.get("material_state") == STATE_MISSING
                s.add(
                    CaseMaterial(
                        row_guid=r.row_guid,
                        project_no=r.project_no,
                        material_name=str(row.get("material_name") or ""),
                        kind=DEFERRED if deferred else LICENSE_REF,
                        state=MISSING if deferred else PENDING,
                        supply_by=row.get("supply_by") if deferred else None,
                        license_ref=None if deferred else row.get("license_ref"),
                        created_at=stamp,
                        updated_at=stamp,
                    )
                )
                counts["deferred" if deferred else "references"] += 1
            s.flush()
        missing = list(
            s.scalars(
                select(CaseMaterial).where(CaseMaterial.kind == DEFERRED, CaseMaterial.state == MISSING)
            )
        )
        by_case = CaseStore().rows_by_project(s, MATERIAL, sorted({m.project_no for m in missing}))
        for m in missing:
            supplies = [
                r
                for r in by_case.get(m.project_no, [])
                if r.get("material_state") == STATE_SUPPLIED
                and r.get("material_name") == m.material_name
                and r.get("supplied_date")
            ]
            if supplies:
                first = min(supplies, key=lambda r: str(r["supplied_date"]))
                m.state, m.supplied_date, m.supplied_guid = (
                    SUPPLIED,
                    str(first["supplied_date"]),
                    first["row_guid"],
                )
                m.updated_at = stamp
                counts["supplied"] += 1
    return {
        "deferred": counts["deferred"],
        "references": counts["references"],
        "supplied": counts["supplied"],
    }


def _judge(s: Any, ref: str, applicant: dict[str, Any], at: datetime) -> tuple[str | None, str, Any]:
    """``(reason or None, detail, license record)`` of one reference for one applicant."""
    from licenses.models import LicenseHolderRow, LicenseRecord
    from licenses.validity import LICENSE_EXPIRED, validity_problem

    rec = s.scalars(select(LicenseRecord).where(LicenseRecord.license_id == ref)).first()
    if rec is None:
        return R.LICENSE_REF_UNKNOWN, f"证照标识 {ref} 在证照库中不存在", None
    if rec.status != "01":
        reason = _STATUS_REASON.get(rec.status, R.LICENSE_REF_STATUS_OTHER)
        return reason, f"证照状态为 {rec.status}，不是 01 有效", rec
    problem = validity_problem(rec.valid_from, rec.valid_until, at)
    if problem is not None:
        reason = R.LICENSE_REF_EXPIRED if problem[0] == LICENSE_EXPIRED else R.LICENSE_REF_NOT_YET_VALID
        return reason, problem[1], rec
    code, code_type = applicant.get("applyer_id"), applicant.get("applyer_id_type")
    if not isinstance(code, str) or not isinstance(code_type, str):
        return R.LICENSE_REF_HOLDER_MISMATCH, "申请人证件信息不完整，无法比对持证主体", rec
    bidx = crypt_of(s).blind(code, kind=holder_kind(code_type))
    holders = s.scalars(
        select(LicenseHolderRow.id).where(
            LicenseHolderRow.license_pk == rec.id,
            LicenseHolderRow.code_bidx == bidx,
            LicenseHolderRow.code_type == code_type,
        )
    ).first()
    if holders is None:
        return R.LICENSE_REF_HOLDER_MISMATCH, "证照持证主体不是本件申请人", rec
    return None, "", rec


def verify(ctx: FlowContext, *, now: datetime | None = None) -> dict[str, Any]:
    """Check every pending license reference (see the module docstring); returns this run's counts
    (``verified``, ``held``, ``uses_recorded``, ``reasons``)."""
    now = now or utcnow()
    stamp = _stamp(now)
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    with ctx.db.session() as s:
        pending = list(
            s.scalars(
                select(CaseMaterial)
                .where(CaseMaterial.kind == LICENSE_REF, CaseMaterial.state == PENDING)
                .order_by(CaseMaterial.created_at, CaseMaterial.row_guid)
            )
        )
        pnos = sorted({m.project_no for m in pending})
    accepts = {}
    if pnos:
        with ctx.db.session() as s:
            accepts = {
                p: rows[0]
                for p, rows in CaseStore().rows_by_project(s, "up_pro_accept", pnos).items()
                if rows
            }
    for m in pending:
        accept = accepts.get(m.project_no)
        if accept is None:
            continue  # a curated material has its accept row; wait for it otherwise
        with ctx.db.session() as s:  # one transaction per material: the use and its record together
            row = s.get(CaseMaterial, m.row_guid)
            if row is None or row.state != PENDING:
                continue
            reason, detail, rec = _judge(s, str(row.license_ref or ""), accept, now)
            row.updated_at = stamp
            if reason is not None:
                row.state, row.reason, row.detail = HELD, reason, detail[:500]
                counts["held"] += 1
                reasons[reason] += 1
                continue
            dept = str(accept.get("org_code") or "")
            used = {
                "project_no": row.project_no,
                "material_row_guid": row.row_guid,
                "license_id": rec.license_id,
            }
            doc = use_entry(
                client_id=INTAKE_CLIENT,
                dept=dept,
                op="intake",
                license_ids=[rec.license_id],
                result="verified",
                payload_sha256=sha256_hex(canonical_json(used)),  # what the use stood for
                request_id=f"{row.project_no}:{row.row_guid}",
                purpose=PURPOSE,
                cause=row.project_no,
                extra={
                    "project_no": row.project_no,
                    "task_code": accept.get("task_code"),
                    "material": row.material_name,
                    "material_row_guid": row.row_guid,
                },
            )
            entry = append_use(
                s, INTAKE_STREAM, "use.intake", doc, client_id=INTAKE_CLIENT, dept_code=dept, now=now
            )
            row.state, row.reason, row.detail = VERIFIED, None, None
            row.use_stream, row.use_seq = entry.stream, entry.seq
            counts["verified"] += 1
            counts["uses_recorded"] += 1
    return {
        "verified": counts["verified"],
        "held": counts["held"],
        "uses_recorded": counts["uses_recorded"],
        "reasons": dict(reasons),
    }


def run(ctx: FlowContext, *, now: datetime | None = None) -> dict[str, Any]:
    """:func:`track`, then :func:`verify` (what the ``case_quality`` DAG runs after validation)."""
    return {**track(ctx, now=now), **verify(ctx, now=now)}


def counts(ctx: FlowContext) -> dict[str, Any]:
    """The figures of the case materials (for the summary and ``tongban cases materials``)."""
    from sqlalchemy import func

    with ctx.db.session() as s:
        by = {
            (str(k), str(st)): int(n)
            for k, st, n in s.execute(
                select(CaseMaterial.kind, CaseMaterial.state, func.count()).group_by(
                    CaseMaterial.kind, CaseMaterial.state
                )
            )
        }
        missed = int(
            s.scalar(
                select(func.count()).select_from(CaseMaterial).where(CaseMaterial.missed_at.is_not(None))
            )
            or 0
        )
        reused = int(
            s.scalar(
                select(func.count(func.distinct(CaseMaterial.license_ref))).where(
                    CaseMaterial.kind == LICENSE_REF, CaseMaterial.state == VERIFIED
                )
            )
            or 0
        )
        held = dict(
            s.execute(
                select(CaseMaterial.reason, func.count())
                .where(CaseMaterial.kind == LICENSE_REF, CaseMaterial.state == HELD)
                .group_by(CaseMaterial.reason)
            ).all()
        )
    deferred = {st: n for (k, st), n in by.items() if k == DEFERRED}
    refs = {st: n for (k, st), n in by.items() if k == LICENSE_REF}
    return {
        "deferred_accepted": sum(deferred.values()),
        "deferred_supplied": deferred.get(SUPPLIED, 0),
        "deferred_missing": deferred.get(MISSING, 0),
        "deferred_missed": missed,
        "licenses_reused": reused,  # distinct licenses
        "paper_documents_avoided": refs.get(VERIFIED, 0),  # material rows a verified license replaced
        "license_refs_held": refs.get(HELD, 0),
        "license_refs_pending": refs.get(PENDING, 0),
        "held_reasons": {str(k): int(v) for k, v in held.items()},
    }
