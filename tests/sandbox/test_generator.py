"""The generator: realistic, deterministic, streaming; its defects file is exactly what the
reference checker quarantines (both directions, several seeds)."""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contracts import rules as R
from contracts.catalog import load_catalog
from contracts.checks import check_file
from contracts.licensetypes import load_license_types
from contracts.models import DepartmentApproval, parse_case_row
from sandbox.generator import (
    DEFECT_KINDS,
    CaseGenerator,
    GeneratorOptions,
    approvals_path,
    batch_paths,
    defects_path,
    held_children,
    write_case_files,
)
from tongban.cli.cases import app as cases_app

SEEDS = (1, 2, 3, 4, 5)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("bad")
    out = {}
    for seed in SEEDS:
        p = root / f"cases-{seed}.jsonl"
        summary = write_case_files(p, 3000, seed=seed, bad_ratio=0.08)
        assert summary.rows == 3000
        out[seed] = p
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_defects_file_is_exactly_what_the_checker_quarantines(bad_files: dict[int, Path], seed: int) -> None:
    path = bad_files[seed]
    rows = _jsonl(path)
    defects = _jsonl(defects_path(path))
    assert len(rows) == 3000
    assert defects, "a bad ratio of 8% must plant defects"
    report = check_file(path)
    quarantined = {v.line: v for v in report.quarantined}
    planted = {d["line"]: d for d in defects}
    assert len(planted) == len(defects), "one defect per row"
    # both directions: every planted row is quarantined, and no other row is
    assert set(quarantined) == set(planted)
    for line, d in planted.items():
        assert d["rule_id"] in quarantined[line].rule_ids, (d, quarantined[line].rule_ids)
        assert rows[line - 1]["table"] == d["table"]
        assert d["rule_id"] in R.RULES
    # the held rows are exactly the clean children of defective accept rows
    orphaned = held_children(defects)
    expected_held = {
        i + 1
        for i, row in enumerate(rows)
        if row["table"] != "up_pro_accept" and row.get("project_no") in orphaned and i + 1 not in planted
    }
    assert {v.line for v in report.held} == expected_held
    assert all(v.rule_ids == (R.CHILD_PARENT_MISSING,) for v in report.held)


def test_every_defect_kind_is_planted_and_duplicates_are_later_copies(bad_files: dict[int, Path]) -> None:
    kinds: Counter[str] = Counter()
    for path in bad_files.values():
        rows = _jsonl(path)
        for d in _jsonl(defects_path(path)):
            kinds[d["kind"]] += 1
            if d["kind"] == "duplicate_guid":
                first = next(i + 1 for i, r in enumerate(rows) if r.get("row_guid") == d["row_guid"])
                assert first < d["line"]  # the later occurrence is the defective one
    assert set(kinds) == set(DEFECT_KINDS), kinds


def test_clean_file_is_valid_realistic_and_models_agree(tmp_path: Path) -> None:
    path = tmp_path / "clean.jsonl"
    summary = write_case_files(path, 4000, seed=11)
    assert summary.bad_rows == 0
    assert defects_path(path).read_text(encoding="utf-8") == ""
    report = check_file(path)
    assert report.summary()["invalid"] == 0
    assert report.held == []
    assert report.flagged == {}
    rows = _jsonl(path)
    tables = Counter(r["table"] for r in rows)
    assert set(tables) == {
        "up_pro_accept",
        "up_pro_process",
        "up_pro_special_procedure",
        "up_pro_result",
        "up_pro_material",
        "up_pro_evaluation",
    }
    for r in rows:
        parse_case_row(r)  # the pydantic models accept every clean row
    accept_line = {r["project_no"]: i for i, r in enumerate(rows) if r["table"] == "up_pro_accept"}
    assert any(i < accept_line[r["project_no"]] for i, r in enumerate(rows) if r["table"] != "up_pro_accept")
    accepts = [r for r in rows if r["table"] == "up_pro_accept"]
    assert len({r["region_code"] for r in accepts}) == 5
    assert {r["applyer_id_type"] for r in accepts} >= {"111", "001"}
    assert any(r["promise_day"] == 0 for r in accepts)
    assert any(ord(r["applyer_name"][0]) > 0x4E00 for r in accepts)

    # approvals: one per finished case ending in a license, with the fields the catalog sources
    catalog = load_catalog()
    types = load_license_types()
    by_project = {r["project_no"]: r for r in accepts}
    licensed = {
        r["project_no"]
        for r in rows
        if r["table"] == "up_pro_result"
        and r["result_type"] == "1"
        and catalog.item(by_project[r["project_no"]]["task_code"]).license is not None
    }
    approvals = _jsonl(approvals_path(path))
    assert {a["project_no"] for a in approvals} == licensed
    assert summary.approvals == len(approvals)
    late = [a for a in approvals if a["late"]]
    assert 0 < len(late) < len(approvals)
    for a in approvals:
        late_flag = a.pop("late")
        model = DepartmentApproval.model_validate(a)
        item = catalog.item(model.task_code)
        t = types[model.type_code]
        assert set(model.fields) == set(item.approval_keys) - {"holders"}
        for key, value in model.fields.items():
            assert len(value) <= t.face_field(key).length, (key, value)
        assert bool(model.holders) == ("holders" in item.approval_keys)
        waited = (model.sent_at.date() - model.approved_date).days
        assert (waited >= 5) == late_flag
    results = [r for r in rows if r["table"] == "up_pro_result" and r["result_cert_no"]]
    names = {r["result_cert_name"] for r in results}
    assert names == {"营业执照", "食品经营许可证", "不动产权证书"}


def test_generation_is_deterministic_per_seed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    write_case_files(a, 1500, seed=42, bad_ratio=0.1)
    write_case_files(b, 1500, seed=42, bad_ratio=0.1)
    write_case_files(c, 1500, seed=43, bad_ratio=0.1)
    for f in (lambda p: p, defects_path, approvals_path):
        assert f(a).read_bytes() == f(b).read_bytes()
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("count", [1, 2, 7, 101])
def test_exact_count_and_no_orphans_when_cut(tmp_path: Path, count: int) -> None:
    p = tmp_path / "small.jsonl"
    assert write_case_files(p, count, seed=count, bad_ratio=0.3).rows == count
    rows = _jsonl(p)
    assert len(rows) == count
    defects = _jsonl(defects_path(p))
    report = check_file(p)
    assert {v.line for v in report.quarantined} == {d["line"] for d in defects}
    orphaned = held_children(defects)
    assert all(v.project_no in orphaned for v in report.held)


def test_batches_spread_cases_across_files(tmp_path: Path) -> None:
    out = tmp_path / "batched.jsonl"
    # a seed whose cut puts some child in an earlier file (seeds 20 and 22 did not before issue 18's
    # 容缺 rows lengthened cases; 21 does not since): the property is per seed, not per generator
    summary = write_case_files(out, 2400, seed=22, bad_ratio=0.06, batches=4)
    paths = batch_paths(out, 4)
    assert summary.files["cases"] == ",".join(map(str, paths))
    assert not out.exists()
    per_file = [_jsonl(p) for p in paths]
    assert [len(rows) for rows in per_file] == [600, 600, 600, 600]
    file_of_accept = {
        r["project_no"]: i for i, rows in enumerate(per_file) for r in rows if r["table"] == "up_pro_accept"
    }
    assert any(
        i < file_of_accept.get(r.get("project_no"), -1)
        for i, rows in enumerate(per_file)
        for r in rows
        if r["table"] != "up_pro_accept"
    ), "some child must arrive in a file before its parent's"
    defects = _jsonl(defects_path(out))
    report = check_file(paths)
    assert {(v.file, v.line) for v in report.quarantined} == {(d["file"], d["line"]) for d in defects}
    for d in defects:
        assert per_file[[p.name for p in paths].index(d["file"])][d["line"] - 1]["table"] == d["table"]
    orphaned = held_children(defects)
    assert all(v.project_no in orphaned for v in report.held)
    # checked alone, a file holds the children whose parent is in a later file; in order they are released
    assert sum(len(check_file(p).held) for p in paths) > len(report.held)
    with pytest.raises(ValueError):
        write_case_files(out, 3, batches=4)


def test_memory_is_flat_in_count() -> None:
    gen_opts = GeneratorOptions(seed=5, bad_ratio=0.05)

    def peak(n: int) -> int:
        gen = CaseGenerator(gen_opts)
        tracemalloc.start()
        for _ in gen.emit(n):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(300)  # warm caches (calendar, catalog)
    small, large = peak(2000), peak(10000)
    assert large < small * 1.5 + 256 * 1024, (small, large)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError):
        GeneratorOptions(bad_ratio=1.5)
    with pytest.raises(ValueError):
        GeneratorOptions(start=date(2026, 1, 2), end=date(2025, 1, 1))
    with pytest.raises(ValueError):
        write_case_files("/nonexistent/never", 0)


def test_cli_generate(tmp_path: Path) -> None:
    out = tmp_path / "cli" / "cases.jsonl"
    res = CliRunner().invoke(
        cases_app,
        ["generate", "--count", "600", "--bad-ratio", "0.1", "--seed", "9", "--out", str(out), "--json"],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["rows"] == 600
    assert doc["bad_rows"] == len(_jsonl(defects_path(out)))
    assert doc["files"]["approvals"] == str(approvals_path(out))
    assert len(_jsonl(out)) == 600
    res = CliRunner().invoke(cases_app, ["generate", "--count", "0", "--out", str(out)])
    assert res.exit_code == 2
    res = CliRunner().invoke(
        cases_app, ["generate", "--count", "5", "--out", str(out), "--calendar-dir", str(tmp_path / "none")]
    )
    assert res.exit_code == 2
