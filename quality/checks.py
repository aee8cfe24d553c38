"""Rule results of a set of rows: a table's generated suite run on a frame indexed by position,
every failure recorded per row with its rule id and field (flag-severity rules as flags).

Shared by the split (:mod:`quality.split`), the re-check of released holds (:mod:`quality._holds`)
and license-metadata rows checked outside a batch (:func:`check_rows`). Pure: no I/O.

Public API::

    Checked() ; .add(rule_id, positions, field) ; .count(rule_id, checked=, failed=) ; .failed_mask(pos)
    check_table(runner, table, frame, checked)          # one suite run into ``checked``
    parent_dates(project_nos, parents) -> Series        # the derived parent accept-date column
    with_parent_dates(runner, table, frame, parents) -> DataFrame
    check_rows(rows, table, *, runner) -> list[RowVerdict]
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from contracts import rules as R
from contracts.fields import TABLES
from quality import vectorized as K
from quality.engine import RuleResult, SuiteRunner
from quality.outcome import RowVerdict
from quality.suites import GENERIC_FIELD_RULES, PARENT_DATE_COLUMN

Positions = npt.NDArray[np.int64]
Reason = dict[str, Any]  # {"rule_id": ..., "field": ...}


@dataclass
class Checked:
    """Rule results of a set of rows, by position."""

    reasons: dict[int, list[Reason]] = field(default_factory=lambda: defaultdict(list))
    flags: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    stats: Counter[str] = field(default_factory=Counter)  # rule -> rows failing
    checked: Counter[str] = field(default_factory=Counter)  # rule -> rows checked

    def failed_mask(self, positions: Positions) -> npt.NDArray[np.bool_]:
        """Which of ``positions`` failed a quarantine-severity rule so far."""
        if not len(positions) or not self.reasons:
            return np.zeros(len(positions), dtype=bool)
        return np.isin(positions, np.fromiter(self.reasons.keys(), dtype=np.int64, count=len(self.reasons)))

    def add(self, rule_id: str, positions: Sequence[int] | Positions, fld: str | None) -> None:
        severity = R.RULES[rule_id].severity if rule_id in R.RULES else "quarantine"
        for p in positions:
            if severity == "flag":
                self.flags[int(p)].append(rule_id)
            else:
                self.reasons[int(p)].append({"rule_id": rule_id, "field": fld})

    def count(self, rule_id: str, *, checked: int, failed: int) -> None:
        self.checked[rule_id] += checked
        self.stats[rule_id] += failed


def check_table(runner: SuiteRunner, table: str, frame: pd.DataFrame, checked: Checked) -> None:
    """Run ``table``'s suite on ``frame`` (indexed by position) and record every failure in
    ``checked`` with its rule id and field."""
    results: list[RuleResult] = runner.run(table, frame)
    for res in results:
        p = res.planned
        checked.checked[p.rule_id] += len(frame)
        if not len(res.positions):
            continue
        checked.stats[p.rule_id] += len(res.positions)
        if p.rule_id in GENERIC_FIELD_RULES and len(p.fields) > 1:
            sub = frame.loc[res.positions, list(p.fields)]
            masks = K.field_rule_masks(p.rule_id, sub, p.kwargs["specs"])
            for col, ok in masks.items():
                bad = res.positions[~ok]
                if len(bad):
                    checked.add(p.rule_id, bad, col)
        else:
            fld = p.fields[-1] if p.fields else None
            if fld == PARENT_DATE_COLUMN:
                fld = p.fields[0]
            checked.add(p.rule_id, res.positions, fld)


def parent_dates(project_nos: pd.Series, parents: Mapping[str, str]) -> pd.Series:
    """The accept date of each row's parent (None where unknown), as an object column."""
    if not len(project_nos):
        return pd.Series([], index=project_nos.index, dtype=object)
    lookup = pd.Series(dict(parents), dtype=object) if parents else pd.Series([], dtype=object)
    keys = project_nos.where(K.is_str(project_nos), None)
    mapped = keys.map(lookup) if len(lookup) else pd.Series(None, index=project_nos.index, dtype=object)
    return mapped.astype(object).where(mapped.notna(), None)


def with_parent_dates(
    runner: SuiteRunner, table: str, frame: pd.DataFrame, parents: Mapping[str, str]
) -> pd.DataFrame:
    """``frame`` plus the derived parent-date column where ``table``'s suite uses it (a new frame
    sharing the columns: the input is not changed)."""
    if not any(PARENT_DATE_COLUMN in p.fields for p in runner.plans[table]):
        return frame
    out = frame.copy(deep=False)
    out[PARENT_DATE_COLUMN] = parent_dates(frame["project_no"], parents)
    return out


def check_rows(rows: Sequence[Mapping[str, Any]], table: str, *, runner: SuiteRunner) -> list[RowVerdict]:
    """Check rows outside a batch against ``table``'s suite (license metadata: GB/T 36903 field
    codes; ``KZ_*`` face fields are allowed besides the table's columns)."""
    spec = TABLES[table]
    frame = pd.DataFrame(list(rows), index=pd.RangeIndex(len(rows)), dtype=object).reindex(
        columns=list(spec.columns)
    )
    checked = Checked()
    check_table(runner, table, frame, checked)
    for i, row in enumerate(rows):
        for k in row:
            if not spec.has(k) and not str(k).startswith("KZ_"):
                checked.add(R.ROW_UNKNOWN_COLUMN, [i], str(k))
    return [
        RowVerdict(i, i not in checked.reasons, list(checked.reasons.get(i, []))) for i in range(len(rows))
    ]
