"""The split of a batch, as pure functions over frames: rows in → curated / held / quarantined,
every reason with its rule id and field. No I/O, no database, no object store.

Two steps, with the only two facts from outside the batch passed in as data between them::

    frames = case_frames(rows, bad_lines=0)       # one object-column frame per case table, row shape
    owned  = <row_guids of frames.guid_keys() owned by accepted rows or open holds>
    before = <accept dates of frames.child_projects() accepted before this batch>
    split  = split_frames(frames, runner=runner, owned_before=owned, parents_before=before)

``split_rows(rows, ...)`` does both steps for rows in memory (tests, tools).

What decides where a row goes:

* **Row shape** — a line that is not a JSON object (``row.not_json``; the parser's bad lines,
  counted by ``bad_lines``, at positions ``len(rows)`` …), an unknown table (``row.table``), a key
  outside the table's columns (``row.unknown_column``, per key).
* **Rules** — the generated great-expectations suite of each table (:mod:`quality.checks`,
  :mod:`quality.engine`) on a frame indexed by batch position; the accept table first, then the
  child tables with the accept date of their parent as a derived column (``result.date_order``).
  A generic field rule over several columns is reported per failing column.
* **Ownership of row_guid** (``row.duplicate_guid``) — file order, earlier batches first: accepted
  rows and open holds own their guid (``owned_before``), a quarantined row owns nothing; a row
  already failing is also a duplicate when an earlier valid row or an earlier batch owns its guid.
* **Parents** — a valid child whose ``up_pro_accept`` parent is neither valid in this batch nor
  accepted before (``parents_before``) is held (``child.parent_missing``); flag-severity rules of
  curated rows are recorded as flags. ``rows = curated + held + quarantined`` is asserted
  (:class:`~quality.errors.InvariantBroken`).

Public API::

    case_frames(rows, *, bad_lines=0) -> CaseFrames    # .guid_keys() ; .child_projects() ; .rows
    split_frames(frames, *, runner, owned_before=(), parents_before=None) -> Split
    split_rows(rows, *, runner=None, owned_before=(), parents_before=None, bad_lines=0) -> Split
    Split: curated, held, quarantined (batch positions, file order), reasons, flags, rule_stats,
           reason_counts, held_reasons, flag_counts, parents, arrived, timings
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from contracts import rules as R
from contracts.fields import CHILD_TABLES, TABLES
from quality import vectorized as K
from quality.checks import Checked, Positions, Reason, check_table, with_parent_dates
from quality.engine import SuiteRunner, shared_runner
from quality.errors import InvariantBroken

ACCEPT = "up_pro_accept"
CASE_TABLES = (ACCEPT, *CHILD_TABLES)
_KNOWN_TABLES = tuple(t for t in TABLES if TABLES[t].kind == "case")


# -- frames ----------------------------------------------------------------------------------------------


def _column_frame(sub: pd.DataFrame, columns: Sequence[str], index: pd.Index) -> pd.DataFrame:
    """``sub`` re-indexed to ``columns`` (NaN where no row has the key), one block per column.

    A frame built from records is one 2-D object block; great-expectations selects each
    multicolumn expectation's columns with ``frame[column_list]``, which copies the selected rows
    of such a block every time (~0.5 s per 100k rows over a suite). With one block per column
    the selection is a view."""
    n = len(index)
    data: dict[str, Any] = {}
    for c in columns:
        data[c] = sub[c].to_numpy(dtype=object) if c in sub.columns else np.full(n, np.nan, dtype=object)
    return pd.DataFrame(data, index=index, copy=False)


@dataclass(frozen=True)
class ShapeHit:
    """Rows failing a row-shape rule found while the frames were built (in the order found)."""

    rule_id: str
    positions: Positions
    field: str | None


@dataclass(frozen=True)
class CaseFrames:
    """A batch's rows as one frame per case table (indexed by batch position), plus its row shape."""

    n: int  # rows that are JSON objects (positions 0 .. n-1)
    bad_lines: int  # lines that are not (positions n .. n+bad_lines-1)
    tables: npt.NDArray[np.object_]  # position -> the row's "table" value
    guids: npt.NDArray[np.object_]  # position -> the row's "row_guid" value
    frames: Mapping[str, pd.DataFrame]  # case table -> its rows, columns of its field table
    shape: tuple[ShapeHit, ...]
    shape_stats: Mapping[str, tuple[int, int]]  # rule -> (rows checked, rows failing)

    @property
    def rows(self) -> int:
        return self.n + self.bad_lines

    def guid_keys(self) -> list[str]:
        """Every row_guid of the batch that is a string (whose earlier owners the split needs)."""
        if not self.n:
            return []
        return list(self.guids[K.is_str(self.guids)].tolist())

    def child_projects(self) -> set[str]:
        """Every project_no of a child row (a superset of the parents the split needs from before)."""
        out: set[str] = set()
        for table in CHILD_TABLES:
            pn = self.frames[table]["project_no"].to_numpy(dtype=object)
            out.update(pn[K.is_str(pn)].tolist())
        return out


def case_frames(rows: Sequence[Mapping[str, Any]], *, bad_lines: int = 0) -> CaseFrames:
    """Frames of ``rows`` (decoded JSON objects in file order) and their row-shape failures."""
    n = len(rows)
    # one pass over the decoded rows for the two columns every table needs; each table's frame
    # is then built from its own rows only (no batch-wide frame to cut up and re-index)
    table_col: npt.NDArray[np.object_] = np.fromiter((v.get("table") for v in rows), dtype=object, count=n)
    guids: npt.NDArray[np.object_] = np.fromiter((v.get("row_guid") for v in rows), dtype=object, count=n)
    known = K._member(table_col, _KNOWN_TABLES) if n else np.zeros(0, bool)
    unknown_pos = np.flatnonzero(~known)
    shape = [ShapeHit(R.ROW_TABLE, unknown_pos, "table")]
    unknown_rows = unknown_checked = 0
    frames: dict[str, pd.DataFrame] = {}
    for table in CASE_TABLES:
        spec = TABLES[table]
        pos = np.flatnonzero(table_col == table) if n else np.zeros(0, np.int64)
        index = pd.Index(pos, dtype=np.int64)
        sub = pd.DataFrame([rows[i] for i in pos.tolist()], index=index, dtype=object)
        extra = [c for c in sub.columns if c != "table" and not spec.has(c)]
        if extra and len(pos):
            present = np.zeros(len(pos), dtype=bool)
            for c in extra:
                hit = K.key_present(sub[c])
                present |= hit
                shape.append(ShapeHit(R.ROW_UNKNOWN_COLUMN, pos[hit], c))
            unknown_rows += int(present.sum())
        unknown_checked += len(pos)
        frames[table] = _column_frame(sub, spec.columns, index)
    return CaseFrames(
        n=n,
        bad_lines=bad_lines,
        tables=table_col,
        guids=guids,
        frames=frames,
        shape=tuple(shape),
        shape_stats={
            R.ROW_NOT_JSON: (n + bad_lines, bad_lines),
            R.ROW_TABLE: (n, len(unknown_pos)),
            R.ROW_UNKNOWN_COLUMN: (unknown_checked, unknown_rows),
        },
    )


# -- ownership of row_guid ------------------------------------------------------------------------------


def _first_owner(candidates: Positions, guids: npt.NDArray[np.object_]) -> dict[str, int]:
    if not len(candidates):
        return {}
    g = pd.Series(guids[candidates], index=candidates, dtype=object)
    g = g[K.is_str(g.to_numpy(dtype=object))]
    firsts = g[~g.duplicated(keep="first")]
    return dict(zip(firsts.tolist(), firsts.index.tolist(), strict=True))


def _duplicates(
    positions: Positions, guids: npt.NDArray[np.object_], owned_before: Collection[str]
) -> set[int]:
    """Positions (in file order) whose guid an earlier batch owns or an earlier row here owns."""
    if not len(positions):
        return set()
    order = np.argsort(positions, kind="stable")
    pos, g = positions[order], guids[order]
    later = pd.Series(g, dtype=object).duplicated(keep="first").to_numpy(dtype=bool)
    before = K._member(g, owned_before) if owned_before else np.zeros(len(g), bool)
    return set(pos[later | before].tolist())


# -- the split --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Where every row of a batch goes, and why (positions as in :class:`CaseFrames`)."""

    rows: int
    curated: list[int]
    held: list[int]
    quarantined: list[int]
    reasons: dict[int, list[Reason]]  # quarantined position -> every failed rule and field
    flags: dict[int, list[str]]  # position -> flag-severity rules it failed
    rule_stats: dict[str, dict[str, int]]  # rule -> {"checked", "failed"}
    parents: dict[str, str]  # project_no -> accept date: accepted before, or curated here
    arrived: set[str]  # project_nos of the accept rows curated here (their holds can be released)
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def reason_counts(self) -> dict[str, int]:
        """Quarantine rule -> quarantined rows failing it (a row counts once per rule)."""
        counts: Counter[str] = Counter()
        for p in self.quarantined:
            for rule_id in {r["rule_id"] for r in self.reasons[p]}:
                counts[rule_id] += 1
        return dict(sorted(counts.items()))

    @property
    def held_reasons(self) -> dict[str, int]:
        return {R.CHILD_PARENT_MISSING: len(self.held)} if self.held else {}

    @property
    def flag_counts(self) -> dict[str, int]:
        """Flag rule -> curated rows carrying it."""
        counts: Counter[str] = Counter()
        for p in self.curated:
            for f in self.flags.get(p, ()):
                counts[f] += 1
        return dict(counts)


def split_frames(
    frames: CaseFrames,
    *,
    runner: SuiteRunner,
    owned_before: Collection[str] = frozenset(),
    parents_before: Mapping[str, str] | None = None,
) -> Split:
    """Split the rows of ``frames``: the suites, row_guid ownership and parents decide (module doc).

    ``owned_before``: the row_guids of this batch an accepted row or an open hold owns already;
    ``parents_before``: ``project_no -> accept_date`` of accept rows accepted before this batch
    (at least for :meth:`CaseFrames.child_projects`; other keys are ignored)."""
    timings: dict[str, float] = {}
    n, guids, tables = frames.n, frames.guids, frames.frames
    checked = Checked()
    checked.add(R.ROW_NOT_JSON, range(n, n + frames.bad_lines), None)
    for hit in frames.shape:
        checked.add(hit.rule_id, hit.positions, hit.field)
    for rule_id, (rows_checked, rows_failed) in frames.shape_stats.items():
        checked.count(rule_id, checked=rows_checked, failed=rows_failed)

    t0 = time.perf_counter()
    acc = tables[ACCEPT]
    check_table(runner, ACCEPT, acc, checked)
    timings["rules_accept"] = time.perf_counter() - t0

    # parents: valid accept rows of this batch (not duplicates), then accepted ones before
    t0 = time.perf_counter()
    acc_pos = acc.index.to_numpy()
    acc_valid = ~checked.failed_mask(acc_pos) if len(acc_pos) else np.zeros(0, bool)
    acc_guid = guids[acc_pos] if len(acc_pos) else np.zeros(0, object)
    acc_dup = _duplicates(acc_pos[acc_valid], acc_guid[acc_valid], owned_before) if len(acc_pos) else set()
    acc_ok = acc_valid & ~np.isin(acc_pos, list(acc_dup)) if len(acc_pos) else acc_valid
    here: dict[str, str] = {}
    if len(acc_pos):
        firsts = acc.loc[acc_pos[acc_ok], ["project_no", "accept_date"]].drop_duplicates(
            subset="project_no", keep="first"
        )
        here = dict(zip(firsts["project_no"].tolist(), firsts["accept_date"].tolist(), strict=True))
    known_before = parents_before or {}
    before: dict[str, str] = {}
    for table in CHILD_TABLES:
        pn = tables[table]["project_no"].to_numpy(dtype=object)
        for x in pn[K.is_str(pn)].tolist():
            if x not in here and x in known_before:
                before[x] = known_before[x]
    all_parents = {**before, **here}
    timings["parents"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    for table in CHILD_TABLES:
        check_table(runner, table, with_parent_dates(runner, table, tables[table], all_parents), checked)
    timings["rules_children"] = time.perf_counter() - t0

    # ownership of row_guid over every candidate row, in file order
    t0 = time.perf_counter()
    everything = np.arange(n, dtype=np.int64)
    candidates = everything[~checked.failed_mask(everything)]
    dup_all = sorted(
        _duplicates(candidates, guids[candidates] if len(candidates) else np.zeros(0, object), owned_before)
    )
    first_owner = _first_owner(candidates, guids)
    # rows already failing: also a duplicate when an earlier valid row or an earlier batch owns the guid
    for p in sorted(p for p in checked.reasons if p < n):
        g = guids[p]
        if isinstance(g, str) and (g in owned_before or (g in first_owner and first_owner[g] < p)):
            dup_all.append(p)
    checked.add(R.ROW_DUPLICATE_GUID, dup_all, "row_guid")
    checked.count(R.ROW_DUPLICATE_GUID, checked=n, failed=len(dup_all))
    timings["duplicates"] = time.perf_counter() - t0

    # classification
    t0 = time.perf_counter()
    final_parents = dict(before)
    arrived: set[str] = set()
    if len(acc_pos):
        good = acc_pos[~checked.failed_mask(acc_pos)]
        ok_frame = acc.loc[good, ["project_no", "accept_date"]]
        pnos = ok_frame["project_no"].tolist()
        for pno, d in zip(pnos, ok_frame["accept_date"].tolist(), strict=True):
            final_parents.setdefault(pno, d)
        arrived = set(pnos)
    curated: list[int] = []
    held: list[int] = []
    for table in CASE_TABLES:
        frame = tables[table]
        pos = frame.index.to_numpy()
        valid = ~checked.failed_mask(pos)
        if table == ACCEPT:
            curated.extend(pos[valid].tolist())
            continue
        pn = frame["project_no"].to_numpy(dtype=object)
        has_parent = K._member(pn, final_parents.keys()) if len(pn) else np.zeros(0, bool)
        curated.extend(pos[valid & has_parent].tolist())
        held.extend(pos[valid & ~has_parent].tolist())
    curated.sort()
    held.sort()
    quarantined = sorted(checked.reasons)
    if len(curated) + len(held) + len(quarantined) != frames.rows:
        raise InvariantBroken(
            f"rows {frames.rows} != curated {len(curated)} + held {len(held)} "
            f"+ quarantined {len(quarantined)}"
        )
    stats = {
        r: {"checked": int(checked.checked[r]), "failed": int(checked.stats[r])} for r in checked.checked
    }
    stats[R.CHILD_PARENT_MISSING] = {
        "checked": sum(len(tables[t]) for t in CHILD_TABLES),
        "failed": len(held),
    }
    timings["classify"] = time.perf_counter() - t0
    return Split(
        rows=frames.rows,
        curated=curated,
        held=held,
        quarantined=quarantined,
        reasons=dict(checked.reasons),
        flags=dict(checked.flags),
        rule_stats=dict(sorted(stats.items())),
        parents=final_parents,
        arrived=arrived,
        timings=timings,
    )


def split_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    runner: SuiteRunner | None = None,
    owned_before: Collection[str] = frozenset(),
    parents_before: Mapping[str, str] | None = None,
    bad_lines: int = 0,
) -> Split:
    """:func:`case_frames` then :func:`split_frames` (the process-wide runner unless one is given)."""
    return split_frames(
        case_frames(rows, bad_lines=bad_lines),
        runner=runner or shared_runner()[0],
        owned_before=owned_before,
        parents_before=parents_before,
    )
