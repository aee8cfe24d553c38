"""Prometheus metrics of one API process (``/metrics``).

Each app has its own registry (tests build many apps in one process). With several uvicorn workers
set ``PROMETHEUS_MULTIPROC_DIR`` and the endpoint aggregates every worker's files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from core.ledger_writer import GroupCommitWriter
from gateway.viewcache import CachedLicensePort

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _WriterCollector(Collector):
    def __init__(self, writer: GroupCommitWriter) -> None:
        self.writer = writer

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        st = self.writer.stats
        yield CounterMetricFamily("tongban_ledger_entries", "use-ledger entries committed", value=st.entries)
        yield CounterMetricFamily("tongban_ledger_commits", "group-commit transactions", value=st.batches)
        yield CounterMetricFamily("tongban_ledger_failures", "ledger entries not committed", value=st.failed)
        yield GaugeMetricFamily("tongban_ledger_max_batch", "largest group commit so far", value=st.max_batch)


class _CacheCollector(Collector):
    """The license view cache of this worker (:mod:`gateway.viewcache`)."""

    def __init__(self, cache: CachedLicensePort) -> None:
        self.cache = cache

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        st = self.cache.stats
        for name in ("hits", "misses", "evictions", "refresh_errors"):
            yield CounterMetricFamily(
                f"tongban_license_cache_{name}",
                f"license view cache {name.replace('_', ' ')}",
                value=st[name],
            )
        yield GaugeMetricFamily(
            "tongban_license_cache_entries", "license views cached", value=len(self.cache)
        )
        yield GaugeMetricFamily(
            "tongban_license_cache_healthy",
            "1 while the watcher reads the status events in time (0: the cache is bypassed)",
            value=1.0 if self.cache.healthy else 0.0,
        )


class Metrics:
    def __init__(self, writer: GroupCommitWriter, cache: CachedLicensePort | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tongban_api_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tongban_api_request_seconds",
            "request latency by route",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.denied = Counter(
            "tongban_api_denied", "refused calls by error code", ["code"], registry=self.registry
        )
        self.page_hits = Counter(
            "tongban_verify_page_hits",
            "public verify page hits by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "tongban_webhook_deliveries",
            "webhook delivery attempts by result",
            ["result"],
            registry=self.registry,
        )
        self.registry.register(_WriterCollector(writer))
        if cache is not None:
            self.registry.register(_CacheCollector(cache))

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
