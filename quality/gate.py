"""The quality gate: ``validate_batch(batch) -> Outcome`` — the small facade the pipeline calls.

For one batch (a JSON Lines file, its SHA-256 is its identity):

1. **Replay** — a batch hash already validated returns its stored outcome; nothing changes.
2. **Expiry** — open holds older than ``settings.quality.hold_hours`` are quarantined with
   ``child.parent_missing`` (recorded in this outcome as ``expired``; :mod:`quality._holds`).
3. **Parse** — :mod:`quality.parsing`; an unreadable file is quarantined whole (line and byte
   offset of the fault; all its lines count as quarantined, ``file_quarantined``).
4. **Split** — :mod:`quality.split`, pure: frames of the rows, the generated suites, row shape,
   ownership of ``row_guid`` and parents → curated / held / quarantined with every failed rule and
   field. The gate reads the two facts it needs from before this batch (guids owned by accepted rows
   and open holds, parents accepted before) from the case store and passes them in.
5. **Write** — curated / held / quarantine / raw objects and the case-store rows
   (:mod:`quality._writing`).
6. **Release** — open holds whose parent was curated in this batch are re-checked through the same
   suites (now with their parent) and accepted, or quarantined (:mod:`quality._holds`).
7. **Finish** — the HTML report and the signed receipt to the ``reports`` zone, one ledger entry, the
   batch record — all database writes of steps 2–7 in one transaction.

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
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from core.casestore import BatchExists, CaseStore, iso
from core.db import Database, utcnow
from core.keys import AnyKeyStore
from core.settings import Settings
from core.store import ObjectStore
from quality._holds import Holds
from quality._writing import Sample, Writer
from quality.checks import check_rows
from quality.engine import SuiteRunner, shared_runner
from quality.errors import InvariantBroken
from quality.outcome import Batch, Outcome, RowVerdict, SweepResult
from quality.outputs import Outputs
from quality.parsing import ParsedBatch, parse_batch
from quality.split import case_frames, split_frames

__all__ = ["Batch", "Outcome", "QualityGate", "RowVerdict", "SweepResult", "validate_batch"]


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
        self.holds = Holds(self.cases, self.outputs, self.hold_time)
        self.writer = Writer(
            self.outputs,
            self.cases,
            self.keystore,
            platform_name=settings.platform_name,
            sample_rows=self.sample_rows,
        )

    # -- public -------------------------------------------------------------------------------------
    def outcome(self, batch_hash: str) -> Outcome | None:
        with self.db.session() as s:
            rec = self.cases.batch(s, batch_hash)
            return Outcome.from_doc(rec.outcome_doc(), replayed=True) if rec else None

    def sweep_holds(self, *, now: datetime | None = None) -> SweepResult:
        """Quarantine open holds older than the hold time with ``child.parent_missing``."""
        with self.db.session() as s:
            return self.holds.sweep(s, now or utcnow())

    def validate_batch(self, batch: Batch, *, now: datetime | None = None) -> Outcome:
        with _no_cyclic_gc():
            return self._validate_batch(batch, now=now)

    def validate_license_metadata(
        self, rows: Sequence[Mapping[str, Any]], *, table: str = "license_metadata"
    ) -> list[RowVerdict]:
        """Check license metadata rows (GB/T 36903 field codes) against the generated suite of
        ``license_metadata`` (or ``license_holder``); KZ_* face fields are allowed."""
        return check_rows(rows, table, runner=shared_runner(self.calendar_dir)[0])

    # -- one batch ------------------------------------------------------------------------------------
    def _validate_batch(self, batch: Batch, *, now: datetime | None) -> Outcome:
        started = time.perf_counter()
        now = now or utcnow()
        stored = self.outcome(batch.hash)
        if stored is not None:
            return stored
        runner, s_hash = shared_runner(self.calendar_dir)
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
                sweep = self.holds.expire(s, now)
                outcome.expired = sweep.expired
                if sweep.object is not None:
                    outcome.objects["expired"] = sweep.object.as_dict()
                if parsed.fault is not None:
                    samples = self.writer.quarantine_file(s, batch, parsed, outcome)
                else:
                    samples = self._split(s, batch, parsed, outcome, runner, timings, now)
                t0 = time.perf_counter()
                self.writer.finish(s, batch, outcome, samples, now)
                timings["report_receipt"] = time.perf_counter() - t0
                outcome.timings = {**timings, "total": time.perf_counter() - started}
                self.writer.save(s, batch, outcome)
        except BatchExists:
            stored = self.outcome(batch.hash)
            assert stored is not None
            return stored
        return outcome

    def _split(
        self,
        s: Any,
        batch: Batch,
        parsed: ParsedBatch,
        outcome: Outcome,
        runner: SuiteRunner,
        timings: dict[str, float],
        now: datetime,
    ) -> list[Sample]:
        """Split (pure, with what the case store knows from before), write, release."""
        t0 = time.perf_counter()
        frames = case_frames(parsed.values, bad_lines=len(parsed.bad))
        timings["frames"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        owned_before = self.cases.owned_guids(s, frames.guid_keys()) if frames.n else set()
        timings["db_owned"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        child_projects = frames.child_projects()
        parents_before = self.cases.accepted_parents(s, child_projects) if child_projects else {}
        timings["db_parents"] = time.perf_counter() - t0
        try:
            split = split_frames(
                frames, runner=runner, owned_before=owned_before, parents_before=parents_before
            )
        except InvariantBroken as exc:
            raise InvariantBroken(f"batch {batch.hash}: {exc}") from exc
        timings.update(split.timings)
        outcome.curated, outcome.held, outcome.quarantined = (
            len(split.curated),
            len(split.held),
            len(split.quarantined),
        )
        outcome.reasons = split.reason_counts
        outcome.held_reasons = split.held_reasons
        outcome.flags = split.flag_counts
        outcome.rule_stats = split.rule_stats

        samples = self.writer.write_split(s, batch, parsed, split, outcome, timings, now)

        # release holds whose parent arrived in this batch
        t0 = time.perf_counter()
        if split.arrived:
            released = self.holds.release(
                s,
                batch_hash=batch.hash,
                source=batch.source,
                runner=runner,
                arrived=split.arrived,
                parents=split.parents,
                now=now,
            )
            outcome.released, outcome.released_quarantined = released.released, released.quarantined
            outcome.objects.update(released.objects)
        timings["release"] = time.perf_counter() - t0
        return samples


def validate_batch(batch: Batch, *, settings: Settings | None = None) -> Outcome:
    """Validate one batch with a gate built from the settings (the DAG task entry point)."""
    from core.settings import load_settings

    return QualityGate(settings or load_settings()).validate_batch(batch)
