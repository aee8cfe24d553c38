"""Benchmark of the quality gate: ``tongban bench quality [--json]``.

Both paths take the same generated batch (``sandbox.generator``, 10% planted defects) and end in
the same place — the batch in the ``raw`` zone, held / quarantined rows in their zones, and
curated / held / quarantined rows in the case store:

* **ours** — :meth:`quality.gate.QualityGate.validate_batch`: parse, every rule through the
  generated great-expectations suites (vectorized kernels), duplicates and parents, split, object
  and database writes, HTML report, signed receipt, ledger entry;
* **baseline** — the plain path a user would write: ``json.loads`` and the contracts' pydantic
  model per row (:func:`contracts.models.parse_case_row`) plus the same cross-column, case and batch
  rules per row in Python (contracts validators, ``WorkCalendar.promise_date``), then the same
  object and case-store writes (no report, no receipt — they would only add to its time).

The one-time great-expectations import and suite construction are measured and reported apart
(``gx_import_s``, ``gx_setup_s``); a small warm-up batch runs first. The two paths must agree on
the counts (``agree``). Output: ``name, ours_per_s, baseline_per_s, ratio, params``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contracts import rules as R
from contracts import validators as V
from contracts.calendar import default_calendar
from contracts.fields import TABLES
from contracts.models import parse_case_row
from contracts.regions import REGIONS
from core.casestore import AcceptedRow, CaseStore, HeldRowIn, QuarantineIn
from core.keys.base import PLATFORM_KEY
from core.runtime import keystore
from core.settings import Settings
from quality.outputs import CONTENT_JSONL, Outputs
from sandbox.generator import write_case_files

_FIELD_ERR = {
    "missing": R.FIELD_REQUIRED,
    "string_too_short": R.FIELD_REQUIRED,
    "string_too_long": R.FIELD_MAX_LENGTH,
    "greater_than_equal": R.FIELD_RANGE,
    "less_than_equal": R.FIELD_RANGE,
    "extra_forbidden": R.ROW_UNKNOWN_COLUMN,
    "string_type": R.FIELD_TYPE,
    "int_type": R.FIELD_TYPE,
}


def _plain_rules(row: dict[str, Any], calendar: Any) -> list[str]:
    """The cross-column rules of one row, the way a per-row model validator would check them."""
    out: list[str] = []
    if row.get("table") == "up_pro_accept":
        problem = V.holder_id_problem(str(row["applyer_id_type"]), str(row["applyer_id"]))
        if problem in ("check_digit", "org_code"):
            out.append(R.ACCEPT_APPLYER_ID_CHECK_DIGIT)
        elif problem is not None and problem != "unknown_type":
            out.append(R.ACCEPT_APPLYER_ID_FORMAT)
        if not V.is_valid_uscc(row["org_code"]):
            out.append(R.ACCEPT_ORG_CODE_USCC)
        if row["region_code"] not in REGIONS:
            out.append(R.ACCEPT_REGION_CODE)
        if row["accept_date"] < row["apply_date"]:
            out.append(R.ACCEPT_DATE_ORDER)
        if row["promise_day"] > row["anticipate_day"]:
            out.append(R.ACCEPT_PROMISE_DAY_ORDER)
        expected = calendar.promise_date(date.fromisoformat(row["accept_date"]), row["promise_day"])
        if expected.date.isoformat() != row["promise_date"]:
            out.append(R.ACCEPT_PROMISE_DATE)
    elif row.get("table") == "up_pro_special_procedure" and row["end_date"] < row["start_date"]:
        out.append(R.SPECIAL_DATE_ORDER)
    return out


def baseline(data: bytes, settings: Settings, batch_hash: str) -> dict[str, int]:
    """The plain per-row path (see the module docstring); returns its counts."""
    calendar = default_calendar()
    cases = CaseStore()
    outputs = Outputs(_open_store(settings))
    from core.runtime import open_database

    db = open_database(settings)
    with db.session() as s:  # ownership of row_guids by earlier batches, as the gate checks it
        earlier = cases.owned_guids(s, [g for g in _guids(data)])
    curated: list[tuple[int, dict[str, Any]]] = []
    held: list[tuple[int, dict[str, Any]]] = []
    quarantined: list[tuple[int, str, list[str]]] = []
    owners: set[str] = set()
    parents: dict[str, str] = {}
    reasons: Counter[str] = Counter()
    pending_children: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(data.decode("utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        failed: list[str] = []
        try:
            row = json.loads(line)
        except ValueError:
            quarantined.append((number, line, [R.ROW_NOT_JSON]))
            continue
        if not isinstance(row, dict) or row.get("table") not in TABLES:
            quarantined.append((number, line, [R.ROW_TABLE]))
            continue
        try:
            parse_case_row(row)
        except ValidationError as exc:
            for err in exc.errors():
                failed.append(_FIELD_ERR.get(err["type"], R.FIELD_CODE_LIST))
        if not failed:
            failed.extend(_plain_rules(row, calendar))
        guid = row.get("row_guid")
        if isinstance(guid, str) and (guid in owners or guid in earlier):
            failed.append(R.ROW_DUPLICATE_GUID)
        if failed:
            quarantined.append((number, line, failed))
            reasons.update(set(failed))
            continue
        owners.add(str(guid))
        if row["table"] == "up_pro_accept":
            parents.setdefault(row["project_no"], row["accept_date"])
            curated.append((number, row))
        else:
            pending_children.append((number, row))
    for number, row in pending_children:
        parent = parents.get(row["project_no"])
        if parent is None:
            held.append((number, row))
        elif row["table"] == "up_pro_result" and row["result_date"] < parent:
            quarantined.append((number, json.dumps(row, ensure_ascii=False), [R.RESULT_DATE_ORDER]))
        else:
            curated.append((number, row))
    curated.sort(key=lambda x: x[0])
    curated_lines = [json.dumps(r, ensure_ascii=False) for _, r in curated]
    held_lines = [json.dumps(r, ensure_ascii=False) for _, r in held]
    q_lines = [
        json.dumps({"line": n, "reasons": rs, "raw": raw}, ensure_ascii=False) for n, raw, rs in quarantined
    ]
    outputs.put("raw", "raw", data, content_type=CONTENT_JSONL)  # the batch, as the gate keeps it
    for name, zone, lines in (
        ("held", "held", held_lines),
        ("quarantine", "quarantine", q_lines),
    ):
        outputs.put(name, zone, ("\n".join(lines) + "\n").encode(), content_type=CONTENT_JSONL)
    base = "b" + batch_hash[1:]
    with db.session() as s:
        cases.add_accepted(
            s,
            [
                AcceptedRow(
                    r["row_guid"], r["table"], r.get("project_no"), None, r.get("cd_operation"), base, n, text
                )
                for (n, r), text in zip(curated, curated_lines, strict=True)
            ],
        )
        cases.add_held(
            s,
            [
                HeldRowIn(r["row_guid"], r["table"], r["project_no"], base, n, text)
                for (n, r), text in zip(held, held_lines, strict=True)
            ],
        )
        cases.add_quarantined(
            s,
            [QuarantineIn(base, [{"rule_id": x} for x in rs], line=n, raw=raw) for n, raw, rs in quarantined],
        )
    db.dispose()
    return {"curated": len(curated), "held": len(held), "quarantined": len(quarantined)}


def _guids(data: bytes) -> list[str]:
    import re

    return re.findall(r'"row_guid": ?"([^"]*)"', data.decode("utf-8"))


def _open_store(settings: Settings) -> Any:
    from core.store import open_store

    return open_store(settings)


def _settings(root: Path, name: str) -> Settings:
    from migrations import runner

    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=folder, keys={"passphrase": "bench-quality-passphrase"})
    runner.upgrade(settings.db_url)
    keystore(settings, create=True).create_signing_key(PLATFORM_KEY, exist_ok=True)
    return settings


def run(
    count: int = 100_000, *, bad_ratio: float = 0.1, seed: int = 1, workdir: Path | None = None
) -> dict[str, Any]:
    """Run both paths once on the same generated batch; returns the benchmark document."""
    with tempfile.TemporaryDirectory(prefix="tongban-bench-quality-", dir=workdir) as tmp:
        root = Path(tmp)
        path = root / "cases.jsonl"
        write_case_files(path, count, seed=seed, bad_ratio=bad_ratio)
        warm = root / "warm.jsonl"
        write_case_files(warm, 500, seed=seed + 1, bad_ratio=bad_ratio)
        data = path.read_bytes()

        from quality.engine import gx_import_seconds

        gx_import = gx_import_seconds()
        from quality import Batch, QualityGate, shared_runner

        t0 = time.perf_counter()
        shared_runner("")
        gx_setup = time.perf_counter() - t0

        ours_settings = _settings(root, "ours")
        gate = QualityGate(ours_settings)
        gate.validate_batch(Batch(warm.read_bytes(), name="warm-up"))
        batch = Batch(data, name=path.name)
        t0, c0 = time.perf_counter(), time.process_time()
        outcome = gate.validate_batch(batch)
        ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0

        base_settings = _settings(root, "baseline")
        _open_store(base_settings).put("raw", b"warm-up", content_type="application/octet-stream")
        t0, c0 = time.perf_counter(), time.process_time()
        base_counts = baseline(data, base_settings, batch.hash)
        base_s, base_cpu = time.perf_counter() - t0, time.process_time() - c0

    ours_counts = {"curated": outcome.curated, "held": outcome.held, "quarantined": outcome.quarantined}
    return {
        "name": "quality",
        "ours_per_s": round(count / ours_s, 1),
        "baseline_per_s": round(count / base_s, 1),
        "ratio": round(base_s / ours_s, 2),
        "params": {
            "rows": count,
            "bad_ratio": bad_ratio,
            "seed": seed,
            "ours_s": round(ours_s, 3),
            "baseline_s": round(base_s, 3),
            "ours_cpu_s": round(ours_cpu, 3),
            "baseline_cpu_s": round(base_cpu, 3),
            "cpu_ratio": round(base_cpu / ours_cpu, 2) if ours_cpu else None,
            "gx_import_s": round(gx_import, 3),
            "gx_setup_s": round(gx_setup, 3),
            "ours_stages_s": {k: round(v, 3) for k, v in outcome.timings.items()},
            "ours_counts": ours_counts,
            "baseline_counts": base_counts,
            "agree": ours_counts == base_counts,
            "database": "sqlite (embedded default)",
            "store": "folder (embedded default, citizen zones encrypted)",
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
