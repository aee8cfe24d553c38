"""The gate of department records (quality.inbound): every reason a rule id of the contract with
its field, approval data checked against the service item catalog, status changes against the
contract model the department OpenAPI document is made from."""

from __future__ import annotations

from typing import Any

from quality.inbound import check_approval


def _approval(**over: Any) -> dict[str, Any]:
    from contracts.catalog import load_catalog

    item = next(
        i
        for i in load_catalog().items
        if i.license and i.region_code == "510129" and "holders" not in i.approval_keys
    )
    assert item.license is not None
    doc = {
        "approval_id": "AP-1",
        "project_no": "51012926010100000001",
        "task_code": item.task_code,
        "type_code": item.license.type_code,
        "org_code": item.department,
        "approved_date": "2026-01-05",
        "sent_at": "2026-01-05T10:00:00+08:00",
        "fields": {k: "某值" for k in item.approval_keys},
    }
    doc.update(over)
    return doc


def test_approval_gate_names_every_reason() -> None:
    ok, reasons = check_approval(_approval())
    assert ok is not None and reasons == []
    _, reasons = check_approval(_approval(type_code="11100000YL0000020J001", fields={}))
    rules = {r["rule_id"] for r in reasons}
    assert rules == {"approval.type_mismatch", "approval.missing_field"}
    _, reasons = check_approval(_approval(task_code="NOSUCHITEM"))
    assert [r["rule_id"] for r in reasons] == ["approval.unknown_item"]
    _, reasons = check_approval(_approval(approved_date="2026/01/05"))
    assert reasons and reasons[0]["rule_id"] == "approval.schema" and reasons[0]["field"] == "approved_date"


def test_department_feed_reasons_are_contract_rule_ids() -> None:
    """Every reason the inbound flow gives is a rule of contracts.rules (never a free string), with a
    description for the quarantine report; none collides with a case-table rule."""
    from contracts.rules import INBOUND_RULES, RULES
    from quality.inbound import check_status_change

    given = {r["rule_id"] for r in check_approval(_approval(type_code="11100000YL0000020J001", fields={}))[1]}
    given |= {r["rule_id"] for r in check_approval(_approval(task_code="NOSUCHITEM"))[1]}
    given |= {r["rule_id"] for r in check_status_change({"action": "explode"})}
    # the status-change gate is the contract model the department OpenAPI document is made from
    good = {
        "change_id": "SC-1",
        "type_code": "11100000YL0000012P001",
        "license_no": "NO-1",
        "project_no": "510129000000000003",
        "action": "suspend",
        "reason": "经营场所与登记不符",
        "changed_at": "2026-11-20T10:00:00+08:00",
    }
    assert check_status_change(good) == []
    for bad, field in (({"changed_at": "yesterday"}, "changed_at"), ({"action": "explode"}, "action")):
        reasons = check_status_change({**good, **bad})
        assert [(r["rule_id"], r["field"]) for r in reasons] == [("status.schema", field)], reasons
    assert given and given <= set(INBOUND_RULES)
    assert not set(INBOUND_RULES) & set(RULES)
    assert all(r.description and r.severity == "quarantine" for r in INBOUND_RULES.values())
    assert {r.tables for r in INBOUND_RULES.values()} == {
        ("department_approval",),
        ("department_status_change",),
    }
