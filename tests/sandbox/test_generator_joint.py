"""The generator's joint cases (联办件): one application of a theme gives one case per member, with
the joint number, the theme, the applicant and the acceptance in common, members interleaved with
other cases (across batch files when cut), each member promised over its path through the theme and
finishing inside its own window; the rows pass the quality gate's split whole."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from contracts.calendar import default_calendar
from contracts.catalog import load_catalog
from contracts.joint import plan_joint
from quality import split_rows
from sandbox.generator import GeneratorOptions, batch_paths, write_case_files
from tongban.cli.cases import app as cases_app


def _rows(paths: list[Path]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, json.loads(line)) for i, p in enumerate(paths) for line in p.read_text().splitlines()]


def test_joint_cases_share_an_application_and_spread_across_batches(tmp_path: Path) -> None:
    out = tmp_path / "cases.jsonl"
    opts = GeneratorOptions(seed=4, joint_ratio=0.2, regions=("510129",))
    write_case_files(out, 2000, batches=4, options=opts)
    rows = _rows(batch_paths(out, 4))
    catalog, cal = load_catalog(), default_calendar()
    accepts: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    results: dict[str, dict[str, Any]] = {}
    for f, r in rows:
        if r["table"] == "up_pro_accept" and r["joint_no"]:
            accepts[r["joint_no"]].append((f, r))
        elif r["table"] == "up_pro_result":
            results[r["project_no"]] = r
    assert len(accepts) >= 10
    straddle = 0
    for joint_no, members in accepts.items():
        first = members[0][1]
        theme = catalog.theme(first["theme_code"])
        assert {r["task_code"] for _, r in members} <= set(theme.task_codes)
        assert len({(r["applyer_id"], r["accept_date"], r["theme_code"]) for _, r in members}) == 1, joint_no
        plan = plan_joint(theme, catalog, date.fromisoformat(first["accept_date"]), cal)
        for _, r in members:
            m = plan.member(r["task_code"])
            assert (r["promise_day"], r["promise_date"]) == (m.path_days, m.promise_date.isoformat())
            res = results.get(r["project_no"])
            if res is not None:  # after what it waited on
                assert res["result_date"] > m.start.isoformat(), (joint_no, r["task_code"])
        straddle += len({f for f, _ in members}) > 1
    assert straddle >= 1  # some joint cases have members in two batch files
    split = split_rows([r for _, r in rows])
    assert (split.quarantined, split.held, split.reason_counts) == ([], [], {})


def test_cli_generate_takes_a_joint_ratio(tmp_path: Path) -> None:
    out = tmp_path / "cases.jsonl"
    res = CliRunner().invoke(
        cases_app,
        ["generate", "--count", "800", "--seed", "2", "--joint-ratio", "0.3", "--out", str(out), "--json"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["joint_ratio"] == 0.3
    joint = {json.loads(x).get("joint_no") for x in out.read_text().splitlines()} - {None}
    assert joint
    bad = CliRunner().invoke(cases_app, ["generate", "--count", "5", "--joint-ratio", "2", "--out", str(out)])
    assert bad.exit_code == 2
