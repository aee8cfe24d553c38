"""``tongban bench api`` end to end at a low rate: both servers answer every lookup, and every lookup
our API answered left exactly one committed use-ledger entry (the bench's own bookkeeping holds).

Throughput is not asserted here (shared machines are noisy); ``./run bench`` measures it."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.pg, pytest.mark.integration]


def test_bench_api_smoke(pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.api

    monkeypatch.setattr(bench.api, "PG_ADMIN", pg_admin_url)
    record = bench.api.run(rate=40.0, duration=2.0, workers=2, warmup=0.5)
    params = record["params"]
    ours, base = params["ours"], params["baseline"]
    for side in (ours, base):
        assert side["errors"] == {} and side["ok"] == side["requests"] == 80
        assert 0 < side["p50_ms"] <= side["p99_ms"] <= side["max_ms"]
    assert params["ledger_entries"] == params["ledger_entries_expected"]
    assert record["ratio"] == pytest.approx(ours["throughput_per_s"] / base["throughput_per_s"], abs=0.001)
