"""The quality gate: ``validate_batch(batch) -> Outcome``.

For one batch (a JSON Lines file, its SHA-256 is its identity):

1. **Replay** — a batch hash already validated returns its stored outcome; nothing changes.
2. **Expiry** — open holds older than ``settings.quality.hold_hours`` are quarantined with
   ``child.parent_missing`` (recorded in this outcome as ``expired``).
3. **Parse** — :mod:`quality.parsing`; an unreadable file is quarantined whole (line and byte
   offset of the fault; all its lines count as quarantined, ``file_quarantined``).
4. **Rules** — per table, the generated great-expectations suite (:mod:`quality.engine`) on a
   frame indexed by batch position; the accept table first, then the child tables with the
   accept date of their parent as a derived column (``result.date_order``). Row shape
   (``row.not_json``, ``row.table``, ``row.unknown_column``) and ownership of ``row_guid``
   (``row.duplicate_guid``: file order, earlier batches first; accepted rows and open holds own
   their guid, quarantined rows own nothing) are checked by the gate itself, vectorized.
5. **Split** — rows failing any quarantine-severity rule → quarantine (every failed rule and field);
   valid children whose ``up_pro_accept`` parent is neither accepted before nor valid in this batch
   → held; the rest → curated (flag-severity rules recorded as flags). ``rows = curated + held +
   quarantined`` is asserted.
6. **Release** — open holds whose parent was accepted in this batch are re-checked through the same
   suites (now with their parent) and accepted, or quarantined.
7. **Write** — curated / held / quarantine (and released / expired) objects to the store, the HTML
   report and the signed receipt to the ``reports`` zone, the rows to the case store, one ledger
   entry — all database writes in one transaction.

Public API (what the pipeline DAGs call)::

    Batch(data: bytes, name="", encoding=None, source="") ; Batch.from_path(path, encoding=None)
    Outcome ; .as_dict() ; .cli_dict()
    QualityGate(settings, *, database=None, store=None, keystore=None)
    .validate_batch(batch, *, now=None) -> Outcome
    .sweep_holds(*, now=None) -> SweepResult
    .validate_license_metadata(rows) -> list[RowVerdict]          # suite of license_metadata
    .outcome(batch_hash) -> Outcome | None
    validate_batch(batch, *, settings=None) -> Outcome             # convenience: a gate per call
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd

from contracts import rules as R
from contracts.fields import CHILD_TABLES, TABLES, TableSpec
from core import ledger
from core.canonical import canonical_json
from core.casestore import (
    HOLD_EXPIRED,
    HOLD_RELEASED,
    Q_KIND_EXPIRED,
    Q_KIND_FILE,
    AcceptedRow,
    AcceptedValues,
    BatchExists,
    BatchRecord,
    CaseStore,
    HeldRow,
    HeldRowIn,
    QuarantineIn,
    iso,
)
from core.db import Database, utcnow
from core.keys import AnyKeyStore
from core.keys.base import PLATFORM_KEY
from core.settings import Settings
from core.store import ObjectStore
from quality import vectorized as K
from quality.engine import RuleResult, SuiteRunner
from quality.errors import InvariantBroken
from quality.outputs import CONTENT_HTML, CONTENT_JSONL, CONTENT_JWS, Outputs, StoredObject
from quality.parsing import ParsedBatch, parse_batch
from quality.receipt import LEDGER_STREAM, sign_receipt
from quality.report import render_report
from quality.suites import GENERIC_FIELD_RULES, PARENT_DATE_COLUMN, SUITE_VERSION, plan_all, suite_hash

ACCEPT = "up_pro_accept"
_ENCODER = msgspec.json.Encoder()
_RUNNERS: dict[str, tuple[SuiteRunner, str]] = {}


def _runner(calendar_dir: str) -> tuple[SuiteRunner, str]:
    """One GX context and suite set per process (per calendar folder): building them costs ~0.3 s."""
    hit = _RUNNERS.get(calendar_dir)
    if hit is None:
        plans = plan_all(calendar_dir=calendar_dir)
        hit = _RUNNERS[calendar_dir] = (SuiteRunner(plans), suite_hash(plans))
    return hit


@dataclass(frozen=True)
class Batch:
    """A batch as received: its bytes (the SHA-256 of which is its identity)."""

    data: bytes
    name: str = ""
    encoding: str | None = None
    source: str = ""

    @cached_property
    def hash(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @classmethod
    def from_path(cls, path: str | Path, *, encoding: str | None = None, source: str = "") -> Batch:
        p = Path(path)
        return cls(p.read_bytes(), name=p.name, encoding=encoding, source=source)


@dataclass
class Outcome:
    """What happened to one batch (stored; a replay returns it with ``replayed=True``)."""

    batch_hash: str
    name: str
    rows: int
    curated: int
    held: int
    quarantined: int
    released: int = 0
    released_quarantined: int = 0
    expired: int = 0
    file_quarantined: bool = False
    fault: dict[str, Any] | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # quarantine rule -> rows failing it
    held_reasons: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    rule_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: str | None = None  # locator reports/<key>
    receipt: str | None = None  # the compact JWS
    receipt_object: str | None = None  # locator reports/<key>
    suite_version: str = SUITE_VERSION
    suite_hash: str = ""
    validated_at: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cli_dict(self) -> dict[str, Any]:
        """The ``tongban cases validate --json`` document (ARCHITECTURE.md) plus details."""
        return {
            "rows": self.rows,
            "valid": self.curated,
            "held": self.held,
            "invalid": self.quarantined,
            "reasons": dict(self.reasons),
            "report": self.report,
            "receipt": self.receipt_object,
            "batch_hash": self.batch_hash,
            "file_quarantined": self.file_quarantined,
            "fault": self.fault,
            "held_reasons": dict(self.held_reasons),
            "flags": dict(self.flags),
            "released": self.released,
            "released_quarantined": self.released_quarantined,
            "expired": self.expired,
            "replayed": self.replayed,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], *, replayed: bool = False) -> Outcome:
        known = {f for f in cls.__dataclass_fields__}
        out = cls(**{k: v for k, v in doc.items() if k in known})
        out.replayed = replayed
        return out


@dataclass
class SweepResult:
    expired: int
    object: StoredObject | None
    ids: list[int]


@dataclass
class RowVerdict:
    """Outcome of one row outside a batch (license metadata)."""

    index: int
    valid: bool
    reasons: list[dict[str, Any]]


# -- checking rows -------------------------------------------------------------------------------------


@dataclass
class _Checked:
    """Rule results of a set of rows, by position."""

    reasons: dict[int, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    flags: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    stats: Counter[str] = field(default_factory=Counter)  # rule -> rows failing
    checked: Counter[str] = field(default_factory=Counter)  # rule -> rows checked

    def failed_mask(self, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of ``positions`` failed a quarantine-severity rule so far."""
        if not len(positions) or not self.reasons:
            return np.zeros(len(positions), dtype=bool)
        return np.isin(positions, np.fromiter(self.reasons.keys(), dtype=np.int64, count=len(self.reasons)))

    def add(self, rule_id: str, positions: Sequence[int] | npt.NDArray[np.int64], fld: str | None) -> None:
        severity = R.RULES[rule_id].severity if rule_id in R.RULES else "quarantine"
        for p in positions:
            if severity == "flag":
                self.flags[int(p)].append(rule_id)
            else:
                self.reasons[int(p)].append({"rule_id": rule_id, "field": fld})


def _table_frame(
    records: Sequence[Mapping[str, Any]], positions: Sequence[int], spec: TableSpec
) -> pd.DataFrame:
    frame = pd.DataFrame(list(records), index=pd.Index(positions, dtype=np.int64), dtype=object)
    return frame


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection while one batch is validated.

    A batch allocates a few million long-lived containers (decoded rows, object arrays); Python's
    allocation-triggered collections keep re-scanning them — about 0.5 s of a 100k-row batch,
    12% of it — and find nothing to free (the gate makes no reference cycles worth collecting
    mid-batch). Reference counting still frees everything; cycles made meanwhile (by any thread)
    wait until the batch ends. Nested or with collection already off, it changes nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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


def _first_date_column(spec: TableSpec) -> tuple[str | None, bool]:
    for f in spec.fields:
        if f.type == "date":
            return f.name, False
    for f in spec.fields:
        if f.type == "timestamp":
            return f.name, True
    return None, False


class QualityGate:
    """Validates batches against the contracts and splits them; one per process is enough."""

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database | None = None,
        store: ObjectStore | None = None,
        keystore: AnyKeyStore | None = None,
    ) -> None:
        from core.runtime import keystore as open_keystore
        from core.runtime import shared_database
        from core.store import open_store

        self.settings = settings
        self.db = database or shared_database(settings)
        self.keystore = keystore or open_keystore(settings)
        self.outputs = Outputs(store or open_store(settings))
        self.cases = CaseStore()
        q = settings.quality
        self.hold_time = timedelta(hours=q.hold_hours)
        self.sample_rows = q.report_sample_rows
        self.calendar_dir = str(q.calendar_dir or "")

    # -- public -------------------------------------------------------------------------------------
    def outcome(self, batch_hash: str) -> Outcome | None:
        with self.db.session() as s:
            rec = self.cases.batch(s, batch_hash)
            return Outcome.from_doc(rec.outcome_doc(), replayed=True) if rec else None

    def sweep_holds(self, *, now: datetime | None = None) -> SweepResult:
        """Quarantine open holds older than the hold time with ``child.parent_missing``."""
        now = now or utcnow()
        with self.db.session() as s:
            result, pending = self._expire(s, now)
            if pending:
                ledger.append(
                    s,
                    LEDGER_STREAM,
                    "quality.holds_expired",
                    {"count": result.expired, "ids": result.ids[:1000]},
                )
            return result

    def validate_batch(self, batch: Batch, *, now: datetime | None = None) -> Outcome:
        with _no_cyclic_gc():
            return self._validate_batch(batch, now=now)

    def _validate_batch(self, batch: Batch, *, now: datetime | None) -> Outcome:
        started = time.perf_counter()
        now = now or utcnow()
        stored = self.outcome(batch.hash)
        if stored is not None:
            return stored
        self._samples: list[dict[str, Any]] = []
        runner, s_hash = _runner(self.calendar_dir)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        parsed = parse_batch(batch.data, encoding=batch.encoding)
        timings["parse"] = time.perf_counter() - t0
        outcome = Outcome(
            batch_hash=batch.hash,
            name=batch.name,
            rows=parsed.rows,
            curated=0,
            held=0,
            quarantined=0,
            suite_hash=s_hash,
            validated_at=iso(now),
        )
        try:
            with self.db.session() as s:
                sweep, _ = self._expire(s, now)
                outcome.expired = sweep.expired
                if sweep.object is not None:
                    outcome.objects["expired"] = sweep.object.as_dict()
                if parsed.fault is not None:
                    self._quarantine_file(s, batch, parsed, outcome)
                else:
                    self._split(s, batch, parsed, outcome, runner, timings, now)
                t0 = time.perf_counter()
                self._finish(s, batch, outcome, now)
                timings["report_receipt"] = time.perf_counter() - t0
                outcome.timings = {**timings, "total": time.perf_counter() - started}
                self._save(s, batch, outcome, now)
        except BatchExists:
            stored = self.outcome(batch.hash)
            assert stored is not None
            return stored
        return outcome

    # -- file-level quarantine ------------------------------------------------------------------------
    def _quarantine_file(self, s: Any, batch: Batch, parsed: ParsedBatch, outcome: Outcome) -> None:
        fault = parsed.fault
        assert fault is not None
        outcome.file_quarantined = True
        outcome.fault = fault.as_dict()
        outcome.quarantined = parsed.rows
        outcome.reasons = {"row.not_json": parsed.rows} if parsed.rows else {}
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
        self._samples = [{"line": fault.line, "table": None, "reasons": reasons, "raw": fault.message}]

    # -- the split --------------------------------------------------------------------------------------
    def _run_table(self, runner: SuiteRunner, table: str, frame: pd.DataFrame, checked: _Checked) -> None:
        results: list[RuleResult] = runner.run(table, frame)
        for res in results:
            p = res.planned
            checked.checked[p.rule_id] += len(frame)
            if not len(res.positions):
                continue
            checked.stats[p.rule_id] += len(res.positions)
            if p.rule_id in GENERIC_FIELD_RULES and len(p.fields) > 1:
                sub = frame.loc[res.positions, list(p.fields)]
                specs = p.kwargs["specs"]
                masks = K.field_rule_masks(p.rule_id, sub, specs)
                for col, ok in masks.items():
                    bad = res.positions[~ok]
                    if len(bad):
                        checked.add(p.rule_id, bad, col)
            else:
                fld = p.fields[-1] if p.fields else None
                if fld == PARENT_DATE_COLUMN:
                    fld = p.fields[0]
                checked.add(p.rule_id, res.positions, fld)

    def _split(
        self,
        s: Any,
        batch: Batch,
        parsed: ParsedBatch,
        outcome: Outcome,
        runner: SuiteRunner,
        timings: dict[str, float],
        now: datetime,
    ) -> None:
        t0 = time.perf_counter()
        n = len(parsed.values)
        checked = _Checked()
        # bad lines: positions n.. (after the parsed rows), quarantined with row.not_json
        bad_pos = list(range(n, n + len(parsed.bad)))
        checked.add(R.ROW_NOT_JSON, bad_pos, None)
        checked.checked[R.ROW_NOT_JSON] += parsed.rows
        checked.stats[R.ROW_NOT_JSON] += len(bad_pos)

        values = parsed.values
        # one pass over the decoded rows for the two columns every table needs; each table's frame
        # is then built from its own rows only (no batch-wide frame to cut up and re-index)
        table_col: npt.NDArray[np.object_] = np.fromiter(
            (v.get("table") for v in values), dtype=object, count=n
        )
        guids: npt.NDArray[np.object_] = np.fromiter(
            (v.get("row_guid") for v in values), dtype=object, count=n
        )
        known = (
            K._member(table_col, [t for t in TABLES if TABLES[t].kind == "case"]) if n else np.zeros(0, bool)
        )
        unknown_pos = np.flatnonzero(~known)
        checked.add(R.ROW_TABLE, unknown_pos, "table")
        checked.checked[R.ROW_TABLE] += n
        checked.stats[R.ROW_TABLE] += len(unknown_pos)
        frames: dict[str, pd.DataFrame] = {}
        for table in (ACCEPT, *CHILD_TABLES):
            spec = TABLES[table]
            pos = np.flatnonzero(table_col == table) if n else np.zeros(0, np.int64)
            index = pd.Index(pos, dtype=np.int64)
            sub = pd.DataFrame([values[i] for i in pos.tolist()], index=index, dtype=object)
            extra = [c for c in sub.columns if c != "table" and not spec.has(c)]
            if extra and len(pos):
                present = np.zeros(len(pos), dtype=bool)
                for c in extra:
                    hit = K.key_present(sub[c])
                    present |= hit
                    checked.add(R.ROW_UNKNOWN_COLUMN, pos[hit], c)
                checked.stats[R.ROW_UNKNOWN_COLUMN] += int(present.sum())
            checked.checked[R.ROW_UNKNOWN_COLUMN] += len(pos)
            frames[table] = _column_frame(sub, spec.columns, index)
        timings["frames"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        self._run_table(runner, ACCEPT, frames[ACCEPT], checked)
        timings["rules_accept"] = time.perf_counter() - t0

        # owners of row_guid before this batch (accepted rows, open holds)
        t0 = time.perf_counter()
        str_guid = K.is_str(guids) if n else np.zeros(0, bool)
        owned_before = self.cases.owned_guids(s, guids[str_guid].tolist()) if n else set()
        timings["db_owned"] = time.perf_counter() - t0

        # parents: valid accept rows of this batch (not duplicates), then accepted ones before
        t0 = time.perf_counter()
        acc = frames[ACCEPT]
        acc_pos = acc.index.to_numpy()
        acc_valid = ~checked.failed_mask(acc_pos) if len(acc_pos) else np.zeros(0, bool)
        acc_guid = guids[acc_pos] if len(acc_pos) else np.zeros(0, object)
        acc_dup = (
            self._duplicates(acc_pos[acc_valid], acc_guid[acc_valid], owned_before) if len(acc_pos) else set()
        )
        acc_ok = acc_valid & ~np.isin(acc_pos, list(acc_dup)) if len(acc_pos) else acc_valid
        parent_dates: dict[str, str] = {}
        if len(acc_pos):
            ok_frame = acc.loc[acc_pos[acc_ok], ["project_no", "accept_date"]]
            firsts = ok_frame.drop_duplicates(subset="project_no", keep="first")
            parent_dates = dict(
                zip(firsts["project_no"].tolist(), firsts["accept_date"].tolist(), strict=True)
            )
        child_projects: set[str] = set()
        for table in CHILD_TABLES:
            pn = frames[table]["project_no"].to_numpy(dtype=object)
            child_projects.update(x for x in pn[K.is_str(pn)].tolist() if x not in parent_dates)
        before = self.cases.accepted_parents(s, child_projects) if child_projects else {}
        all_parents = {**before, **parent_dates}
        timings["parents"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        for table in CHILD_TABLES:
            frame = frames[table]
            if any(PARENT_DATE_COLUMN in p.fields for p in runner.plans[table]):
                frame[PARENT_DATE_COLUMN] = _parent_dates(frame["project_no"], all_parents)
            self._run_table(runner, table, frame, checked)
        timings["rules_children"] = time.perf_counter() - t0

        # ownership of row_guid over every candidate row, in file order
        t0 = time.perf_counter()
        everything = np.arange(n, dtype=np.int64)
        candidates = everything[~checked.failed_mask(everything)]
        dup_valid = self._duplicates(
            candidates, guids[candidates] if len(candidates) else np.zeros(0, object), owned_before
        )
        first_owner = self._first_owner(candidates, guids)
        dup_all: list[int] = sorted(dup_valid)
        # rows already failing: also a duplicate when an earlier valid row or an earlier batch owns the guid
        failing = np.array(sorted(p for p in checked.reasons if p < n), dtype=np.int64)
        for p in failing.tolist():
            g = guids[p]
            if isinstance(g, str) and (g in owned_before or (g in first_owner and first_owner[g] < p)):
                dup_all.append(p)
        checked.add(R.ROW_DUPLICATE_GUID, dup_all, "row_guid")
        checked.stats[R.ROW_DUPLICATE_GUID] += len(dup_all)
        checked.checked[R.ROW_DUPLICATE_GUID] += n
        timings["duplicates"] = time.perf_counter() - t0

        # classification
        t0 = time.perf_counter()
        final_parents = dict(before)
        if len(acc_pos):
            good_acc = ~checked.failed_mask(acc_pos)
            ok_frame = acc.loc[acc_pos[good_acc], ["project_no", "accept_date"]]
            for pno, d in zip(ok_frame["project_no"].tolist(), ok_frame["accept_date"].tolist(), strict=True):
                final_parents.setdefault(pno, d)
        curated_pos: list[int] = []
        held_pos: list[int] = []
        table_of = table_col  # position -> table name
        for table in (ACCEPT, *CHILD_TABLES):
            frame = frames[table]
            pos = frame.index.to_numpy()
            valid = ~checked.failed_mask(pos)
            if table == ACCEPT:
                curated_pos.extend(pos[valid].tolist())
                continue
            pn = frame["project_no"].to_numpy(dtype=object)
            has_parent = K._member(pn, final_parents.keys()) if len(pn) else np.zeros(0, bool)
            curated_pos.extend(pos[valid & has_parent].tolist())
            held_pos.extend(pos[valid & ~has_parent].tolist())
        curated_pos.sort()
        held_pos.sort()
        quarantine_pos = sorted(checked.reasons)
        outcome.curated, outcome.held, outcome.quarantined = (
            len(curated_pos),
            len(held_pos),
            len(quarantine_pos),
        )
        if outcome.curated + outcome.held + outcome.quarantined != outcome.rows:
            raise InvariantBroken(
                f"batch {batch.hash}: rows {outcome.rows} != curated {outcome.curated} + held {outcome.held} "
                f"+ quarantined {outcome.quarantined}"
            )
        reason_counts: Counter[str] = Counter()
        for p in quarantine_pos:
            for rule_id in {r["rule_id"] for r in checked.reasons[p]}:
                reason_counts[rule_id] += 1
        outcome.reasons = dict(sorted(reason_counts.items()))
        if held_pos:
            outcome.held_reasons = {R.CHILD_PARENT_MISSING: len(held_pos)}
        flag_counts: Counter[str] = Counter()
        for p in curated_pos:
            for f in checked.flags.get(p, ()):
                flag_counts[f] += 1
        outcome.flags = dict(flag_counts)
        stats = {
            r: {"checked": int(checked.checked[r]), "failed": int(checked.stats[r])} for r in checked.checked
        }
        stats[R.CHILD_PARENT_MISSING] = {
            "checked": sum(len(frames[t]) for t in CHILD_TABLES),
            "failed": len(held_pos),
        }
        outcome.rule_stats = dict(sorted(stats.items()))
        timings["classify"] = time.perf_counter() - t0

        # outputs
        t0 = time.perf_counter()
        # each row serialized once: one blob per object, its lines (as text) for the case store
        curated_blob, curated_texts = self._encode([values[p] for p in curated_pos])
        held_blob, held_texts = self._encode([values[p] for p in held_pos])
        q_docs: list[dict[str, Any]] = []
        q_rows: list[QuarantineIn] = []
        for p in quarantine_pos:
            if p >= n:
                bl = parsed.bad[p - n]
                doc = {
                    "line": bl.line,
                    "byte_offset": bl.byte_offset,
                    "reasons": checked.reasons[p],
                    "raw": bl.text,
                    "detail": bl.message,
                }
                q_rows.append(
                    QuarantineIn(
                        batch.hash, checked.reasons[p], line=bl.line, byte_offset=bl.byte_offset, raw=bl.text
                    )
                )
            else:
                row = values[p]
                doc = {
                    "line": parsed.lines[p],
                    "table": row.get("table"),
                    "row_guid": row.get("row_guid"),
                    "reasons": checked.reasons[p],
                    "raw": parsed.texts[p],
                }
                q_rows.append(
                    QuarantineIn(
                        batch.hash,
                        checked.reasons[p],
                        line=parsed.lines[p],
                        row_guid=_str_or_none(row.get("row_guid")),
                        table=_str_or_none(row.get("table")),
                        project_no=_str_or_none(row.get("project_no")),
                        raw=parsed.texts[p],
                    )
                )
            q_docs.append(doc)
        q_bytes = _ENCODER.encode_lines(q_docs) if q_docs else b""
        for zone, blob, rows in (
            ("curated", curated_blob, len(curated_pos)),
            ("held", held_blob, len(held_pos)),
            ("quarantine", q_bytes, len(quarantine_pos)),
        ):
            outcome.objects[zone] = self.outputs.put(
                zone, zone, blob, content_type=CONTENT_JSONL, source=batch.source, rows=rows
            ).as_dict()
        outcome.objects["raw"] = self.outputs.put(
            "raw", "raw", batch.data, content_type=CONTENT_JSONL, source=batch.source, rows=parsed.rows
        ).as_dict()
        timings["objects"] = time.perf_counter() - t0

        # case store
        t0 = time.perf_counter()
        date_cols = {t: _first_date_column(TABLES[t])[0] for t in TABLES}
        lines_of, flags_of, h = parsed.lines, checked.flags, batch.hash
        accepted: list[AcceptedValues] = []
        dumps = json.dumps
        for p, text in zip(curated_pos, curated_texts, strict=True):
            row = values[p]
            table = table_of[p]
            col = date_cols[table]
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
                HeldRowIn(values[p]["row_guid"], table_of[p], values[p]["project_no"], h, lines_of[p], text)
                for p, text in zip(held_pos, held_texts, strict=True)
            ],
            at=now,
        )
        self.cases.add_quarantined(s, q_rows, at=now)
        timings["casestore"] = time.perf_counter() - t0

        # samples for the report
        self._samples = [
            {
                "line": d.get("line"),
                "table": d.get("table"),
                "reasons": d["reasons"],
                **({"row": values[p]} if p < n else {"raw": d.get("raw")}),
            }
            for p, d in list(zip(quarantine_pos, q_docs, strict=True))[: self.sample_rows]
        ]

        # release holds whose parent arrived in this batch
        t0 = time.perf_counter()
        arrived = {values[p]["project_no"] for p in curated_pos if table_of[p] == ACCEPT}
        if arrived:
            self._release(s, batch, outcome, runner, arrived, final_parents, now)
        timings["release"] = time.perf_counter() - t0

    @staticmethod
    def _encode(rows: Sequence[Mapping[str, Any]]) -> tuple[bytes, list[str]]:
        """The JSON Lines object of ``rows`` (one C call) and each row's line as text (one decode
        and split of the whole object; JSON escapes every newline inside a value)."""
        if not rows:
            return b"", []
        blob = _ENCODER.encode_lines(list(rows))
        texts = blob.decode("utf-8").split("\n")
        texts.pop()  # after the last newline
        return blob, texts

    @staticmethod
    def _first_owner(candidates: npt.NDArray[np.int64], guids: npt.NDArray[np.object_]) -> dict[str, int]:
        if not len(candidates):
            return {}
        g = pd.Series(guids[candidates], index=candidates, dtype=object)
        g = g[K.is_str(g.to_numpy(dtype=object))]
        firsts = g[~g.duplicated(keep="first")]
        return dict(zip(firsts.tolist(), firsts.index.tolist(), strict=True))

    @staticmethod
    def _duplicates(
        positions: npt.NDArray[np.int64], guids: npt.NDArray[np.object_], owned_before: set[str]
    ) -> set[int]:
        """Positions (in file order) whose guid an earlier batch owns or an earlier row here owns."""
        if not len(positions):
            return set()
        order = np.argsort(positions, kind="stable")
        pos, g = positions[order], guids[order]
        ser = pd.Series(g, dtype=object)
        later = ser.duplicated(keep="first").to_numpy(dtype=bool)
        before = K._member(g, owned_before) if owned_before else np.zeros(len(g), bool)
        return set(pos[later | before].tolist())

    def _release(
        self,
        s: Any,
        batch: Batch,
        outcome: Outcome,
        runner: SuiteRunner,
        arrived: set[str],
        parents: Mapping[str, str],
        now: datetime,
    ) -> None:
        holds: list[HeldRow] = self.cases.open_holds(s, project_nos=arrived)
        if not holds:
            return
        rows = [h.row() for h in holds]
        checked = _Checked()
        by_table: dict[str, list[int]] = defaultdict(list)
        for i, h in enumerate(holds):
            by_table[h.table_name].append(i)
        for table, idx in by_table.items():
            spec = TABLES[table]
            frame = pd.DataFrame([rows[i] for i in idx], index=pd.Index(idx, dtype=np.int64), dtype=object)
            frame = frame.reindex(columns=list(spec.columns))
            if any(PARENT_DATE_COLUMN in p.fields for p in runner.plans[table]):
                frame[PARENT_DATE_COLUMN] = _parent_dates(frame["project_no"], parents)
            self._run_table(runner, table, frame, checked)
        ok = [i for i in range(len(holds)) if i not in checked.reasons]
        bad = [i for i in range(len(holds)) if i in checked.reasons]
        blob, texts = self._encode([rows[i] for i in ok])
        date_cols = {t: _first_date_column(TABLES[t]) for t in TABLES}
        accepted = []
        for i, text in zip(ok, texts, strict=True):
            h, row = holds[i], rows[i]
            col, _ = date_cols[h.table_name]
            d = row.get(col) if col else None
            accepted.append(
                AcceptedRow(
                    row_guid=h.row_guid,
                    table=h.table_name,
                    project_no=h.project_no,
                    business_date=(d[:10] if isinstance(d, str) else None),
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
                    batch.hash,
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
        self.cases.close_holds(
            s, [holds[i].id for i in range(len(holds))], status=HOLD_RELEASED, closed_by=batch.hash, at=now
        )
        outcome.released, outcome.released_quarantined = len(ok), len(bad)
        if ok:
            outcome.objects["released"] = self.outputs.put(
                "released",
                "curated",
                blob,
                content_type=CONTENT_JSONL,
                source=batch.source,
                rows=len(ok),
            ).as_dict()
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
            outcome.objects["released_quarantine"] = self.outputs.put(
                "released_quarantine",
                "quarantine",
                _ENCODER.encode_lines(docs),
                content_type=CONTENT_JSONL,
                source=batch.source,
                rows=len(bad),
            ).as_dict()

    def _expire(self, s: Any, now: datetime) -> tuple[SweepResult, bool]:
        holds = self.cases.open_holds(s, held_before=now - self.hold_time)
        if not holds:
            return SweepResult(0, None, []), False
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
            "expired", "quarantine", _ENCODER.encode_lines(docs), content_type=CONTENT_JSONL, rows=len(holds)
        )
        return SweepResult(len(holds), obj, ids), True

    # -- report, receipt, records ---------------------------------------------------------------------
    def _finish(self, s: Any, batch: Batch, outcome: Outcome, now: datetime) -> None:
        doc = {
            "batch_hash": outcome.batch_hash,
            "name": outcome.name,
            "validated_at": outcome.validated_at,
            "suite_version": outcome.suite_version,
            "suite_hash": outcome.suite_hash,
            "counts": self._counts(outcome),
            "file_quarantined": outcome.file_quarantined,
            "fault": outcome.fault,
            "rule_stats": outcome.rule_stats,
            "held_reasons": outcome.held_reasons,
            "flags": outcome.flags,
            "samples": getattr(self, "_samples", []),
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
            "counts": self._counts(outcome),
            "rules": outcome.reasons,
            "held_reasons": outcome.held_reasons,
            "flags": outcome.flags,
            "objects": outcome.objects,
            "platform": self.settings.platform_name,
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
                "counts": self._counts(outcome),
            },
            now=now,
        )

    @staticmethod
    def _counts(o: Outcome) -> dict[str, Any]:
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

    def _save(self, s: Any, batch: Batch, outcome: Outcome, now: datetime) -> None:
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

    # -- license metadata -----------------------------------------------------------------------------
    def validate_license_metadata(
        self, rows: Sequence[Mapping[str, Any]], *, table: str = "license_metadata"
    ) -> list[RowVerdict]:
        """Check license metadata rows (GB/T 36903 field codes) against the generated suite of
        ``license_metadata`` (or ``license_holder``); KZ_* face fields are allowed."""
        runner, _ = _runner(self.calendar_dir)
        spec = TABLES[table]
        frame = pd.DataFrame(list(rows), index=pd.RangeIndex(len(rows)), dtype=object).reindex(
            columns=list(spec.columns)
        )
        checked = _Checked()
        self._run_table(runner, table, frame, checked)
        for i, row in enumerate(rows):
            for k in row:
                if not spec.has(k) and not str(k).startswith("KZ_"):
                    checked.add(R.ROW_UNKNOWN_COLUMN, [i], str(k))
        return [
            RowVerdict(i, i not in checked.reasons, list(checked.reasons.get(i, [])))
            for i in range(len(rows))
        ]


def _parent_dates(project_nos: pd.Series, parents: Mapping[str, str]) -> pd.Series:
    """The accept date of each row's parent (None where unknown), as an object column."""
    if not len(project_nos):
        return pd.Series([], index=project_nos.index, dtype=object)
    lookup = pd.Series(dict(parents), dtype=object) if parents else pd.Series([], dtype=object)
    keys = project_nos.where(K.is_str(project_nos), None)
    mapped = keys.map(lookup) if len(lookup) else pd.Series(None, index=project_nos.index, dtype=object)
    return mapped.astype(object).where(mapped.notna(), None)


def _str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def validate_batch(batch: Batch, *, settings: Settings | None = None) -> Outcome:
    """Validate one batch with a gate built from the settings (the DAG task entry point)."""
    from core.settings import load_settings

    return QualityGate(settings or load_settings()).validate_batch(batch)
