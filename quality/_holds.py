"""Holds: children waiting for their parent (DOMAIN.md §5) — release and expiry.

A valid child row whose ``up_pro_accept`` parent has not been accepted is held (``case_held``,
the ``held`` zone) and owns its row_guid meanwhile. Two things end a hold:

* **Release** — a later batch curates the parent: the open holds of that project are re-checked
  through the same suites, now with their parent's accept date (:func:`recheck`, pure), and are
  accepted (into ``case_rows``) or quarantined (``released_quarantine`` object).
* **Expiry** — a hold older than ``settings.quality.hold_hours`` is quarantined with
  ``child.parent_missing`` (``expired`` object; kind ``expired`` in ``case_quarantine``), at the
  start of every batch and by ``tongban cases quarantine sweep`` (one ledger entry then).

Works in the caller's session: the gate runs release and expiry in the batch's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from contracts import rules as R
from contracts.fields import TABLES
from core import ledger
from core.casestore import (
    HOLD_EXPIRED,
    HOLD_RELEASED,
    Q_KIND_EXPIRED,
    AcceptedRow,
    CaseStore,
    HeldRow,
    QuarantineIn,
)
from quality._writing import business_date, encode_docs, encode_lines
from quality.checks import Checked, check_table, with_parent_dates
from quality.engine import SuiteRunner
from quality.outcome import SweepResult
from quality.outputs import CONTENT_JSONL, Outputs
from quality.receipt import LEDGER_STREAM


def recheck(
    rows: Sequence[Mapping[str, Any]], tables: Sequence[str], runner: SuiteRunner, parents: Mapping[str, str]
) -> Checked:
    """Check held rows (``rows[i]`` of table ``tables[i]``) again, with their parents' accept dates."""
    checked = Checked()
    by_table: dict[str, list[int]] = defaultdict(list)
    for i, table in enumerate(tables):
        by_table[table].append(i)
    for table, idx in by_table.items():
        spec = TABLES[table]
        frame = pd.DataFrame([rows[i] for i in idx], index=pd.Index(idx, dtype=np.int64), dtype=object)
        frame = frame.reindex(columns=list(spec.columns))
        check_table(runner, table, with_parent_dates(runner, table, frame, parents), checked)
    return checked


@dataclass
class Released:
    """What one release did: holds accepted, holds quarantined, the objects written."""

    released: int = 0
    quarantined: int = 0
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)


class Holds:
    """Release and expiry of held rows, over the case store and the object store."""

    def __init__(self, cases: CaseStore, outputs: Outputs, hold_time: timedelta) -> None:
        self.cases = cases
        self.outputs = outputs
        self.hold_time = hold_time

    def release(
        self,
        s: Any,
        *,
        batch_hash: str,
        source: str,
        runner: SuiteRunner,
        arrived: set[str],
        parents: Mapping[str, str],
        now: datetime,
    ) -> Released:
        """Release the open holds whose parent (a project of ``arrived``) batch ``batch_hash`` curated."""
        holds: list[HeldRow] = self.cases.open_holds(s, project_nos=arrived)
        if not holds:
            return Released()
        rows = [h.row() for h in holds]
        checked = recheck(rows, [h.table_name for h in holds], runner, parents)
        ok = [i for i in range(len(holds)) if i not in checked.reasons]
        bad = [i for i in range(len(holds)) if i in checked.reasons]
        _, texts = encode_lines([rows[i] for i in ok])  # released rows go to ``case_rows`` only
        accepted = []
        for i, text in zip(ok, texts, strict=True):
            h, row = holds[i], rows[i]
            accepted.append(
                AcceptedRow(
                    row_guid=h.row_guid,
                    table=h.table_name,
                    project_no=h.project_no,
                    business_date=business_date(h.table_name, row),
                    cd_operation=row.get("cd_operation"),
                    batch_hash=h.batch_hash,
                    line=h.line,
                    data=text,
                )
            )
        self.cases.add_accepted(s, accepted, at=now)
        self.cases.add_quarantined(
            s,
            [
                QuarantineIn(
                    batch_hash,
                    checked.reasons[i],
                    line=holds[i].line,
                    row_guid=holds[i].row_guid,
                    table=holds[i].table_name,
                    project_no=holds[i].project_no,
                    raw=holds[i].data,
                )
                for i in bad
            ],
            at=now,
        )
        self.cases.close_holds(s, [h.id for h in holds], status=HOLD_RELEASED, closed_by=batch_hash, at=now)
        out = Released(len(ok), len(bad))
        if bad:
            docs = [
                {
                    "line": holds[i].line,
                    "table": holds[i].table_name,
                    "row_guid": holds[i].row_guid,
                    "origin_batch": holds[i].batch_hash,
                    "reasons": checked.reasons[i],
                    "raw": holds[i].data,
                }
                for i in bad
            ]
            out.objects["released_quarantine"] = self.outputs.put(
                "released_quarantine",
                "quarantine",
                encode_docs(docs),
                content_type=CONTENT_JSONL,
                source=source,
                rows=len(bad),
            ).as_dict()
        return out

    def expire(self, s: Any, now: datetime) -> SweepResult:
        """Quarantine the open holds older than the hold time with ``child.parent_missing``."""
        holds = self.cases.open_holds(s, held_before=now - self.hold_time)
        if not holds:
            return SweepResult(0, None, [])
        reasons = [{"rule_id": R.CHILD_PARENT_MISSING, "field": "project_no"}]
        self.cases.add_quarantined(
            s,
            [
                QuarantineIn(
                    h.batch_hash,
                    reasons,
                    kind=Q_KIND_EXPIRED,
                    line=h.line,
                    row_guid=h.row_guid,
                    table=h.table_name,
                    project_no=h.project_no,
                    raw=h.data,
                )
                for h in holds
            ],
            at=now,
        )
        ids = [h.id for h in holds]
        self.cases.close_holds(s, ids, status=HOLD_EXPIRED, closed_by="sweep", at=now)
        docs = [
            {
                "line": h.line,
                "table": h.table_name,
                "row_guid": h.row_guid,
                "origin_batch": h.batch_hash,
                "held_at": h.held_at,
                "reasons": reasons,
                "raw": h.data,
            }
            for h in holds
        ]
        obj = self.outputs.put(
            "expired", "quarantine", encode_docs(docs), content_type=CONTENT_JSONL, rows=len(holds)
        )
        return SweepResult(len(holds), obj, ids)

    def sweep(self, s: Any, now: datetime) -> SweepResult:
        """:meth:`expire` on its own (no batch), with a ledger entry when anything expired."""
        result = self.expire(s, now)
        if result.expired:
            ledger.append(
                s, LEDGER_STREAM, "quality.holds_expired", {"count": result.expired, "ids": result.ids[:1000]}
            )
        return result
