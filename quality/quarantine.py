"""The quarantine workflow (隔离区): list, show and resubmit quarantined rows.

A quarantined row stays in the case store as evidence (its line as received, every failed rule and
field). A resubmission builds a one-row batch from a corrected row — given whole, or as the
original with some fields replaced — and sends it through the same gate
(:meth:`quality.gate.QualityGate.validate_batch`): it gets its own report and signed receipt, and
the original is marked ``resubmitted`` with the new batch hash and its result
(``curated``, ``held`` or ``quarantined``). A corrected row is not a duplicate of its original,
since a quarantined row owns no row_guid. A file quarantined whole is resubmitted with a corrected
file.

Public API::

    list_quarantine(gate, *, status="open", batch_hash=None, rule_id=None, limit=100, after_id=0)
    show_quarantine(gate, qid) -> dict                  # reasons + the row (citizen IDs masked)
    resubmit(gate, qid, *, row=None, patch=None, data=None) -> Resubmission
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.casestore import Q_KIND_FILE, Q_OPEN
from core.masking import redact_text
from quality.errors import QuarantineError
from quality.gate import Batch, Outcome, QualityGate
from quality.report import mask_row


@dataclass
class Resubmission:
    quarantine_id: int
    result: str  # curated | held | quarantined
    outcome: Outcome

    def as_dict(self) -> dict[str, Any]:
        return {
            "quarantine_id": self.quarantine_id,
            "result": self.result,
            "outcome": self.outcome.cli_dict(),
        }


def list_quarantine(
    gate: QualityGate,
    *,
    status: str | None = Q_OPEN,
    batch_hash: str | None = None,
    rule_id: str | None = None,
    limit: int = 100,
    after_id: int = 0,
) -> list[dict[str, Any]]:
    with gate.db.session() as s:
        rows = gate.cases.quarantined(
            s, status=status, batch_hash=batch_hash, rule_id=rule_id, limit=limit, after_id=after_id
        )
        return [r.as_dict() for r in rows]


def _original_row(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def show_quarantine(gate: QualityGate, qid: int) -> dict[str, Any]:
    """One quarantine entry with its row, citizen identifiers masked (the store keeps the original)."""
    with gate.db.session() as s:
        entry = gate.cases.quarantine_entry(s, qid)
        if entry is None:
            raise QuarantineError(f"no quarantine entry {qid}; see `tongban cases quarantine list`")
        doc = entry.as_dict()
        row = _original_row(entry.raw)
        doc["row"] = mask_row(row) if row is not None else None
        doc["raw"] = None if row is not None else (redact_text(entry.raw) if entry.raw else None)
        return doc


def _result(outcome: Outcome) -> str:
    if outcome.curated or outcome.released:
        return "curated"
    if outcome.held:
        return "held"
    return "quarantined"


def resubmit(
    gate: QualityGate,
    qid: int,
    *,
    row: Mapping[str, Any] | None = None,
    patch: Mapping[str, Any] | None = None,
    data: bytes | None = None,
) -> Resubmission:
    """Send a corrected row (``row``, or the original with ``patch`` applied) — or, for a file
    quarantined whole, a corrected file (``data``) — through the gate."""
    with gate.db.session() as s:
        entry = gate.cases.quarantine_entry(s, qid)
        if entry is None:
            raise QuarantineError(f"no quarantine entry {qid}; see `tongban cases quarantine list`")
        if entry.status != Q_OPEN:
            raise QuarantineError(
                f"quarantine entry {qid} was already resubmitted (batch {entry.resubmitted_batch}, "
                f"result {entry.resubmit_result}); resubmit that batch's entry instead"
            )
        kind, raw = entry.kind, entry.raw
    if kind == Q_KIND_FILE:
        if data is None:
            raise QuarantineError(f"entry {qid} is a whole file: resubmit it with a corrected file (--file)")
        body = data
    elif data is not None:
        body = data
    else:
        if row is None:
            original = _original_row(raw)
            if original is None:
                raise QuarantineError(
                    f"entry {qid} is not a JSON object; resubmit a corrected row as a file (--file)"
                )
            row = {**original, **(patch or {})}
        elif patch:
            row = {**row, **patch}
        body = (json.dumps(dict(row), ensure_ascii=False) + "\n").encode("utf-8")
    outcome = gate.validate_batch(Batch(body, name=f"resubmit-q{qid}", source=f"resubmit:{qid}"))
    result = _result(outcome)
    with gate.db.session() as s:
        gate.cases.mark_resubmitted(s, qid, batch_hash=outcome.batch_hash, result=result)
    return Resubmission(qid, result, outcome)
