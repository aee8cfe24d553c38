"""The status table of DOMAIN.md §3 (data, no I/O): which action takes a license from which status
to which, with which operation code; the actions that make a new version; and the refusal that says
which actions a status allows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from licenses.errors import TransitionRefused
from licenses.views import STATUS_NAMES


@dataclass(frozen=True)
class Transition:
    action: str
    from_statuses: frozenset[str]
    to_status: str
    operation: str
    label: str


TRANSITIONS: Mapping[str, Transition] = {
    t.action: t
    for t in (
        Transition("suspend", frozenset({"01"}), "02", "03", "暂扣"),
        Transition("reinstate", frozenset({"02"}), "01", "06", "暂扣发还"),
        Transition("withdraw", frozenset({"01", "02"}), "03", "07", "撤销"),
        Transition("cancel", frozenset({"01", "02"}), "04", "05", "注销"),
        Transition("revoke", frozenset({"01", "02"}), "07", "07", "吊销"),
        Transition("expire", frozenset({"01", "02"}), "05", "04", "过期失效"),
        Transition("transfer-out", frozenset({"01"}), "06", "07", "办理转出"),
        Transition("cancel-transfer", frozenset({"06"}), "01", "10", "取消转出"),
    )
}
NEW_VERSION_ACTIONS = {"change": ("09", "变更"), "renew": ("02", "延续")}
FINAL_STATUSES = frozenset({"03", "04", "05", "07"})


def issue_operation(request_operation: str, lineage: str | None) -> str:
    """The operation code a new license row records: the request's (01 新发, 08 转入) or its version's."""
    return request_operation if lineage is None else NEW_VERSION_ACTIONS[lineage][0]


def refuse(license_id: str, status: str, action: str) -> TransitionRefused:
    name = STATUS_NAMES.get(status, status)
    if status in FINAL_STATUSES:
        why = f"status {status} {name} is final"
    else:
        allowed = [a for a, t in TRANSITIONS.items() if status in t.from_statuses and a != "expire"]
        if status == "01":
            allowed += list(NEW_VERSION_ACTIONS)
        why = f"from {status} {name} the allowed actions are: {', '.join(allowed) or 'none'}"
    return TransitionRefused(
        f"license {license_id}: cannot {action} — {why} (DOMAIN.md §3)",
        license_id=license_id,
        status=status,
        action=action,
    )
