"""The license registry (电子证照签发与登记): :class:`LicenseRegistry`, one small facade over the
parts that do the work — what :func:`licenses.open_registry` returns.

=================================  ===================================================================
part                               job
=================================  ===================================================================
:mod:`licenses.issuance`           the issuing pipeline, a batch at a time (worker processes optional)
:mod:`licenses.allocation`         step 1: idempotency, uniqueness, identifiers, metadata and face
:mod:`licenses._signing`           step 2: seals and reusable signers, in-process or in workers
:mod:`licenses.registration`       steps 3-4: store, register and publish (failpoints)
:mod:`licenses.queries`            look-ups: one license, a holder's licenses, metadata, face, file
:mod:`licenses.lifecycle`          status transitions, new versions (change, renew), expiry sweep
:mod:`licenses.transitions`        the DOMAIN.md §3 status table
:mod:`licenses.orphans`            stored files no license owns (a crash between store and register)
:mod:`licenses.views`              what comes back: IssuedLicense, IssueOutcome, LicenseView
=================================  ===================================================================

The facade holds the shared pieces (database, object store, seal provider, clock) and keeps the
method names callers use; each method hands over to one part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.db import Database, utcnow
from core.store import ObjectStore
from licenses._context import RegistryContext
from licenses._face import IssueRequest
from licenses._pades import DEFAULT_PROFILE, PROFILES, Profile
from licenses._render import Face
from licenses._seals import SealProvider
from licenses._signing import SigningMaterial, SigningPool
from licenses.errors import LicenseError
from licenses.issuance import Issuance
from licenses.lifecycle import Lifecycle
from licenses.orphans import OrphanReport, OrphanSweep
from licenses.queries import Queries
from licenses.views import IssuedLicense, IssueOutcome, LicenseView, StatusEntry

if TYPE_CHECKING:
    from licenses._report import VerificationReport


class LicenseRegistry:
    """Issue, store, register, look up and change licenses. Build once per process and reuse."""

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        seals: SealProvider,
        *,
        profile: Profile = DEFAULT_PROFILE,
        verify_url: str = "http://127.0.0.1:8700/verify",
        batch_size: int = 32,
        clock: Callable[[], datetime] = utcnow,
        material_ttl_s: float = 300.0,
        workers: int = 1,
        worker_provider: Callable[[], SealProvider] | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise LicenseError(f"unknown PAdES profile {profile!r}: use one of {', '.join(PROFILES)}")
        self._seals = seals
        self._workers = workers  # >1: render and sign in that many worker processes
        self._worker_provider = worker_provider  # picklable factory of the SealProvider, for workers
        material = SigningMaterial(seals, profile=profile, clock=clock, ttl=timedelta(seconds=material_ttl_s))
        ctx = self._ctx = RegistryContext(db, store, material, profile, verify_url, clock)
        pool = None
        if workers > 1 and worker_provider is not None:
            pool = SigningPool(worker_provider, profile=profile, ttl_s=material_ttl_s, workers=workers)
        self._issuance = Issuance(ctx, batch_size=batch_size, pool=pool)
        self._queries = Queries(ctx)
        self._lifecycle = Lifecycle(ctx, self._queries)
        self._orphans = OrphanSweep(ctx)

    # -- what it was built over (read-only: the parts share them) ---------------------------------
    @property
    def db(self) -> Database:
        return self._ctx.db

    @property
    def store(self) -> ObjectStore:
        return self._ctx.store

    @property
    def seals(self) -> SealProvider:
        return self._seals

    @property
    def profile(self) -> Profile:
        return self._ctx.profile

    @property
    def verify_url(self) -> str:
        return self._ctx.verify_url

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._ctx.clock

    @property
    def batch_size(self) -> int:
        return self._issuance.batch_size

    @property
    def material_ttl(self) -> timedelta:
        return self._ctx.material.ttl

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def worker_provider(self) -> Callable[[], SealProvider] | None:
        return self._worker_provider

    # -- issuing (licenses.issuance) ----------------------------------------------------------------
    def issue(self, request: IssueRequest) -> IssuedLicense:
        """Issue one license (or return the one an earlier request with the same key issued)."""
        return self._issuance.issue(request)

    def issue_many(
        self, requests: Iterable[IssueRequest], *, on_progress: Callable[[IssueOutcome], None] | None = None
    ) -> list[IssueOutcome]:
        """Issue a stream of requests a batch at a time; one outcome per request, in order."""
        return self._issuance.issue_many(requests, on_progress=on_progress)

    async def async_issue_many(
        self, requests: Iterable[IssueRequest], *, on_progress: Callable[[IssueOutcome], None] | None = None
    ) -> list[IssueOutcome]:
        """:meth:`issue_many` in a running event loop."""
        return await self._issuance.async_issue_many(requests, on_progress=on_progress)

    def refresh_material(self) -> None:
        """Forget cached seals, signers, CRLs and timestamper (after a rotation or revocation)."""
        self._ctx.material.refresh()
        refresh = getattr(self._seals, "refresh", None)  # the PKI's in-process TSA re-reads its certificate
        if refresh is not None:
            refresh()

    def close(self) -> None:
        """Stop the signing worker processes and store threads (if any); the registry stays usable."""
        self._issuance.close()

    # -- look-ups (licenses.queries) ------------------------------------------------------------------
    def get(self, license_id: str, *, history: bool = True) -> LicenseView:
        return self._queries.get(license_id, history=history)

    def find(self, license_id: str) -> LicenseView | None:
        return self._queries.find(license_id)

    def find_by_holder(
        self, code: str, code_type: str, *, type_code: str | None = None, live_only: bool = False
    ) -> list[LicenseView]:
        """Every license one holder holds (any position among co-holders), newest first."""
        return self._queries.find_by_holder(code, code_type, type_code=type_code, live_only=live_only)

    def status_history(self, license_id: str) -> tuple[StatusEntry, ...]:
        """Every status change of one license, oldest first (empty for an unknown identifier)."""
        view = self._queries.find_with_history(license_id)
        return view.history if view is not None else ()

    def metadata(self, license_id: str) -> dict[str, Any]:
        """The DOMAIN.md §3 metadata as issued, with the current status (ZZZT)."""
        return self._queries.metadata(license_id)

    def face(self, license_id: str) -> Face:
        """The license face as drawn on the file (for annotated copies: draw it again with a note)."""
        return self._queries.face(license_id)

    def file(self, license_id: str) -> bytes:
        """The current stored file of a license (checked against its address by the store)."""
        return self._queries.file(license_id)

    def verify(
        self, pdf: bytes, *, now: datetime | None = None, at: datetime | None = None
    ) -> VerificationReport:
        """Verify a license file against this registry and the seal provider's trust (a report);
        ``at``: judge it at another moment ("was it valid on that day?")."""
        from licenses.verification import verify_license

        return verify_license(pdf, trust=self._seals.trust(), registry=self, now=now, at=at)

    # -- lifecycle (licenses.lifecycle) ---------------------------------------------------------------
    def transition(self, license_id: str, action: str, *, reason: str, actor: str = "system") -> LicenseView:
        """Apply one status change of DOMAIN.md §3; anything else raises TransitionRefused."""
        return self._lifecycle.transition(license_id, action, reason=reason, actor=actor)

    def change(
        self, license_id: str, fields: Mapping[str, str], *, reason: str = "变更", actor: str = "system"
    ) -> IssuedLicense:
        """变更: a new version with changed face fields; the old one becomes 04 注销 (op 09)."""
        return self._lifecycle.change(license_id, fields, reason=reason, actor=actor)

    def renew(
        self,
        license_id: str,
        fields: Mapping[str, str] | None = None,
        *,
        valid_until: date | None = None,
        reason: str = "延续",
        actor: str = "system",
    ) -> IssuedLicense:
        """延续: a new version with a new validity period; the old one becomes 04 注销 (op 02)."""
        return self._lifecycle.renew(license_id, fields, valid_until=valid_until, reason=reason, actor=actor)

    def expire_due(
        self, *, today: date | None = None, actor: str = "expiry-sweep", limit: int = 1000
    ) -> list[str]:
        """Expiry sweep: every live license whose validity ended before ``today`` becomes 05 失效."""
        return self._lifecycle.expire_due(today=today, actor=actor, limit=limit)

    # -- orphans (licenses.orphans) -------------------------------------------------------------------
    def reconcile_orphans(self, *, grace: timedelta = timedelta(minutes=10)) -> OrphanReport:
        """Record void the stored license files no registered license owns (older than ``grace``)."""
        return self._orphans.reconcile_orphans(grace=grace)


__all__ = ["LicenseRegistry"]
