"""The exception tree of ``quality``; every error carries a stable ``code``. Its base hangs from the
error kernel, :class:`contracts.errors.TongbanError` (``code``, ``message``, ``as_dict()``).

QualityError                     every error raised by quality (QUALITY_ERROR)
├── SuiteError                   a suite cannot be built from the field table (QUALITY_SUITE)
├── SuiteExecutionError          an expectation raised instead of judging data (QUALITY_SUITE_EXECUTION)
├── BatchUnreadable              the batch file cannot be read at all (QUALITY_BATCH_UNREADABLE)
├── InvariantBroken              rows in != curated + held + quarantined (QUALITY_INVARIANT)
├── ReceiptInvalid               a receipt does not verify (QUALITY_RECEIPT_INVALID)
└── QuarantineError              unknown quarantine id or bad resubmission (QUALITY_QUARANTINE)
"""

from __future__ import annotations

from contracts.errors import TongbanError


class QualityError(TongbanError):
    """Base of every error raised by ``quality``."""

    code = "QUALITY_ERROR"


class SuiteError(QualityError):
    code = "QUALITY_SUITE"


class SuiteExecutionError(QualityError):
    code = "QUALITY_SUITE_EXECUTION"


class BatchUnreadable(QualityError):
    code = "QUALITY_BATCH_UNREADABLE"


class InvariantBroken(QualityError):
    code = "QUALITY_INVARIANT"


class ReceiptInvalid(QualityError):
    code = "QUALITY_RECEIPT_INVALID"

    def __init__(self, message: str, *, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or []


class QuarantineError(QualityError):
    code = "QUALITY_QUARANTINE"
