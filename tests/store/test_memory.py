"""Bounded memory: objects stream through put and get; peak RSS does not grow with object size.

Each measurement runs ``tests.store._memprobe`` in a fresh process (so other tests' allocations do
not count) and reads its peak RSS (``VmHWM``) after a warm-up put/get, after the big put and after the big
get. The CI variant streams 64 MiB; the drills (``-m slow``) stream 2 GiB on the folder backend and
256 MiB on S3 (moto assembles multipart uploads in memory, so S3 objects stay a few hundred MB).
Memory bounds are asserted, never times; the times are printed for the report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def probe(tmp_path: Path, backend: str, size: int, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.store._memprobe",
            "--backend",
            backend,
            "--size",
            str(size),
            "--root",
            str(tmp_path),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n[memprobe] {json.dumps(result)}")
    assert result["roundtrip_ok"], result
    return result


def check_flat(result: dict[str, Any], limit: int) -> None:
    put_growth = result["put_growth_kib"] * 1024
    get_growth = result["get_growth_kib"] * 1024
    assert put_growth < limit, (
        f"put grew peak RSS by {put_growth / MiB:.1f} MiB for {result['size'] / MiB:.0f} MiB"
    )
    assert get_growth < limit, (
        f"get grew peak RSS by {get_growth / MiB:.1f} MiB for {result['size'] / MiB:.0f} MiB"
    )


def test_folder_streams_64_mib_in_bounded_memory(tmp_path: Path) -> None:
    check_flat(probe(tmp_path, "folder", 64 * MiB, "--zone", "raw"), limit=16 * MiB)


@pytest.mark.integration
def test_s3_streams_64_mib_in_bounded_memory(tmp_path: Path, moto_endpoint: str) -> None:
    result = probe(tmp_path, "s3", 64 * MiB, "--endpoint", moto_endpoint, "--part-size", str(5 * MiB))
    check_flat(result, limit=24 * MiB)  # about one 5 MiB part plus the SDK's copies of it


@pytest.mark.slow
def test_folder_streams_2_gib_with_flat_memory(tmp_path: Path) -> None:
    check_flat(probe(tmp_path, "folder", 2048 * MiB, "--zone", "raw"), limit=16 * MiB)


@pytest.mark.slow
@pytest.mark.integration
def test_s3_streams_256_mib_with_flat_memory(tmp_path: Path, moto_endpoint: str) -> None:
    result = probe(tmp_path, "s3", 256 * MiB, "--endpoint", moto_endpoint, "--part-size", str(16 * MiB))
    check_flat(result, limit=64 * MiB)  # one 16 MiB part (the default) and its copies, not the object
