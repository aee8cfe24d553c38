"""The pure split (quality.split) on its own: rows in memory in, curated / held / quarantined out,
every reason with its rule id and field — no database, no object store, no settings."""

from __future__ import annotations

import ast
import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts import rules as R
from contracts.calendar import default_calendar
from contracts.fields import TABLES
from quality import CaseFrames, Split, case_frames, shared_runner, split_frames, split_rows
from sandbox.generator import defects_path, held_children, write_case_files

ROOT = Path(__file__).resolve().parents[2]
Row = dict[str, Any]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    path = tmp_path_factory.mktemp("split") / "clean.jsonl"
    write_case_files(path, 400, seed=5, bad_ratio=0.0)
    return [json.loads(x) for x in path.read_text().splitlines()]


def _family(rows: list[Row]) -> tuple[Row, list[Row]]:
    """An accept row and the children of the project with the most children."""
    counts: dict[str, int] = {}
    for r in rows:
        if r["table"] != "up_pro_accept":
            counts[r["project_no"]] = counts.get(r["project_no"], 0) + 1
    project = max(counts, key=lambda p: counts[p])
    [accept] = [r for r in rows if r["project_no"] == project and r["table"] == "up_pro_accept"]
    return accept, [r for r in rows if r["project_no"] == project and r["table"] != "up_pro_accept"]


def _assert_partition(split: Split, rows: int) -> None:
    together = [*split.curated, *split.held, *split.quarantined]
    assert sorted(together) == list(range(rows))  # every row exactly once
    assert split.rows == rows
    assert set(split.reasons) == set(split.quarantined)


def _assert_reasons_name_rule_and_field(split: Split, rows: list[Row]) -> None:
    for p in split.quarantined:
        assert split.reasons[p], p
        for reason in split.reasons[p]:
            assert set(reason) == {"rule_id", "field"}, reason
            assert reason["rule_id"] in R.RULES, reason
            if p >= len(rows):
                assert reason == {"rule_id": R.ROW_NOT_JSON, "field": None}
                continue
            row = rows[p]
            if reason["rule_id"] == R.ROW_UNKNOWN_COLUMN:
                assert reason["field"] in row and not TABLES[row["table"]].has(reason["field"])
            elif reason["rule_id"] == R.ROW_TABLE:
                assert reason["field"] == "table"
            else:
                assert TABLES[row["table"]].has(reason["field"]), (p, reason)


def test_a_clean_batch_is_curated_whole(clean: list[Row]) -> None:
    split = split_rows(clean)
    _assert_partition(split, len(clean))
    assert (len(split.curated), split.held, split.quarantined) == (len(clean), [], [])
    assert split.reason_counts == {} and split.held_reasons == {}
    accepts = {r["project_no"] for r in clean if r["table"] == "up_pro_accept"}
    assert split.arrived == accepts
    assert set(split.parents) == accepts
    # every rule was counted, nothing failed
    assert all(s["failed"] == 0 for s in split.rule_stats.values())
    assert split.rule_stats[R.ROW_DUPLICATE_GUID]["checked"] == len(clean)


@pytest.mark.parametrize("seed", [1, 2])
def test_planted_defects_are_quarantined_with_rule_and_field(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "cases.jsonl"
    write_case_files(path, 2000, seed=seed, bad_ratio=0.15)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    defects = [json.loads(x) for x in defects_path(path).read_text().splitlines()]
    split = split_rows(rows)
    _assert_partition(split, len(rows))
    _assert_reasons_name_rule_and_field(split, rows)
    assert split.quarantined == sorted(d["line"] - 1 for d in defects)
    for d in defects:
        reasons = split.reasons[d["line"] - 1]
        if R.RULES[d["rule_id"]].scope == "field":
            assert {"rule_id": d["rule_id"], "field": d["field"]} in reasons, (d, reasons)
        else:  # a row rule names one of its columns
            assert any(r["rule_id"] == d["rule_id"] for r in reasons), (d, reasons)
    # clean children of a defective accept row wait for it; nothing else is held
    parents = held_children(defects)
    assert {rows[p]["project_no"] for p in split.held} <= parents
    assert all(rows[p]["table"] != "up_pro_accept" for p in split.held)
    assert split.held_reasons == ({R.CHILD_PARENT_MISSING: len(split.held)} if split.held else {})
    assert split.reason_counts == dict(
        sorted(
            {
                rule: sum(1 for p in split.quarantined if rule in {r["rule_id"] for r in split.reasons[p]})
                for rule in {r["rule_id"] for p in split.quarantined for r in split.reasons[p]}
            }.items()
        )
    )


def test_a_child_waits_for_its_parent_unless_it_was_accepted_before(clean: list[Row]) -> None:
    accept, children = _family(clean)
    alone = split_rows(children)
    assert (alone.curated, alone.quarantined) == ([], [])
    assert alone.held == list(range(len(children)))
    assert alone.held_reasons == {R.CHILD_PARENT_MISSING: len(children)}
    assert alone.rule_stats[R.CHILD_PARENT_MISSING] == {"checked": len(children), "failed": len(children)}
    # the same children, their parent accepted in an earlier batch
    known = split_rows(children, parents_before={accept["project_no"]: accept["accept_date"]})
    assert known.curated == list(range(len(children))) and known.held == []
    assert known.parents == {accept["project_no"]: accept["accept_date"]} and known.arrived == set()
    # or with the parent in the same batch, after them
    together = split_rows([*children, accept])
    assert len(together.curated) == len(children) + 1 and together.arrived == {accept["project_no"]}


def test_a_result_before_its_parents_acceptance_is_quarantined(clean: list[Row]) -> None:
    accept, children = _family(clean)
    results = [c for c in children if c["table"] == "up_pro_result"]
    assert results, "the generated family (fixed seed) has a result row"
    early = {**results[0], "result_date": "2001-01-01"}
    known = {accept["project_no"]: accept["accept_date"]}
    for parents_before, batch in (({}, [accept, early]), (known, [early])):
        split = split_rows(batch, parents_before=parents_before)
        p = len(batch) - 1
        assert split.quarantined == [p]
        assert split.reasons[p] == [{"rule_id": R.RESULT_DATE_ORDER, "field": "result_date"}]


def test_row_guid_ownership_first_wins_and_earlier_batches_first(clean: list[Row]) -> None:
    accept, _ = _family(clean)
    broken = {**accept, "region_code": "999999"}
    resend = {**accept, "cd_batch": "resend"}
    split = split_rows([broken, accept, resend])
    # the quarantined first occurrence owns nothing; the first valid one wins; the re-send is a duplicate
    assert split.curated == [1] and split.quarantined == [0, 2]
    assert split.reasons[0] == [{"rule_id": R.ACCEPT_REGION_CODE, "field": "region_code"}]
    assert split.reasons[2] == [{"rule_id": R.ROW_DUPLICATE_GUID, "field": "row_guid"}]
    # a guid owned before this batch (an accepted row or an open hold) makes every occurrence a duplicate
    owned = split_rows([accept, broken], owned_before={accept["row_guid"]})
    assert owned.curated == [] and owned.quarantined == [0, 1]
    assert owned.reasons[0] == [{"rule_id": R.ROW_DUPLICATE_GUID, "field": "row_guid"}]
    assert owned.reasons[1] == [
        {"rule_id": R.ACCEPT_REGION_CODE, "field": "region_code"},
        {"rule_id": R.ROW_DUPLICATE_GUID, "field": "row_guid"},
    ]


def test_row_shape_failures(clean: list[Row]) -> None:
    accept, children = _family(clean)
    child = children[0]
    rows = [
        {"table": "up_pro_nope", "row_guid": "g-unknown-table"},
        {**child, "row_guid": "g-extra", "note": "x", "memo": None},
        accept,
    ]
    split = split_rows(rows, bad_lines=2)
    _assert_partition(split, 5)
    _assert_reasons_name_rule_and_field(split, rows)
    assert split.curated == [2] and split.quarantined == [0, 1, 3, 4]
    assert split.reasons[0] == [{"rule_id": R.ROW_TABLE, "field": "table"}]
    # a key present with null is still an unknown column
    assert split.reasons[1] == [
        {"rule_id": R.ROW_UNKNOWN_COLUMN, "field": "note"},
        {"rule_id": R.ROW_UNKNOWN_COLUMN, "field": "memo"},
    ]
    assert split.reasons[3] == split.reasons[4] == [{"rule_id": R.ROW_NOT_JSON, "field": None}]
    assert split.rule_stats[R.ROW_NOT_JSON] == {"checked": 5, "failed": 2}
    assert split.rule_stats[R.ROW_TABLE] == {"checked": 3, "failed": 1}
    assert split.rule_stats[R.ROW_UNKNOWN_COLUMN] == {"checked": 2, "failed": 1}
    assert split.reason_counts == {R.ROW_NOT_JSON: 2, R.ROW_TABLE: 1, R.ROW_UNKNOWN_COLUMN: 1}


def test_flag_rules_curate_the_row_and_record_the_flag(clean: list[Row]) -> None:
    accept, _ = _family(clean)
    accepted = date(2026, 12, 28)  # the promise date falls into a year without a loaded schedule
    due = default_calendar().promise_date(accepted, 5).date
    row = {
        **accept,
        "apply_date": accepted.isoformat(),
        "accept_date": accepted.isoformat(),
        "promise_day": 5,
        "anticipate_day": max(5, int(accept["anticipate_day"])),
        "promise_date": due.isoformat(),
    }
    split = split_rows([row])
    assert split.curated == [0] and split.quarantined == []
    assert split.flags == {0: [R.ACCEPT_PROMISE_DATE_PROVISIONAL]}
    assert split.flag_counts == {R.ACCEPT_PROMISE_DATE_PROVISIONAL: 1}


def test_the_split_is_a_function_of_its_inputs(clean: list[Row]) -> None:
    rows = clean[:300]
    before = copy.deepcopy(rows)
    frames = case_frames(rows, bad_lines=1)
    assert isinstance(frames, CaseFrames) and frames.rows == 301
    assert set(frames.guid_keys()) == {r["row_guid"] for r in rows}
    assert frames.child_projects() == {r["project_no"] for r in rows if r["table"] != "up_pro_accept"}
    columns = {t: list(f.columns) for t, f in frames.frames.items()}
    runner = shared_runner()[0]
    first = split_frames(frames, runner=runner)
    again = split_frames(frames, runner=runner)
    assert first == again  # timings are not compared
    assert rows == before  # the rows are not changed
    assert {t: list(f.columns) for t, f in frames.frames.items()} == columns  # nor are the frames


def test_the_split_modules_do_no_io() -> None:
    """quality.split and quality.checks import neither core (database, store, settings, ledger)
    nor the gate's writing and hold modules."""
    banned = ("core", "sqlalchemy", "quality.gate", "quality._holds", "quality._writing", "quality.outputs")
    for name in ("split", "checks"):
        tree = ast.parse((ROOT / "quality" / f"{name}.py").read_text(encoding="utf-8"))
        imported = {
            *(a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names),
            *(n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)),
        }
        bad = sorted(m for m in imported if any(m == b or m.startswith(b + ".") for b in banned))
        assert bad == [], (name, bad)
