"""The gate of department records (审批结果数据 and license status changes) before they are landed.

Approval data: the contract's model (:class:`contracts.models.DepartmentApproval`) and the service
item catalog — the item exists and ends in a license, the license type and the approving
department are the item's, and every face field the catalog sources from ``approval`` is present.
Status changes: the contract's model (:class:`contracts.models.DepartmentStatusChange`). Every
reason names its rule (``approval.*``, ``status.*`` in :mod:`contracts.rules`) and field; the
pipeline (:mod:`pipeline.inbound`) quarantines what fails, with all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from contracts import rules as R
from contracts.catalog import load_catalog
from contracts.errors import CatalogError
from contracts.models import DepartmentApproval, DepartmentStatusChange

__all__ = ["check_approval", "check_status_change", "reason"]


def reason(rule_id: str, fld: str | None, detail: str) -> dict[str, Any]:
    """One quarantine reason: rule id, field (dotted path or None) and a detail of at most 300 chars."""
    return {"rule_id": rule_id, "field": fld, "detail": detail[:300]}


def check_approval(row: Mapping[str, Any]) -> tuple[DepartmentApproval | None, list[dict[str, Any]]]:
    """The approval and no reasons, or None and every reason it fails."""
    try:
        appr = DepartmentApproval.model_validate({k: v for k, v in row.items() if k != "late"})
    except ValidationError as exc:
        return None, [
            reason(R.APPROVAL_SCHEMA, ".".join(str(p) for p in e["loc"]) or None, e["msg"])
            for e in exc.errors()
        ]
    reasons: list[dict[str, Any]] = []
    try:
        item = load_catalog().item(appr.task_code)
    except CatalogError:
        return None, [reason(R.APPROVAL_UNKNOWN_ITEM, "task_code", f"no service item {appr.task_code}")]
    if item.license is None:
        return None, [reason(R.APPROVAL_NO_LICENSE, "task_code", f"{item.name} does not end in a license")]
    if appr.type_code != item.license.type_code:
        reasons.append(
            reason(R.APPROVAL_TYPE_MISMATCH, "type_code", f"{item.name} issues {item.license.type_code}")
        )
    if appr.org_code != item.department:
        reasons.append(
            reason(R.APPROVAL_ORG_MISMATCH, "org_code", f"{item.name} is decided by {item.department}")
        )
    for key in dict.fromkeys(item.approval_keys):
        if key == "holders":
            if not appr.holders:
                reasons.append(
                    reason(R.APPROVAL_MISSING_FIELD, "holders", "the item takes its holders from approval")
                )
        elif not appr.fields.get(key):
            reasons.append(
                reason(R.APPROVAL_MISSING_FIELD, f"fields.{key}", f"{key} is sourced from approval")
            )
    return (None if reasons else appr), reasons


def check_status_change(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every reason a status-change record fails its contract (:class:`DepartmentStatusChange`)."""
    try:
        DepartmentStatusChange.model_validate(row)
    except ValidationError as exc:
        return [
            reason(R.STATUS_SCHEMA, ".".join(str(p) for p in e["loc"]) or None, e["msg"])
            for e in exc.errors()
        ]
    return []
