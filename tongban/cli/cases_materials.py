"""``tongban cases materials``: cases held by their materials (registered by ``register``).

    tongban cases materials [--state held|missed|missing|all] [--limit N] [--refresh] [--json]

``held``: e-license references (电子证照免提交) that did not pass, each with its reason
(``license_ref.unknown``, ``license_ref.expired``, ``license_ref.revoked``,
``license_ref.holder_mismatch`` …); ``missed``: 容缺 materials past their supply date, unsupplied
(flagged once by the SLA monitor); ``missing``: every 容缺 material not supplied yet. ``--refresh``
runs the materials flow now (``pipeline.materials.run``, as ``case_quality`` does after each
validation). No row here holds citizen data (case numbers, material names, license identifiers).
Exit codes: 0 listed; 2 missing setup (with what to do).
"""

from __future__ import annotations

from typing import Any

import typer

from core.errors import CoreError
from tongban.cli._common import JsonOpt, console, emit_json, fail, settings

STATES = ("held", "missed", "missing", "all")


def list_materials(
    state: str = typer.Option("held", "--state", help="held, missed, missing or all."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Materials to list (oldest first)."),
    refresh: bool = typer.Option(False, "--refresh", help="Run the materials flow now before listing."),
    json_out: bool = JsonOpt,
) -> None:
    """Cases held by their materials: 容缺 awaiting supply, license references that did not pass."""
    from sqlalchemy import select

    from core.casematerials import DEFERRED, HELD, LICENSE_REF, MISSING, CaseMaterial
    from pipeline import FlowContext, materials

    if state not in STATES:
        fail(f"unknown state {state!r}", hint=f"use one of {', '.join(STATES)}")
    ctx = FlowContext(settings())
    try:
        ran: dict[str, Any] = materials.run(ctx) if refresh else {}
        with ctx.db.session() as s:
            q = select(CaseMaterial).order_by(CaseMaterial.created_at, CaseMaterial.row_guid).limit(limit)
            if state == "held":
                q = q.where(CaseMaterial.kind == LICENSE_REF, CaseMaterial.state == HELD)
            elif state == "missed":
                q = q.where(
                    CaseMaterial.kind == DEFERRED,
                    CaseMaterial.state == MISSING,
                    CaseMaterial.missed_at.is_not(None),
                )
            elif state == "missing":
                q = q.where(CaseMaterial.kind == DEFERRED, CaseMaterial.state == MISSING)
            rows = [
                {
                    "project_no": m.project_no,
                    "material": m.material_name,
                    "kind": m.kind,
                    "state": m.state,
                    "reason": m.reason,
                    "detail": m.detail,
                    "license_ref": m.license_ref,
                    "supply_by": m.supply_by,
                    "supplied_date": m.supplied_date,
                    "missed_at": m.missed_at,
                }
                for m in s.scalars(q)
            ]
        totals = materials.counts(ctx)
    except CoreError as exc:
        fail(f"{exc} [{exc.code}]", hint="run `tongban init` first (database and migrations)")
    finally:
        ctx.close()
    if json_out:
        emit_json({"refresh": ran or None, "counts": totals, "materials": rows})
        return
    if ran:
        console.print(f"materials flow: {ran}")
    console.print(
        f"容缺 {totals['deferred_accepted']} accepted, {totals['deferred_supplied']} supplied, "
        f"{totals['deferred_missed']} missed; licenses reused {totals['licenses_reused']}, "
        f"references held {totals['license_refs_held']} {totals['held_reasons'] or ''}",
        soft_wrap=True,
    )
    for r in rows:
        if r["kind"] == "license_ref":
            what = f"held: {r['reason']} — {r['detail']} ({r['license_ref']})"
        else:
            late = f", missed (flagged {r['missed_at']})" if r["missed_at"] else ""
            what = f"容缺 {r['state']}, supply by {r['supply_by']}{late}"
        console.print(f"  {r['project_no']}  {r['material']}  {what}", soft_wrap=True)


def register(cases_app: typer.Typer) -> None:
    cases_app.command("materials")(list_materials)
