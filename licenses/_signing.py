"""Signing material for issuance (private): a department's seal and one reusable PAdES signer per
seal certificate, cached for ``material_ttl_s`` (so rotations, revocations and fresh CRLs are seen),
in this process (:class:`SigningMaterial`) or in worker processes (:class:`SigningPool`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any

from licenses._pades import Profile, SealSigner
from licenses._render import Face, render
from licenses._seals import Seal, SealProvider


def make_signer(seal: Seal, provider: SealProvider, profile: Profile) -> SealSigner:
    """A signer for ``seal``, with the provider's trust and (above B-B) its timestamper."""
    return SealSigner(
        key=seal.key,
        certificate=seal.certificate,
        chain=seal.chain,
        trust=provider.trust(),
        timestamper=provider.timestamper() if profile != "B-B" else None,
        profile=profile,
        seal_name=seal.seal_name,
    )


class SigningMaterial:
    """Seals and signers of this process, each looked up again after ``ttl``."""

    def __init__(
        self, seals: SealProvider, *, profile: Profile, clock: Callable[[], datetime], ttl: timedelta
    ) -> None:
        self.seals = seals
        self.profile = profile
        self.clock = clock
        self.ttl = ttl
        self._signers: dict[str, tuple[datetime, SealSigner]] = {}
        self._seal_cache: dict[str, tuple[datetime, Seal]] = {}

    def seal(self, issuer_code: str) -> Seal:
        """The department's current seal; looked up again after the TTL (rotation, revocation)."""
        now = self.clock()
        cached = self._seal_cache.get(issuer_code)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        seal = self.seals.seal(issuer_code)  # raises when the seal is revoked or expired
        self._seal_cache[issuer_code] = (now, seal)
        return seal

    def signer(self, seal: Seal) -> SealSigner:
        """One reusable signer per seal certificate, rebuilt after the TTL (fresh CRLs)."""
        now = self.clock()
        key = f"{seal.issuer_code}:{seal.certificate.serial_number}"
        cached = self._signers.get(key)
        if cached is None or now - cached[0] >= self.ttl:
            signer = make_signer(seal, self.seals, self.profile)
            self._signers[key] = (now, signer)
            return signer
        return cached[1]

    def refresh(self) -> None:
        """Forget cached seals and signers (with their CRLs and timestamper)."""
        self._seal_cache.clear()
        self._signers.clear()


class SigningPool:
    """Render and sign in ``workers`` spawned processes; each builds its seal provider once from the
    picklable ``provider_factory``. The processes start on the first :meth:`submit`."""

    def __init__(
        self, provider_factory: Callable[[], SealProvider], *, profile: Profile, ttl_s: float, workers: int
    ) -> None:
        self.provider_factory = provider_factory
        self.profile = profile
        self.ttl_s = ttl_s
        self.workers = workers
        self._executor: Any = None

    def submit(self, issuer_code: str, face: Face) -> Future[tuple[bytes, int]]:
        """The signed PDF of ``face`` and its certified length, from a worker."""
        if self._executor is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(self.provider_factory, self.profile, self.ttl_s),
            )
        future: Future[tuple[bytes, int]] = self._executor.submit(_worker_sign, issuer_code, face)
        return future

    def close(self) -> None:
        """Stop the worker processes (a later submit starts new ones)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


# -- in a worker process ---------------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _worker_init(provider_factory: Callable[[], SealProvider], profile: Profile, ttl_s: float) -> None:
    """Build the seal provider once; signers are made per seal on first use."""
    _worker.clear()
    _worker.update(provider=provider_factory(), profile=profile, ttl=ttl_s, signers={})


def _worker_sign(issuer_code: str, face: Face) -> tuple[bytes, int]:
    """Render and certify one face; returns the signed PDF and its certified length."""
    provider: SealProvider = _worker["provider"]
    signers: dict[str, tuple[float, SealSigner]] = _worker["signers"]
    cached = signers.get(issuer_code)
    if cached is None or time.monotonic() - cached[0] > _worker["ttl"]:
        signer = make_signer(provider.seal(issuer_code), provider, _worker["profile"])
        cached = signers[issuer_code] = (time.monotonic(), signer)
    signed = asyncio.run(cached[1].async_sign(render(face)))
    return signed.pdf, signed.certified_length
