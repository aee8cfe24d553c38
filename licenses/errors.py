"""The exception tree of ``licenses``; every error carries a stable ``code``. Its base hangs from the
error kernel, :class:`contracts.errors.TongbanError` (``code``, ``message``, ``as_dict()``).

LicenseError                       base; ``code`` is stable, the message says what to do
├── LicenseTypeError               unknown type, missing or unknown face field, bad holder
│   └── ValidityEnded              the end of validity (ZZYXQJZRQ) has passed: not issued
├── AwaitingApproval               a case's license waits for its approval data (licenses.from_case)
├── RenderError                    the face cannot be drawn
│   └── GlyphMissing               a character no configured font can draw (names it, U+XXXX)
├── SigningError                   the seal key, certificate, timestamp or PDF signing failed
├── RegistryError                  registry read/write problems
│   ├── LicenseNotFound            no license with that identifier
│   ├── UniquenessConflict         the type's uniqueness key already has a valid license
│   └── IdempotencyConflict        an idempotency key was reused for a different request
├── TransitionRefused              a status change the transition table does not allow
├── CopyRefused                    the original is not valid: no annotated copy (licenses.copies)
├── VerificationFailed             raised by the strict verifier; carries the report
└── PkiError                       PKI: CA, seal certificates, CRL, TSA (licenses/pki)
    ├── UnknownDepartment          a department code or USCC not in the department list
    └── …                          the rest of the PKI branch: licenses.pki.errors
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contracts.errors import TongbanError

if TYPE_CHECKING:
    from licenses._report import VerificationReport


class LicenseError(TongbanError):
    """Base of every error raised by ``licenses``."""

    code = "LICENSE_ERROR"


class LicenseTypeError(LicenseError):
    code = "LICENSE_TYPE"


class ValidityEnded(LicenseTypeError):
    """An issue request whose end of validity (有效期截止日期, ZZYXQJZRQ) is before today: refused."""

    code = "LICENSE_VALIDITY_ENDED"

    def __init__(self, *, case: str | None, valid_until: str, today: str) -> None:
        where = f"办件/请求 {case}" if case else "签发请求"
        super().__init__(
            f"{where}：字段 ZZYXQJZRQ（有效期截止日期）{valid_until} 早于今天 {today}，"
            "有效期已过的证照不予签发；请核对审批数据中的有效期"
        )
        self.case = case
        self.field = "ZZYXQJZRQ"
        self.valid_until = valid_until

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "case": self.case, "field": self.field, "valid_until": self.valid_until}


class RenderError(LicenseError):
    code = "LICENSE_RENDER"


class GlyphMissing(RenderError):
    """No configured font has a glyph for ``char``; never drawn as an empty box."""

    code = "LICENSE_GLYPH_MISSING"

    def __init__(self, char: str, where: str, fonts: list[str]) -> None:
        super().__init__(
            f"character {char!r} (U+{ord(char):04X}) in {where} has no glyph in the fonts "
            f"{', '.join(fonts)}; add a font that covers it (TONGBAN_LICENSES__FALLBACK_FONTS) "
            "or correct the value"
        )
        self.char = char
        self.where = where


class SigningError(LicenseError):
    code = "LICENSE_SIGNING"


class RegistryError(LicenseError):
    code = "LICENSE_REGISTRY"


class LicenseNotFound(RegistryError):
    code = "LICENSE_NOT_FOUND"


class UniquenessConflict(RegistryError):
    code = "LICENSE_UNIQUENESS"

    def __init__(self, message: str, *, existing_id: str | None = None) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class IdempotencyConflict(RegistryError):
    code = "LICENSE_IDEMPOTENCY"


class TransitionRefused(LicenseError):
    """A status change that DOMAIN.md §3's transition table does not allow."""

    code = "LICENSE_TRANSITION"

    def __init__(self, message: str, *, license_id: str, status: str, action: str) -> None:
        super().__init__(message)
        self.license_id = license_id
        self.status = status
        self.action = action


class VerificationFailed(LicenseError):
    """Raised by :func:`licenses.verify_license_strict`; ``report`` says why."""

    code = "LICENSE_NOT_VALID"

    def __init__(self, report: VerificationReport) -> None:
        super().__init__(f"license not valid: {', '.join(report.reasons) or 'unknown'}")
        self.report = report

    @property
    def details(self) -> dict[str, Any]:
        return self.report.as_dict()


class PkiError(LicenseError):
    """PKI failures (licenses/pki): CA, seal and platform certificates, CRL, TSA."""

    code = "PKI_ERROR"


class UnknownDepartment(PkiError):
    code = "PKI_UNKNOWN_DEPARTMENT"
