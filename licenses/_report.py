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
)


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
        }
