"""Data quality at every hop: great-expectations suites generated from the contracts, the split
of a batch into curated / held / quarantined rows, HTML reports and signed receipts.

The public surface is ``__all__`` (pinned by ``tests/quality/test_exports.py``)::

    gate = QualityGate(settings)                       # the facade the pipeline calls
    outcome = gate.validate_batch(Batch.from_path(p))  # -> Outcome (.cli_dict() for --json)
    gate.sweep_holds() -> SweepResult ; gate.validate_license_metadata(rows) -> list[RowVerdict]
    split_rows(rows, owned_before=..., parents_before=...) -> Split     # the pure split
    case_frames(rows) -> CaseFrames ; split_frames(frames, runner=..., ...) -> Split
    list_quarantine / show_quarantine / resubmit       # the quarantine workflow
    verify_receipt(token, keystore=..., outputs=...) -> ReceiptCheck
    check_approval / check_status_change / reason      # inbound department data (quality.inbound)

Modules (what each owns): ``gate`` the facade and the order of a run; ``split`` the pure split over
frames; ``_holds`` release and expiry of held children; ``_writing`` store objects, case-store
rows, report, receipt and batch record; ``outcome`` the value types; ``parsing`` decoding and JSON
Lines; ``suites`` the plans generated from the field table; ``engine`` running them with GX;
``expectations`` the custom GX expectations; ``vectorized`` their numpy kernels; ``outputs`` the
object-store zones; ``report`` and ``receipt``; ``quarantine``; ``inbound``; ``errors``.

Names are loaded on first use (PEP 562): importing ``quality`` (or ``quality.errors``) pulls in
neither pandas nor great-expectations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.lazy import lazy_getattr

if TYPE_CHECKING:
    from quality.engine import SuiteRunner, gx_import_seconds, shared_runner
    from quality.errors import (
        BatchUnreadable,
        InvariantBroken,
        QualityError,
        QuarantineError,
        ReceiptInvalid,
        SuiteError,
        SuiteExecutionError,
    )
    from quality.gate import QualityGate, validate_batch
    from quality.inbound import check_approval, check_status_change, reason
    from quality.outcome import Batch, Outcome, RowVerdict, SweepResult
    from quality.outputs import CONTENT_JSONL, Outputs, StoredObject
    from quality.quarantine import Resubmission, list_quarantine, resubmit, show_quarantine
    from quality.receipt import ReceiptCheck, verify_receipt
    from quality.split import CaseFrames, Split, case_frames, split_frames, split_rows
    from quality.suites import GATE_RULES, IMPLEMENTED_RULES, SUITE_VERSION, plan_all, plan_table, suite_hash

_MODULES: dict[str, tuple[str, ...]] = {
    "quality.engine": ("SuiteRunner", "gx_import_seconds", "shared_runner"),
    "quality.errors": (
        "BatchUnreadable",
        "InvariantBroken",
        "QualityError",
        "QuarantineError",
        "ReceiptInvalid",
        "SuiteError",
        "SuiteExecutionError",
    ),
    "quality.gate": ("QualityGate", "validate_batch"),
    "quality.inbound": ("check_approval", "check_status_change", "reason"),
    "quality.outcome": ("Batch", "Outcome", "RowVerdict", "SweepResult"),
    "quality.outputs": ("CONTENT_JSONL", "Outputs", "StoredObject"),
    "quality.quarantine": ("Resubmission", "list_quarantine", "resubmit", "show_quarantine"),
    "quality.receipt": ("ReceiptCheck", "verify_receipt"),
    "quality.split": ("CaseFrames", "Split", "case_frames", "split_frames", "split_rows"),
    "quality.suites": (
        "GATE_RULES",
        "IMPLEMENTED_RULES",
        "SUITE_VERSION",
        "plan_all",
        "plan_table",
        "suite_hash",
    ),
}
_LAZY: dict[str, str] = {name: module for module, names in _MODULES.items() for name in names}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "CONTENT_JSONL",
    "GATE_RULES",
    "IMPLEMENTED_RULES",
    "SUITE_VERSION",
    "Batch",
    "BatchUnreadable",
    "CaseFrames",
    "InvariantBroken",
    "Outcome",
    "Outputs",
    "QualityError",
    "QualityGate",
    "QuarantineError",
    "ReceiptCheck",
    "ReceiptInvalid",
    "Resubmission",
    "RowVerdict",
    "Split",
    "StoredObject",
    "SuiteError",
    "SuiteExecutionError",
    "SuiteRunner",
    "SweepResult",
    "case_frames",
    "check_approval",
    "check_status_change",
    "gx_import_seconds",
    "list_quarantine",
    "plan_all",
    "plan_table",
    "reason",
    "resubmit",
    "shared_runner",
    "show_quarantine",
    "split_frames",
    "split_rows",
    "suite_hash",
    "validate_batch",
    "verify_receipt",
]
