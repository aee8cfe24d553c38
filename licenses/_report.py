"""The verification report and its fixed reason codes (ARCHITECTURE.md).

A report is a value: ``valid`` is true only when ``reasons`` is empty. ``checks`` records what each
step found (signature, chain, revocation, timestamp, modifications, registry) and ``notes`` the
facts a reader should know even when the license is valid (e.g. "the seal certificate was revoked
after the signature's timestamp").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

TAMPERED: Final = "tampered"
UNTRUSTED_ISSUER: Final = "untrusted_issuer"
SIGNER_REVOKED: Final = "signer_revoked"
TIMESTAMP_INVALID: Final = "timestamp_invalid"
DISALLOWED_CHANGE: Final = "disallowed_change"
STATUS_NOT_VALID: Final = "status_not_valid"
UNKNOWN_LICENSE: Final = "unknown_license"
NOT_A_LICENSE: Final = "not_a_license"
REGISTRY_MISMATCH: Final = "registry_mismatch"
COPY_EXPIRED: Final = "copy_expired"  # annotated copies (sharing)
COPY_RECIPIENT_MISMATCH: Final = "copy_recipient_mismatch"  # annotated copies (sharing)
LICENSE_EXPIRED: Final = "license_expired"  # the moment judged is after 有效期截止日期 (licenses.validity)
NOT_YET_VALID: Final = "not_yet_valid"  # before 有效期起始日期, or before the license was signed

REASON_CODES: Final = (
    TAMPERED,
    UNTRUSTED_ISSUER,
    SIGNER_REVOKED,
    TIMESTAMP_INVALID,
    DISALLOWED_CHANGE,
    STATUS_NOT_VALID,
    UNKNOWN_LICENSE,
    NOT_A_LICENSE,
    COPY_EXPIRED,
    COPY_RECIPIENT_MISMATCH,
    REGISTRY_MISMATCH,
    LICENSE_EXPIRED,
    NOT_YET_VALID,
)

# what each reason means, in the words the verify page and the API show (Chinese)
REASON_TEXT: Final = {
    TAMPERED: "文件内容已被篡改",
    UNTRUSTED_ISSUER: "签章不是由受信任的机构签发",
    SIGNER_REVOKED: "签章证书已被吊销",
    TIMESTAMP_INVALID: "时间戳无效",
    DISALLOWED_CHANGE: "签署后存在不允许的修改",
    STATUS_NOT_VALID: "证照当前状态不是有效",
    UNKNOWN_LICENSE: "证照登记簿中没有此证照",
    NOT_A_LICENSE: "该文件不是电子证照",
    COPY_EXPIRED: "加注件已超过有效期",
    COPY_RECIPIENT_MISMATCH: "加注件的使用单位不符",
    REGISTRY_MISMATCH: "文件与登记簿记录不一致",
    LICENSE_EXPIRED: "证照已超过有效期",
    NOT_YET_VALID: "证照在核验时点尚未生效",
}


def reason_text(reason: str, *, valid_until: str | None = None, valid_from: str | None = None) -> str:
    """The Chinese text of a reason; expiry names the end date (有效期截止日期)."""
    text = REASON_TEXT.get(reason, reason)
    if reason == LICENSE_EXPIRED and valid_until:
        return f"{text}（有效期截止日期 {valid_until}）"
    if reason == NOT_YET_VALID and valid_from:
        return f"{text}（有效期起始日期 {valid_from}）"
    return text


@dataclass
class VerificationReport:
    """What :func:`licenses.verify_license` found in one file."""

    license_id: str | None = None
    status: str | None = None  # registry status code (01 有效 …), None when not registered
    status_name: str | None = None
    kind: str = "license"
    copy: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    certified_sha256: str | None = None
    validity: dict[str, Any] | None = None  # {"from", "until", "at"}: the period and the moment judged

    @property
    def valid(self) -> bool:
        return not self.reasons

    def fail(self, reason: str, note: str | None = None) -> None:
        if reason not in REASON_CODES:
            raise ValueError(f"unknown verification reason {reason!r}")
        if reason not in self.reasons:
            self.reasons.append(reason)
        if note:
            self.notes.append(note)

    def as_dict(self) -> dict[str, Any]:
        """The CLI / API shape: valid, license_id, status, kind, copy, reasons (+ details)."""
        return {
            "valid": self.valid,
            "license_id": self.license_id,
            "status": self.status,
            "status_name": self.status_name,
            "kind": self.kind,
            "copy": self.copy,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "checks": self.checks,
            "certified_sha256": self.certified_sha256,
            "metadata": self.metadata,
            "validity": self.validity,
            "messages": self.messages(),
        }

    def messages(self) -> list[str]:
        """One Chinese sentence per reason (the end date named for ``license_expired``)."""
        v = self.validity or {}
        return [reason_text(r, valid_until=v.get("until"), valid_from=v.get("from")) for r in self.reasons]
