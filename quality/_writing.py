"""Writing a gate run down: store objects, case-store rows, the HTML report, the signed receipt,
the ledger entry and the batch record.

Given a :class:`~quality.split.Split` (or a file fault), :class:`Writer` puts the ``held``,
``quarantine`` and ``raw`` objects (each row serialized once: one JSON Lines blob per object, its
lines as text for the case store), adds the rows to ``case_rows`` / ``case_held`` /
``case_quarantine`` with every reason, then the report and the receipt into the ``reports`` zone
and one ``quality.receipt`` ledger entry. All in the caller's session: the gate commits a batch's
database writes in one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from contracts import rules as R
from contracts.fields import TABLES, TableSpec
from core import ledger
from core.canonical import canonical_json
from core.casestore import Q_KIND_FILE, AcceptedValues, BatchRecord, CaseStore, HeldRowIn, QuarantineIn
from core.keys import AnyKeyStore
from core.keys.base import PLATFORM_KEY
from quality.outcome import Batch, Outcome
from quality.outputs import CONTENT_HTML, CONTENT_JSONL, CONTENT_JWS, Outputs
from quality.parsing import ParsedBatch
from quality.receipt import LEDGER_STREAM, sign_receipt
from quality.report import render_report
from quality.split import Split

_ENCODER = msgspec.json.Encoder()


def encode_lines(rows: Sequence[Mapping[str, Any]]) -> tuple[bytes, list[str]]:
    """The JSON Lines object of ``rows`` (one C call) and each row's line as text (one decode
    and split of the whole object; JSON escapes every newline inside a value)."""
    if not rows:
        return b"", []
    blob = _ENCODER.encode_lines(list(rows))
    texts = blob.decode("utf-8").split("\n")
    texts.pop()  # after the last newline
    return blob, texts


def encode_docs(docs: Sequence[Mapping[str, Any]]) -> bytes:
    return _ENCODER.encode_lines(list(docs)) if docs else b""


def _first_date_column(spec: TableSpec) -> str | None:
    for f in spec.fields:
        if f.type == "date":
            return f.name
    for f in spec.fields:
        if f.type == "timestamp":
            return f.name
    return None


_DATE_COLUMNS = {t: _first_date_column(TABLES[t]) for t in TABLES}


def business_date(table: str, row: Mapping[str, Any]) -> str | None:
    """The row's business date: the calendar day of its table's first date (or timestamp) column."""
    col = _DATE_COLUMNS[table]
    d = row.get(col) if col else None
    return d[:10] if isinstance(d, str) else None


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def counts(o: Outcome) -> dict[str, Any]:
    return {
        "rows": o.rows,
        "curated": o.curated,
        "held": o.held,
        "quarantined": o.quarantined,
        "released": o.released,
        "released_quarantined": o.released_quarantined,
        "expired": o.expired,
        "file_quarantined": o.file_quarantined,
    }


Sample = dict[str, Any]


class Writer:
    """Store objects, case-store rows, report, receipt and batch record of one gate."""

    def __init__(
        self,
        outputs: Outputs,
        cases: CaseStore,
        keystore: AnyKeyStore,
        *,
        platform_name: str,
        sample_rows: int,
    ) -> None:
        self.outputs = outputs
        self.cases = cases
        self.keystore = keystore
        self.platform_name = platform_name
        self.sample_rows = sample_rows

    # -- a split batch -------------------------------------------------------------------------------
    def write_split(
        self,
        s: Any,
        batch: Batch,
        parsed: ParsedBatch,
        split: Split,
        outcome: Outcome,
        timings: dict[str, float],
        now: datetime,
    ) -> list[Sample]:
        """Objects and case-store rows of ``split`` (into ``outcome.objects``); the report's samples."""
        t0 = time.perf_counter()
        values, n, reasons = parsed.values, len(parsed.values), split.reasons
        # curated rows go to ``case_rows`` only: no object store copy (nothing would read it; the
        # raw object, which the receipt names, holds them, and the held and quarantine objects name
        # the rows that are not curated)
        _, curated_texts = encode_lines([values[p] for p in split.curated])
        held_blob, held_texts = encode_lines([values[p] for p in split.held])
        q_docs: list[dict[str, Any]] = []
        q_rows: list[QuarantineIn] = []
        for p in split.quarantined:
            if p >= n:
                bl = parsed.bad[p - n]
                # why the line is not a row (not JSON, a bad byte, too large, a repeated key …)
                # travels with its reason, so `cases quarantine show` says it
                why = [{**r, "detail": bl.message} if r.get("field") is None else r for r in reasons[p]]
                doc = {
                    "line": bl.line,
                    "byte_offset": bl.byte_offset,
                    "reasons": why,
                    "raw": bl.text,
                    "detail": bl.message,
                }
                q_rows.append(
                    QuarantineIn(batch.hash, why, line=bl.line, byte_offset=bl.byte_offset, raw=bl.text)
                )
            else:
                row = values[p]
                doc = {
                    "line": parsed.lines[p],
                    "table": row.get("table"),
                    "row_guid": row.get("row_guid"),
                    "reasons": reasons[p],
                    "raw": parsed.texts[p],
                }
                q_rows.append(
                    QuarantineIn(
                        batch.hash,
                        reasons[p],
                        line=parsed.lines[p],
                        row_guid=_str_or_none(row.get("row_guid")),
                        table=_str_or_none(row.get("table")),
                        project_no=_str_or_none(row.get("project_no")),
                        raw=parsed.texts[p],
                    )
                )
            q_docs.append(doc)
        for zone, blob, rows in (
            ("held", held_blob, len(split.held)),
            ("quarantine", encode_docs(q_docs), len(split.quarantined)),
        ):
            outcome.objects[zone] = self.outputs.put(
                zone, zone, blob, content_type=CONTENT_JSONL, source=batch.source, rows=rows
            ).as_dict()
        outcome.objects["raw"] = self.outputs.put(
            "raw", "raw", batch.data, content_type=CONTENT_JSONL, source=batch.source, rows=parsed.rows
        ).as_dict()
        timings["objects"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        lines_of, flags_of, h, date_cols = parsed.lines, split.flags, batch.hash, _DATE_COLUMNS
        accepted: list[AcceptedValues] = []
        dumps = json.dumps
        for p, text in zip(split.curated, curated_texts, strict=True):
            row = values[p]
            table = row["table"]
            col = date_cols[table]  # business_date(), inline: once per curated row
            d = row.get(col) if col else None
            row_flags = flags_of.get(p)
            accepted.append(
                (
                    row["row_guid"],
                    table,
                    row.get("project_no"),
                    d[:10] if isinstance(d, str) else None,
                    row.get("cd_operation"),
                    h,
                    lines_of[p],
                    dumps(row_flags) if row_flags else None,
                    text,
                )
            )
        self.cases.add_accepted_values(s, accepted, at=now)
        self.cases.add_held(
            s,
            [
                HeldRowIn(
                    values[p]["row_guid"], values[p]["table"], values[p]["project_no"], h, lines_of[p], text
                )
                for p, text in zip(split.held, held_texts, strict=True)
            ],
            at=now,
        )
        self.cases.add_quarantined(s, q_rows, at=now)
        timings["casestore"] = time.perf_counter() - t0
        return [
            {
                "line": d.get("line"),
                "table": d.get("table"),
                "reasons": d["reasons"],
                **({"row": values[p]} if p < n else {"raw": d.get("raw")}),
            }
            for p, d in list(zip(split.quarantined, q_docs, strict=True))[: self.sample_rows]
        ]

    # -- a file that cannot be read ------------------------------------------------------------------
    def quarantine_file(self, s: Any, batch: Batch, parsed: ParsedBatch, outcome: Outcome) -> list[Sample]:
        """Quarantine the whole file (one entry naming the fault); fills ``outcome``."""
        fault = parsed.fault
        assert fault is not None
        outcome.file_quarantined = True
        outcome.fault = fault.as_dict()
        outcome.quarantined = parsed.rows
        outcome.reasons = {R.ROW_NOT_JSON: parsed.rows} if parsed.rows else {}
        obj = self.outputs.put(
            "quarantine",
            "quarantine",
            batch.data,
            content_type="application/octet-stream",
            source=batch.source,
            rows=parsed.rows,
        )
        outcome.objects["quarantine"] = obj.as_dict()
        reasons = [{"rule_id": R.ROW_NOT_JSON, "field": None, "detail": fault.message}]
        self.cases.add_quarantined(
            s,
            [
                QuarantineIn(
                    batch_hash=batch.hash,
                    reasons=reasons,
                    kind=Q_KIND_FILE,
                    line=fault.line,
                    byte_offset=fault.byte_offset,
                    raw=None,
                )
            ],
        )
        outcome.rule_stats = {R.ROW_NOT_JSON: {"checked": parsed.rows, "failed": parsed.rows}}
        return [{"line": fault.line, "table": None, "reasons": reasons, "raw": fault.message}]

    # -- report, receipt, records --------------------------------------------------------------------
    def finish(self, s: Any, batch: Batch, outcome: Outcome, samples: list[Sample], now: datetime) -> None:
        """The HTML report and the signed receipt (``reports`` zone), and the receipt's ledger entry."""
        doc = {
            "batch_hash": outcome.batch_hash,
            "name": outcome.name,
            "validated_at": outcome.validated_at,
            "suite_version": outcome.suite_version,
            "suite_hash": outcome.suite_hash,
            "counts": counts(outcome),
            "file_quarantined": outcome.file_quarantined,
            "fault": outcome.fault,
            "rule_stats": outcome.rule_stats,
            "held_reasons": outcome.held_reasons,
            "flags": outcome.flags,
            "samples": samples,
        }
        report = self.outputs.put(
            "report", "reports", render_report(doc), content_type=CONTENT_HTML, source=batch.source
        )
        outcome.objects["report"] = report.as_dict()
        outcome.report = report.locator
        payload = {
            "v": 2,  # v2: objects named by the store address (no plaintext sha256)
            "batch_hash": outcome.batch_hash,
            "batch_name": outcome.name,
            "suite_version": outcome.suite_version,
            "suite_hash": outcome.suite_hash,
            "issued_at": outcome.validated_at,
            "counts": counts(outcome),
            "rules": outcome.reasons,
            "held_reasons": outcome.held_reasons,
            "flags": outcome.flags,
            "objects": outcome.objects,
            "platform": self.platform_name,
        }
        token = sign_receipt(self.keystore.signer(PLATFORM_KEY), payload)
        outcome.receipt = token
        rec = self.outputs.put(
            "receipt", "reports", token.encode("ascii"), content_type=CONTENT_JWS, source=batch.source
        )
        outcome.receipt_object = rec.locator
        ledger.append(
            s,
            LEDGER_STREAM,
            "quality.receipt",
            {
                "batch_hash": outcome.batch_hash,
                "receipt_sha256": rec.plain_sha256,  # public reports zone: SHA-256 address
                "receipt": rec.locator,
                "suite_hash": outcome.suite_hash,
                "counts": counts(outcome),
            },
            now=now,
        )

    def save(self, s: Any, batch: Batch, outcome: Outcome) -> None:
        """The batch record (its outcome, for replays); raises ``BatchExists`` when a concurrent
        run saved the same batch first."""
        self.cases.save_batch(
            s,
            BatchRecord(
                batch_hash=batch.hash,
                name=batch.name[:255],
                validated_at=outcome.validated_at,
                rows=outcome.rows,
                curated=outcome.curated,
                held=outcome.held,
                quarantined=outcome.quarantined,
                released=outcome.released,
                expired=outcome.expired,
                file_quarantined=outcome.file_quarantined,
                suite_version=outcome.suite_version,
                suite_hash=outcome.suite_hash,
                receipt=outcome.receipt,
                outcome=canonical_json(outcome.as_dict()),
            ),
        )
