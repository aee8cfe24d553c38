"""From a finished case (办件) to an issue request, as the service item catalog says.

The catalog (``contracts.catalog``) names, for each item that ends in a license, the source of
every license field: the accept row, the result row, the department's approval data, a constant,
or the type's validity rule. :func:`request_from_case` applies those sources; the idempotency key
is ``<project_no>:<type_code>`` so a re-run of the pipeline returns the license already issued.
A case whose approval data is missing raises :class:`AwaitingApproval` (the DAG keeps it waiting).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.catalog import ServiceItem, load_catalog
from licenses._face import Holder, IssueRequest
from licenses.errors import LicenseError, LicenseTypeError


class AwaitingApproval(LicenseError):
    """The case ended in a license but the department's approval data has not arrived."""

    code = "LICENSE_AWAITING_APPROVAL"


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def idempotency_key(project_no: str, type_code: str) -> str:
    return f"{project_no}:{type_code}"


def request_from_case(
    accept: Mapping[str, Any],
    result: Mapping[str, Any],
    approval: Mapping[str, Any] | None,
    *,
    item: ServiceItem | None = None,
    actor: str = "license_issue",
) -> IssueRequest:
    """The issue request for one finished case (rows as dicts with the contract's column names)."""
    item = item or load_catalog().item(str(accept["task_code"]))
    if item.license is None:
        raise LicenseTypeError(f"service item {item.task_code} ({item.name}) does not end in a license")
    sources = item.license.sources
    needs_approval = any(s.source == "approval" for s in sources.values())
    if needs_approval and approval is None:
        raise AwaitingApproval(
            f"case {accept.get('project_no')}: approval data of {item.name} has not arrived"
        )
    appr = approval or {}
    appr_fields: Mapping[str, Any] = appr.get("fields") or {}

    def value(target: str) -> Any:
        src = sources.get(target)
        if src is None:
            return None
        if src.source == "accept":
            return accept.get(src.column or "")
        if src.source == "result":
            return result.get(src.column or "")
        if src.source == "approval":
            if src.key == "holders":
                return appr.get("holders")
            return appr_fields.get(src.key or "")
        if src.source == "constant":
            return src.value
        return None  # "rule": computed by the registry from the type's validity rule

    holders: list[Holder] = []
    listed = value("holders")
    if isinstance(listed, list) and listed:
        holders = [Holder(str(h["CZZT"]), str(h["CZZTDM"]), str(h["CZZTDMLX"])) for h in listed]
    else:
        holders = [Holder(str(value("CZZT") or ""), str(value("CZZTDM") or ""), str(value("CZZTDMLX") or ""))]
    fields = {k: str(v) for k in sources if k.startswith("KZ_") and (v := value(k)) not in (None, "")}
    from contracts.licensetypes import license_type

    rule = license_type(item.license.type_code).validity.rule
    valid_until = _date(appr.get("valid_until")) if rule == "from_approval" else None  # else: the type's rule
    return IssueRequest(
        type_code=item.license.type_code,
        issuer_code=item.department,
        holders=holders,
        fields=fields,
        license_no=(str(v) if (v := value("ZZBH")) else None),
        issue_date=_date(value("ZZBFRQ")),
        valid_from=_date(value("ZZYXQQSRQ")) or _date(appr.get("valid_from")),
        valid_until=valid_until,
        idempotency_key=idempotency_key(str(accept["project_no"]), item.license.type_code),
        actor=actor,
    )
