"""The quality benchmark's two paths end in the same place on a small batch (a benchmark whose
paths split the rows differently would compare different work)."""

from __future__ import annotations

from pathlib import Path

from bench.quality import run


def test_both_paths_agree_on_a_small_batch(tmp_path: Path) -> None:
    doc = run(600, bad_ratio=0.1, seed=3, workdir=tmp_path)
    p = doc["params"]
    assert p["agree"] is True and p["ours_counts"] == p["baseline_counts"]
    assert sum(p["ours_counts"].values()) == 600 and p["ours_counts"]["quarantined"] > 0
    assert doc["ratio"] > 0
