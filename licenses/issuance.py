"""The issuing pipeline: a stream of requests a batch at a time, in the order that makes a crash
harmless —

1. **allocate** (:mod:`licenses.allocation`, short transaction): idempotency, uniqueness pre-check,
   serials, intent rows, the metadata and face of each license;
2. **render and sign** (:mod:`licenses._signing`; no database, no lock held) — in worker processes
   when ``workers`` > 1;
3. **store** the signed file and 4. **register and publish** (:mod:`licenses.registration`).

While batch *k* is rendered and signed, batch *k-1* is stored and registered. One allocation and one
registration transaction per batch. A crash between 3 and 4 leaves a stored file no license owns:
it never verifies as valid, and :mod:`licenses.orphans` records it void.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from core import failpoints
from licenses._context import RegistryContext
from licenses._face import IssueRequest
from licenses._pades import SignedLicense
from licenses._render import render
from licenses._signing import SigningPool
from licenses.allocation import Prepared, allocate
from licenses.errors import LicenseError
from licenses.registration import AFTER_STORE, register, store_file
from licenses.views import IssuedLicense, IssueOutcome


@dataclass
class _Batch:
    requests: Sequence[IssueRequest]
    now: datetime
    outcomes: dict[int, IssueOutcome]
    prepared: dict[int, Prepared]
    futures: dict[int, Future[tuple[bytes, int]]]


class Issuance:
    """Issue licenses a batch at a time (see the module docstring). ``pool`` signs in worker
    processes; without it, this process signs."""

    def __init__(self, ctx: RegistryContext, *, batch_size: int, pool: SigningPool | None = None) -> None:
        self.ctx = ctx
        self.batch_size = max(1, batch_size)
        self.pool = pool
        self._io_pool: ThreadPoolExecutor | None = None  # threads for durable store puts, on first use

    def issue(self, request: IssueRequest) -> IssuedLicense:
        """Issue one license (or return the one an earlier request with the same key issued)."""
        outcome = self.issue_many([request])[0]
        if outcome.error is not None:
            raise outcome.error
        assert outcome.license is not None
        return outcome.license

    def issue_many(
        self,
        requests: Iterable[IssueRequest],
        *,
        on_progress: Callable[[IssueOutcome], None] | None = None,
    ) -> list[IssueOutcome]:
        """Issue a stream of requests a batch at a time; one outcome per request, in order."""
        return asyncio.run(self.async_issue_many(requests, on_progress=on_progress))

    async def async_issue_many(
        self,
        requests: Iterable[IssueRequest],
        *,
        on_progress: Callable[[IssueOutcome], None] | None = None,
    ) -> list[IssueOutcome]:
        """Batches in a pipeline: while batch *k* is rendered and signed (in worker processes when
        there is a pool), the previous batch is stored and registered here."""
        results: list[IssueOutcome] = []
        pending: _Batch | None = None
        try:
            for batch in _chunks(requests, self.batch_size):
                started = self._start_batch(batch)
                if pending is not None:
                    results += await self._finish_batch(pending, on_progress)
                pending = started
            if pending is not None:
                results += await self._finish_batch(pending, on_progress)
        finally:
            if pending is not None:
                for fut in pending.futures.values():
                    fut.cancel()
        return results

    def close(self) -> None:
        """Stop the signing worker processes and store threads (if any); issuing stays possible."""
        if self.pool is not None:
            self.pool.close()
        if self._io_pool is not None:
            self._io_pool.shutdown(wait=True)
            self._io_pool = None

    def _io(self) -> ThreadPoolExecutor:
        if self._io_pool is None:
            self._io_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="license-store")
        return self._io_pool

    def _start_batch(self, batch: Sequence[IssueRequest]) -> _Batch:
        now = self.ctx.clock()
        for attempt in range(3):
            try:
                outcomes, prepared = allocate(self.ctx.db, self.ctx.material, self.ctx.verify_url, batch, now)
                break
            except IntegrityError:  # a concurrent issuer took the same idempotency key: look again
                if attempt == 2:
                    raise
        futures: dict[int, Future[tuple[bytes, int]]] = {}
        if self.pool is not None:
            for i, p in prepared.items():
                futures[i] = self.pool.submit(p.request.issuer_code, p.face)
        return _Batch(batch, now, outcomes, prepared, futures)

    async def _finish_batch(
        self, b: _Batch, on_progress: Callable[[IssueOutcome], None] | None
    ) -> list[IssueOutcome]:
        outcomes = b.outcomes
        for i, p in b.prepared.items():
            try:
                if i in b.futures:
                    pdf, certified = b.futures[i].result()
                    p.signed = SignedLicense(pdf, certified)
                else:
                    p.signed = await self.ctx.material.signer(p.seal).async_sign(render(p.face))
            except LicenseError as exc:
                outcomes[i] = IssueOutcome(p.request, error=exc)
        signed = [(i, p) for i, p in b.prepared.items() if i not in outcomes]

        def put(item: tuple[int, Prepared]) -> str:
            assert item[1].signed is not None
            return store_file(
                self.ctx.store, item[1].signed.pdf, schema_version=f"license-{self.ctx.profile}"
            )

        # durable puts (fsync) overlap in threads; each file is stored before anything registers it
        keys = map(put, signed) if len(signed) < 2 else self._io().map(put, signed)
        for (_i, p), key in zip(signed, keys, strict=True):
            p.object_key = key
            failpoints.hit(AFTER_STORE)
        ready = {i: p for i, p in b.prepared.items() if i not in outcomes}
        outcomes.update(register(self.ctx.db, ready, b.now, profile=self.ctx.profile))
        out = [outcomes[i] for i in range(len(b.requests))]
        if on_progress is not None:
            for o in out:
                on_progress(o)
        return out


def _chunks(items: Iterable[IssueRequest], size: int) -> Iterable[list[IssueRequest]]:
    batch: list[IssueRequest] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
