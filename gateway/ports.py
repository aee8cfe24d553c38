"""What the gateway needs from the license domain, as a narrow interface.

:class:`LicensePort` is implemented over the ``licenses`` package (:mod:`gateway.licensing`); the
gateway's routes talk only to this interface, so the HTTP face and the domain can change apart.
:class:`LicenseView` is the registry view the API shows — holder codes are carried for matching,
and masked (core.masking) before anything leaves the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class HolderView:
    name: str
    code_type: str
    code: str


@dataclass(frozen=True)
class LicenseView:
    license_id: str  # ZZBS
    type_code: str  # ZZLXDM
    name: str  # ZZMC
    number: str  # ZZBH
    issuer_name: str  # ZZBFJG
    issuer_code: str  # ZZBFJGDM
    issue_date: str  # ZZBFRQ
    status: str  # ZZZT code
    status_name: str
    valid_from: str | None = None
    valid_until: str | None = None
    holders: tuple[HolderView, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)  # KZ_* face fields


@dataclass(frozen=True)
class CopyRequest:
    license_id: str
    purpose: str  # purpose code
    purpose_text: str  # the matter, as printed in the annotation
    cause: str
    recipient: str  # department code of the recipient
    until: date


class LicensePort(Protocol):
    def find_by_holder(
        self, code_type: str, code: str, type_code: str | None = None
    ) -> list[LicenseView]: ...

    def get(self, license_id: str) -> LicenseView | None: ...

    def check_verify_code(self, license_id: str, code: str) -> bool: ...

    def make_copy(self, request: CopyRequest) -> bytes: ...

    def verify(self, pdf: bytes, *, as_dept: str | None, at: datetime | None = None) -> dict[str, Any]: ...

    def change_status(self, license_id: str, action: str, reason: str, *, actor: str) -> LicenseView: ...
