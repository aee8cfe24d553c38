"""The license registry and the issuing pipeline (电子证照签发与登记).

:class:`LicenseRegistry` composes the parts: identifiers (``identifiers``), the face
(``_face``/``_render``), PAdES signing (``_pades``) with the seals of a :class:`SealProvider`,
the object store (zone ``licenses``) and the registry tables (``models``).

Issuing one license, in order — the order is what makes a crash harmless:

1. **allocate** (short transaction): idempotency check, uniqueness pre-check, a serial from the
   counter, an *intent* row (identifier ↔ idempotency key). A repeat of the key finds the
   registered license (returned as is) or the intent (its identifier is reused);
2. **render and sign** (no database, no lock held);
3. **store** the signed file — failpoint ``licenses.issue.after_store``: stored, not registered;
4. **register and publish** in one transaction: the license row, holders, file, status history,
   a ledger entry (stream ``license.lifecycle``) and the domain event ``license.issued`` —
   failpoint ``licenses.issue.after_register`` sits between registering and publishing, so a crash
   there rolls both back.

A crash between 3 and 4 leaves a stored file no registered license owns. Such a file never
verifies as valid (verification asks the registry: ``unknown_license``, or ``registry_mismatch``
when the identifier was registered later with another file); :meth:`LicenseRegistry.reconcile_orphans`
finds them and records them void (the licenses zone is write-once, so they are kept, marked).

Bulk issuance (:meth:`LicenseRegistry.issue_many`) runs the same steps a batch at a time: one
allocation transaction and one registration transaction per batch, signing in between.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.codes import CODE_LISTS
from contracts.licensetypes import LicenseType
from core import failpoints
from core.canonical import sha256_hex
from core.db import Database, utcnow
from core.errors import StoreError
from core.events import record_event
from core.ledger import append_many
from core.masking import mask_id
from core.store import ObjectStore, Zone
from licenses import _face
from licenses._face import Holder, IssueRequest
from licenses._pades import DEFAULT_PROFILE, PROFILES, Profile, SealSigner, SignedLicense
from licenses._render import Face, render
from licenses._seals import Seal, SealProvider
from licenses.errors import (
    IdempotencyConflict,
    LicenseError,
    LicenseNotFound,
    RegistryError,
    TransitionRefused,
    UniquenessConflict,
)
from licenses.identifiers import allocate_serials, license_identifier, new_verify_code
from licenses.models import (
    LIVE_STATUSES,
    LicenseFile,
    LicenseHolderRow,
    LicenseIntent,
    LicenseOrphan,
    LicenseRecord,
    LicenseStatusChange,
)

log = logging.getLogger("tongban.licenses")
CN_TZ = ZoneInfo("Asia/Shanghai")
LEDGER_STREAM = "license.lifecycle"
AFTER_STORE = failpoints.declare("licenses.issue.after_store", "license file stored, not yet registered")
AFTER_REGISTER = failpoints.declare(
    "licenses.issue.after_register", "license registered in the open transaction, event not yet recorded"
)
BEFORE_COMMIT = failpoints.declare("licenses.issue.before_commit", "registered and published, not committed")
STATUS_NAMES = CODE_LISTS["license_status"].codes
OPERATION_NAMES = CODE_LISTS["license_operation"].codes


# -- the transition table (DOMAIN.md §3) ---------------------------------------------------------
@dataclass(frozen=True)
class Transition:
    action: str
    from_statuses: frozenset[str]
    to_status: str
    operation: str
    label: str


TRANSITIONS: Mapping[str, Transition] = {
    t.action: t
    for t in (
        Transition("suspend", frozenset({"01"}), "02", "03", "暂扣"),
        Transition("reinstate", frozenset({"02"}), "01", "06", "暂扣发还"),
        Transition("withdraw", frozenset({"01", "02"}), "03", "07", "撤销"),
        Transition("cancel", frozenset({"01", "02"}), "04", "05", "注销"),
        Transition("revoke", frozenset({"01", "02"}), "07", "07", "吊销"),
        Transition("expire", frozenset({"01", "02"}), "05", "04", "过期失效"),
        Transition("transfer-out", frozenset({"01"}), "06", "07", "办理转出"),
        Transition("cancel-transfer", frozenset({"06"}), "01", "10", "取消转出"),
    )
}
NEW_VERSION_ACTIONS = {"change": ("09", "变更"), "renew": ("02", "延续")}
FINAL_STATUSES = frozenset({"03", "04", "05", "07"})


def refuse(license_id: str, status: str, action: str) -> TransitionRefused:
    name = STATUS_NAMES.get(status, status)
    if status in FINAL_STATUSES:
        why = f"status {status} {name} is final"
    else:
        allowed = [a for a, t in TRANSITIONS.items() if status in t.from_statuses and a != "expire"]
        if status == "01":
            allowed += list(NEW_VERSION_ACTIONS)
        why = f"from {status} {name} the allowed actions are: {', '.join(allowed) or 'none'}"
    return TransitionRefused(
        f"license {license_id}: cannot {action} — {why} (DOMAIN.md §3)",
        license_id=license_id,
        status=status,
        action=action,
    )


# -- results and views -----------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedLicense:
    license_id: str
    object_key: str
    sha256: str  # SHA-256 of the certified revision
    status: str
    verify_code: str
    version: int
    existed: bool = False  # True: an earlier request with the same idempotency key issued it

    def as_dict(self) -> dict[str, Any]:
        return {
            "license_id": self.license_id,
            "object_key": self.object_key,
            "sha256": self.sha256,
            "status": self.status,
            "verify_code": self.verify_code,
            "version": self.version,
            "existed": self.existed,
        }


@dataclass(frozen=True)
class IssueOutcome:
    """One request of a batch: the license, or the error that refused it."""

    request: IssueRequest
    license: IssuedLicense | None = None
    error: LicenseError | None = None

    @property
    def ok(self) -> bool:
        return self.license is not None


@dataclass(frozen=True)
class StatusEntry:
    operation: str
    operation_name: str
    from_status: str | None
    to_status: str
    reason: str
    actor: str
    at: str


@dataclass(frozen=True)
class LicenseView:
    """What the registry holds about one license instance."""

    license_id: str
    type_code: str
    type_name: str
    version: int
    status: str
    status_name: str
    license_no: str
    issuer_code: str
    issuer_name: str
    holders: tuple[Holder, ...]
    issue_date: str
    valid_from: str
    valid_until: str | None
    verify_code: str
    certified_sha256: str
    object_key: str
    profile: str
    previous_license_id: str | None
    lineage: str | None
    metadata: dict[str, Any]
    history: tuple[StatusEntry, ...] = ()

    @property
    def valid(self) -> bool:
        return self.status == "01"

    def as_dict(self, *, mask: bool = False) -> dict[str, Any]:
        def code(c: str) -> str:
            return mask_id(c) if mask else c

        return {
            "license_id": self.license_id,
            "type_code": self.type_code,
            "type_name": self.type_name,
            "version": self.version,
            "status": self.status,
            "status_name": self.status_name,
            "license_no": self.license_no,
            "issuer": {"code": self.issuer_code, "name": self.issuer_name},
            "holders": [
                {"name": h.name, "code": code(h.code), "code_type": h.code_type} for h in self.holders
            ],
            "issue_date": self.issue_date,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "verify_code": self.verify_code,
            "certified_sha256": self.certified_sha256,
            "object_key": self.object_key,
            "profile": self.profile,
            "previous_license_id": self.previous_license_id,
            "lineage": self.lineage,
            "history": [e.__dict__ for e in self.history],
        }


@dataclass
class _Prepared:
    """A request between allocation and registration."""

    request: IssueRequest
    ltype: LicenseType
    license_id: str
    serial: str
    version: int
    verify_code: str
    seal: Seal
    metadata: dict[str, Any]
    face: Face
    uniqueness: str
    fingerprint: str
    previous: str | None = None
    lineage: str | None = None
    signed: SignedLicense | None = None
    object_key: str | None = None


@dataclass
class OrphanReport:
    scanned: int = 0
    orphans: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "orphans": self.orphans}


def _today(now: datetime) -> date:
    return now.astimezone(CN_TZ).date()


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
        self.db = db
        self.store = store
        self.seals = seals
        self.profile = profile
        self.verify_url = verify_url
        self.batch_size = max(1, batch_size)
        self.clock = clock
        self.material_ttl = timedelta(seconds=material_ttl_s)
        self.workers = workers  # >1: render and sign in that many worker processes
        self.worker_provider = worker_provider  # picklable factory of the SealProvider, for workers
        self._executor: Any = None
        self._io_pool: Any = None  # threads for durable store puts, made on first bulk use
        self._signers: dict[str, tuple[datetime, SealSigner]] = {}
        self._seal_cache: dict[str, tuple[datetime, Seal]] = {}

    # -- signing material -------------------------------------------------------------------------
    def _seal(self, issuer_code: str) -> Seal:
        """The department's current seal; looked up again after ``material_ttl_s`` (rotation, revocation)."""
        now = self.clock()
        cached = self._seal_cache.get(issuer_code)
        if cached is not None and now - cached[0] < self.material_ttl:
            return cached[1]
        seal = self.seals.seal(issuer_code)  # raises when the seal is revoked or expired
        self._seal_cache[issuer_code] = (now, seal)
        return seal

    def refresh_material(self) -> None:
        """Forget cached seals, signers, CRLs and timestamper (after a rotation or revocation)."""
        self._seal_cache.clear()
        self._signers.clear()

    def _signer(self, seal: Seal) -> SealSigner:
        """One reusable signer per seal certificate, rebuilt after ``material_ttl_s`` (fresh CRLs)."""
        now = self.clock()
        key = f"{seal.issuer_code}:{seal.certificate.serial_number}"
        cached = self._signers.get(key)
        if cached is None or now - cached[0] >= self.material_ttl:
            signer = SealSigner(
                key=seal.key,
                certificate=seal.certificate,
                chain=seal.chain,
                trust=self.seals.trust(),
                timestamper=self.seals.timestamper() if self.profile != "B-B" else None,
                profile=self.profile,
                seal_name=seal.seal_name,
            )
            self._signers[key] = (now, signer)
            return signer
        return cached[1]

    # -- issuing ----------------------------------------------------------------------------------
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
        ``workers`` > 1), the previous batch is stored and registered here."""
        results: list[IssueOutcome] = []
        pool = self._pool()
        pending: _Batch | None = None
        try:
            for batch in _chunks(requests, self.batch_size):
                started = self._start_batch(batch, pool)
                if pending is not None:
                    results += await self._finish_batch(pending, on_progress)
                pending = started
            if pending is not None:
                results += await self._finish_batch(pending, on_progress)
        finally:
            if pool is not None and pending is not None:
                for fut in pending.futures.values():
                    fut.cancel()
        return results

    def _pool(self) -> Any:
        if self.workers <= 1 or self.worker_provider is None:
            return None
        if self._executor is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(self.worker_provider, self.profile, self.material_ttl.total_seconds()),
            )
        return self._executor

    def _io(self) -> Any:
        if self._io_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._io_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="license-store")
        return self._io_pool

    def close(self) -> None:
        """Stop the signing worker processes and store threads (if any); the registry stays usable."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._io_pool is not None:
            self._io_pool.shutdown(wait=True)
            self._io_pool = None

    def _start_batch(self, batch: Sequence[IssueRequest], pool: Any) -> _Batch:
        now = self.clock()
        for attempt in range(3):
            try:
                outcomes, prepared = self._allocate(batch, now)
                break
            except IntegrityError:  # a concurrent issuer took the same idempotency key: look again
                if attempt == 2:
                    raise
        futures: dict[int, Any] = {}
        if pool is not None:
            for i, p in prepared.items():
                futures[i] = pool.submit(_worker_sign, p.request.issuer_code, p.face)
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
                    p.signed = await self._signer(p.seal).async_sign(render(p.face))
            except LicenseError as exc:
                outcomes[i] = IssueOutcome(p.request, error=exc)
        signed = [(i, p) for i, p in b.prepared.items() if i not in outcomes]

        def put(item: tuple[int, _Prepared]) -> str:
            assert item[1].signed is not None
            return self.store.put(
                Zone.LICENSES,
                item[1].signed.pdf,
                content_type="application/pdf",
                source="licenses",
                schema_version=f"license-{self.profile}",
            ).key

        # durable puts (fsync) overlap in threads; each file is stored before anything registers it
        keys = map(put, signed) if len(signed) < 2 else self._io().map(put, signed)
        for (_i, p), key in zip(signed, keys, strict=True):
            p.object_key = key
            failpoints.hit(AFTER_STORE)
        ready = {i: p for i, p in b.prepared.items() if i not in outcomes}
        outcomes.update(self._register(ready, b.now))
        out = [outcomes[i] for i in range(len(b.requests))]
        if on_progress is not None:
            for o in out:
                on_progress(o)
        return out

    def _allocate(
        self, batch: Sequence[IssueRequest], now: datetime
    ) -> tuple[dict[int, IssueOutcome], dict[int, _Prepared]]:
        outcomes: dict[int, IssueOutcome] = {}
        todo: dict[int, tuple[IssueRequest, LicenseType, str, str, Seal]] = {}
        with self.db.session() as s:
            keys = [r.idempotency_key for r in batch if r.idempotency_key]
            registered = (
                {
                    r.idempotency_key: r
                    for r in s.scalars(select(LicenseRecord).where(LicenseRecord.idempotency_key.in_(keys)))
                }
                if keys
                else {}
            )
            intents = (
                {
                    i.idempotency_key: i
                    for i in s.scalars(select(LicenseIntent).where(LicenseIntent.idempotency_key.in_(keys)))
                }
                if keys
                else {}
            )
            seen: dict[str, int] = {}
            for i, given in enumerate(batch):
                req = given
                try:
                    t = _face.resolve_type(req.type_code)
                    req = replace(req, type_code=t.type_code)
                    _face.check_request(t, req)
                    fp = req.fingerprint()
                    key = req.idempotency_key
                    if key and key in seen:
                        raise IdempotencyConflict(f"idempotency key {key!r} appears twice in one batch")
                    if key:
                        seen[key] = i
                    rec = registered.get(key) if key else None
                    if rec is not None:
                        intent = intents.get(key)
                        if intent is not None and intent.request_hash != fp:
                            raise IdempotencyConflict(
                                f"idempotency key {key!r} was used for a different request "
                                f"(it issued {rec.license_id})"
                            )
                        outcomes[i] = IssueOutcome(req, license=_issued(rec, existed=True))
                        continue
                    fields = {**_face.derived_fields(t, req), **req.fields}
                    uniq = _face.uniqueness_hash(t, req.holders, fields)
                    seal = self._seal(req.issuer_code)
                    todo[i] = (req, t, fp, uniq, seal)
                except LicenseError as exc:
                    outcomes[i] = IssueOutcome(req, error=exc)
            # uniqueness pre-check for the whole batch in one query (the partial index is the guard)
            hashes = {u for (_r, _t, _f, u, _s) in todo.values()}
            live: dict[tuple[str, str], str] = {}
            if hashes:
                for type_code, uniq_hash, lid in s.execute(
                    select(
                        LicenseRecord.type_code, LicenseRecord.uniqueness_hash, LicenseRecord.license_id
                    ).where(
                        LicenseRecord.uniqueness_hash.in_(hashes), LicenseRecord.status.in_(LIVE_STATUSES)
                    )
                ):
                    live[(type_code, uniq_hash)] = lid
            taken: set[tuple[str, str]] = set()
            for i, (req, t, _fp, uniq, _seal) in list(todo.items()):
                existing = live.get((t.type_code, uniq))
                if existing is None and (t.type_code, uniq) in taken:
                    existing = "an earlier request of this batch"
                if existing is not None:
                    del todo[i]
                    outcomes[i] = IssueOutcome(
                        req,
                        error=UniquenessConflict(
                            f"a live {t.name} already exists for this uniqueness key "
                            f"({'+'.join(t.uniqueness_key)}): {existing}",
                            existing_id=existing if existing.startswith("1.2.156") else None,
                        ),
                    )
                taken.add((t.type_code, uniq))
            # serials for the requests without an earlier intent, grouped by (type, issuer)
            year = _today(now).year
            groups: dict[tuple[str, str], list[int]] = {}
            ids: dict[int, tuple[str, str]] = {}
            for i, (req, _t, fp, _u, _seal) in todo.items():
                intent = intents.get(req.idempotency_key) if req.idempotency_key else None
                if intent is not None:
                    if intent.request_hash != fp:
                        outcomes[i] = IssueOutcome(
                            req,
                            error=IdempotencyConflict(
                                f"idempotency key {req.idempotency_key!r} was used for a different request"
                            ),
                        )
                    else:
                        lid = intent.license_id
                        ids[i] = (lid, lid.split(".")[-3])
                    continue
                groups.setdefault((req.type_code, req.issuer_code), []).append(i)
            for (type_code, issuer), members in groups.items():
                serials = allocate_serials(s, type_code, issuer, year, len(members))
                for i, serial in zip(members, serials, strict=True):
                    lid = license_identifier(type_code, issuer, serial, 1)
                    ids[i] = (lid, serial)
                    req = todo[i][0]
                    s.add(
                        LicenseIntent(
                            license_id=lid,
                            idempotency_key=req.idempotency_key,
                            request_hash=todo[i][2],
                            type_code=type_code,
                            issuer_code=issuer,
                            state="allocated",
                            created_at=now.isoformat(),
                        )
                    )
            s.flush()
        prepared: dict[int, _Prepared] = {}
        for i, (lid, serial) in ids.items():
            if i in outcomes:
                continue
            req, t, fp, uniq, seal = todo[i]
            try:
                prepared[i] = self._prepare(req, t, lid, serial, 1, fp, uniq, seal, now)
            except LicenseError as exc:
                outcomes[i] = IssueOutcome(req, error=exc)
        return outcomes, prepared

    def _prepare(
        self,
        req: IssueRequest,
        t: LicenseType,
        license_id: str,
        serial: str,
        version: int,
        fingerprint: str,
        uniqueness: str,
        seal: Seal,
        now: datetime,
    ) -> _Prepared:
        issue_date = req.issue_date or _today(now)
        valid_from = req.valid_from or issue_date
        valid_until = req.valid_until if req.valid_until is not None else t.validity_end(valid_from)
        fields = {**_face.derived_fields(t, req), **req.fields}
        fields.update(_face.date_fields(t, fields, issue_date, valid_until))
        license_no = req.license_no or _default_license_no(t, req, serial)
        verify_code = new_verify_code()
        meta = _face.build_metadata(
            t,
            req,
            license_id=license_id,
            license_no=license_no,
            issuer_name=seal.department_name,
            seal_name=seal.seal_name,
            issue_date=issue_date,
            valid_from=valid_from,
            valid_until=valid_until,
            fields=fields,
            signed_at=now.astimezone(CN_TZ),
        )
        face = _face.build_face(
            t,
            meta,
            verify_code=verify_code,
            qr_payload=f"{self.verify_url}?id={license_id}&code={verify_code.replace('-', '')}",
            seal_text=seal.department_name,
            sample=seal.sample,
        )
        from licenses._render import check_glyphs

        check_glyphs(face)
        return _Prepared(
            req, t, license_id, serial, version, verify_code, seal, meta, face, uniqueness, fingerprint
        )

    def _register(self, ready: Mapping[int, _Prepared], now: datetime) -> dict[int, IssueOutcome]:
        outcomes: dict[int, IssueOutcome] = {}
        if not ready:
            return outcomes
        stamp = now.isoformat()
        with self.db.session() as s:
            ledger_items: list[tuple[str, Mapping[str, Any]]] = []
            registered: list[tuple[_Prepared, LicenseRecord]] = []
            try:  # the common case: the whole batch in a few multi-row statements
                with s.begin_nested():
                    recs = self._insert_many(s, list(ready.values()), stamp)
                for (i, p), rec in zip(ready.items(), recs, strict=True):
                    registered.append((p, rec))
                    outcomes[i] = IssueOutcome(p.request, license=_issued(rec))
            except IntegrityError:  # a conflict somewhere: one savepoint per license to find it
                for i, p in ready.items():
                    assert p.signed is not None and p.object_key is not None
                    try:
                        with s.begin_nested():
                            rec = self._insert(s, p, stamp)
                        registered.append((p, rec))
                        outcomes[i] = IssueOutcome(p.request, license=_issued(rec))
                    except IntegrityError:
                        outcomes[i] = IssueOutcome(p.request, **self._explain_conflict(s, p))
            failpoints.hit(AFTER_REGISTER)
            for p, rec in registered:
                op = "renew" if p.lineage == "renew" else "change" if p.lineage == "change" else "issue"
                ledger_items.append(
                    (
                        f"license.{op}",
                        {
                            "license_id": rec.license_id,
                            "operation": p.request.operation
                            if p.lineage is None
                            else NEW_VERSION_ACTIONS[p.lineage][0],
                            "to_status": "01",
                            "certified_sha256": rec.certified_sha256,
                            "object_key": rec.object_key,
                            "holder": mask_id(rec.holder_code),
                            "previous": p.previous,
                            "actor": p.request.actor,
                        },
                    )
                )
                record_event(s, "license.issued", "license", rec.license_id, _event_payload(rec, p))
            append_many(s, LEDGER_STREAM, ledger_items, now=now)
            failpoints.hit(BEFORE_COMMIT)
        return outcomes

    def _row(self, p: _Prepared, stamp: str) -> dict[str, Any]:
        assert p.signed is not None and p.object_key is not None
        meta = p.metadata
        first = p.request.holders[0]
        return {
            "license_id": p.license_id,
            "type_code": p.ltype.type_code,
            "type_name": p.ltype.name,
            "issuer_code": p.request.issuer_code,
            "issuer_name": meta["ZZBFJG"],
            "serial": p.serial,
            "version": p.version,
            "license_no": meta["ZZBH"],
            "holder_name": first.name,
            "holder_code": first.code,
            "holder_code_type": first.code_type,
            "issue_date": meta["ZZBFRQ"],
            "valid_from": meta["ZZYXQQSRQ"],
            "valid_until": meta["ZZYXQJZRQ"],
            "status": "01",
            "status_changed_at": stamp,
            "verify_code": p.verify_code,
            "certified_sha256": p.signed.certified_sha256,
            "object_key": p.object_key,
            "profile": self.profile,
            "metadata_json": json.dumps(meta, ensure_ascii=False, sort_keys=True),
            "uniqueness_hash": p.uniqueness,
            "idempotency_key": p.request.idempotency_key,
            "previous_license_id": p.previous,
            "lineage": p.lineage,
            "row_version": 1,
            "created_at": stamp,
        }

    def _children(
        self, p: _Prepared, pk: int, stamp: str
    ) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        assert p.signed is not None and p.object_key is not None
        holders = [
            {"license_pk": pk, "position": pos, "name": h.name, "code": h.code, "code_type": h.code_type}
            for pos, h in enumerate(p.request.holders)
        ]
        file = {
            "license_pk": pk,
            "object_key": p.object_key,
            "kind": "issued",
            "size": len(p.signed.pdf),
            "profile": self.profile,
            "created_at": stamp,
        }
        op = p.request.operation if p.lineage is None else NEW_VERSION_ACTIONS[p.lineage][0]
        history = {
            "license_pk": pk,
            "operation": op,
            "from_status": None,
            "to_status": "01",
            "reason": OPERATION_NAMES[op],
            "actor": p.request.actor,
            "at": stamp,
        }
        return holders, file, history

    def _insert_many(self, s: Session, items: list[_Prepared], stamp: str) -> list[LicenseRecord]:
        """Register a batch with multi-row INSERTs (RETURNING the ids in parameter order)."""
        from sqlalchemy import insert, update

        rows = [self._row(p, stamp) for p in items]
        ids = list(
            s.scalars(insert(LicenseRecord).returning(LicenseRecord.id, sort_by_parameter_order=True), rows)
        )
        holders: list[dict[str, Any]] = []
        files, history = [], []
        for p, pk in zip(items, ids, strict=True):
            h, f, e = self._children(p, pk, stamp)
            holders += h
            files.append(f)
            history.append(e)
        s.execute(insert(LicenseHolderRow), holders)
        s.execute(insert(LicenseFile), files)
        s.execute(insert(LicenseStatusChange), history)
        s.execute(
            update(LicenseIntent)
            .where(LicenseIntent.license_id.in_([p.license_id for p in items]))
            .values(state="registered")
        )
        return [LicenseRecord(id=pk, **row) for pk, row in zip(ids, rows, strict=True)]

    def _insert(self, s: Session, p: _Prepared, stamp: str) -> LicenseRecord:
        from sqlalchemy import insert

        rec = LicenseRecord(**self._row(p, stamp))
        s.add(rec)
        s.flush()
        holders, file, history = self._children(p, rec.id, stamp)
        s.execute(insert(LicenseHolderRow), holders)
        s.execute(insert(LicenseFile), [file])
        s.execute(insert(LicenseStatusChange), [history])
        intent = s.get(LicenseIntent, p.license_id)
        if intent is not None:
            intent.state = "registered"
        s.flush()
        return rec

    def _explain_conflict(self, s: Session, p: _Prepared) -> dict[str, Any]:
        existing = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == p.license_id))
        if existing is not None:  # a concurrent run of the same request registered it first
            return {"license": _issued(existing, existed=True)}
        live = s.scalar(
            select(LicenseRecord.license_id).where(
                LicenseRecord.type_code == p.ltype.type_code,
                LicenseRecord.uniqueness_hash == p.uniqueness,
                LicenseRecord.status.in_(LIVE_STATUSES),
            )
        )
        return {
            "error": UniquenessConflict(
                f"a live {p.ltype.name} already exists for this uniqueness key: {live}", existing_id=live
            )
        }

    # -- lookups ----------------------------------------------------------------------------------
    def get(self, license_id: str, *, history: bool = True) -> LicenseView:
        with self.db.session() as s:
            rec = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == license_id))
            if rec is None:
                raise LicenseNotFound(f"no license {license_id} in the registry")
            return _view(s, rec, history=history)

    def find(self, license_id: str) -> LicenseView | None:
        try:
            return self.get(license_id, history=False)
        except LicenseNotFound:
            return None

    def find_by_holder(
        self, code: str, code_type: str, *, type_code: str | None = None, live_only: bool = False
    ) -> list[LicenseView]:
        """Every license one holder holds (any position among co-holders), newest first."""
        with self.db.session() as s:
            q = (
                select(LicenseRecord)
                .join(LicenseHolderRow, LicenseHolderRow.license_pk == LicenseRecord.id)
                .where(LicenseHolderRow.code == code, LicenseHolderRow.code_type == code_type)
            )
            if type_code:
                q = q.where(LicenseRecord.type_code == _face.resolve_type(type_code).type_code)
            if live_only:
                q = q.where(LicenseRecord.status.in_(LIVE_STATUSES))
            recs = list(s.scalars(q.order_by(LicenseRecord.id.desc())).unique())
            return [_view(s, r, history=False) for r in recs]

    def metadata(self, license_id: str) -> dict[str, Any]:
        """The DOMAIN.md §3 metadata as issued, with the current status (ZZZT)."""
        view = self.get(license_id, history=False)
        meta = dict(view.metadata)
        meta["ZZZT"] = view.status
        return meta

    def face(self, license_id: str) -> Face:
        """The license face as drawn on the file (for annotated copies: draw it again with a note)."""
        view = self.get(license_id, history=False)
        t = _face.resolve_type(view.type_code)
        seal = self._seal(view.issuer_code)
        return _face.build_face(
            t,
            view.metadata,
            verify_code=view.verify_code,
            qr_payload=f"{self.verify_url}?id={view.license_id}&code={view.verify_code.replace('-', '')}",
            seal_text=seal.department_name,
            sample=seal.sample,
        )

    def file(self, license_id: str) -> bytes:
        """The current stored file of a license (checked against its address by the store)."""
        view = self.get(license_id, history=False)
        return self.store.get_bytes(Zone.LICENSES, view.object_key)

    def verify(self, pdf: bytes, *, now: datetime | None = None) -> Any:
        """Verify a license file against this registry and the seal provider's trust (a report)."""
        from licenses.verification import verify_license

        return verify_license(pdf, trust=self.seals.trust(), registry=self, now=now)

    # -- lifecycle --------------------------------------------------------------------------------
    def transition(self, license_id: str, action: str, *, reason: str, actor: str = "system") -> LicenseView:
        """Apply one status change of DOMAIN.md §3; anything else raises TransitionRefused."""
        t = TRANSITIONS.get(action)
        if t is None:
            raise TransitionRefused(
                f"unknown action {action!r}: use one of {', '.join([*TRANSITIONS, *NEW_VERSION_ACTIONS])}",
                license_id=license_id,
                status="",
                action=action,
            )
        if not reason.strip():
            raise LicenseError("a status change needs a reason", code="LICENSE_REASON")
        now = self.clock()
        with self.db.session() as s:
            rec = _lock(s, license_id)
            self._apply(s, rec, t.to_status, t.operation, f"{t.label}：{reason}", actor, now, action)
            return _view(s, rec, history=True)

    def _apply(
        self,
        s: Session,
        rec: LicenseRecord,
        to_status: str,
        operation: str,
        reason: str,
        actor: str,
        now: datetime,
        action: str,
    ) -> None:
        t = TRANSITIONS.get(action)
        allowed = t.from_statuses if t is not None else frozenset({"01"})
        if rec.status not in allowed:
            raise refuse(rec.license_id, rec.status, action)
        before = rec.status
        stamp = now.isoformat()
        rec.status = to_status
        rec.status_changed_at = stamp
        rec.row_version += 1
        s.add(
            LicenseStatusChange(
                license_pk=rec.id,
                operation=operation,
                from_status=before,
                to_status=to_status,
                reason=reason[:500],
                actor=actor,
                at=stamp,
            )
        )
        payload = {
            "license_id": rec.license_id,
            "type_code": rec.type_code,
            "operation": operation,
            "from_status": before,
            "to_status": to_status,
            "reason": reason[:500],
            "actor": actor,
            "at": stamp,
        }
        append_many(s, LEDGER_STREAM, [(f"license.{action}", payload)], now=now)
        record_event(s, "license.status_changed", "license", rec.license_id, payload)
        s.flush()

    def change(
        self, license_id: str, fields: Mapping[str, str], *, reason: str = "变更", actor: str = "system"
    ) -> IssuedLicense:
        """变更: a new version with changed face fields; the old one becomes 04 注销 (op 09)."""
        return self._new_version(license_id, "change", fields, reason=reason, actor=actor)

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
        return self._new_version(
            license_id, "renew", fields or {}, reason=reason, actor=actor, valid_until=valid_until
        )

    def _new_version(
        self,
        license_id: str,
        action: str,
        fields: Mapping[str, str],
        *,
        reason: str,
        actor: str,
        valid_until: date | None = None,
    ) -> IssuedLicense:
        old = self.get(license_id, history=False)
        if old.status != "01":
            with self.db.session() as s:  # a repeated request: the new version already exists
                done = s.scalar(
                    select(LicenseRecord).where(
                        LicenseRecord.previous_license_id == license_id, LicenseRecord.lineage == action
                    )
                )
                if done is not None:
                    return _issued(done, existed=True)
            raise refuse(license_id, old.status, action)
        if old.version >= 999:
            raise RegistryError(f"license {license_id} has reached version 999", code="LICENSE_VERSION")
        t = _face.resolve_type(old.type_code)
        now = self.clock()
        today = _today(now)
        kz = {**old.metadata.get("KZ", {}), **dict(fields)}
        renew = action == "renew"
        for k in _face.DATE_FIELDS:  # recomputed for the new dates
            if renew and k not in fields:
                kz.pop(k, None)
        req = IssueRequest(
            type_code=t.type_code,
            issuer_code=old.issuer_code,
            holders=old.holders,
            fields=kz,
            license_no=old.license_no,
            issue_date=today,
            valid_from=today if renew else date.fromisoformat(old.valid_from),
            valid_until=valid_until
            if valid_until is not None
            else (None if renew else (date.fromisoformat(old.valid_until) if old.valid_until else None)),
            idempotency_key=f"{license_id}:{action}",
            operation="01",
            actor=actor,
        )
        if renew and valid_until is None:
            req = replace(req, valid_until=t.validity_end(today))
        _face.check_request(t, req)
        serial = license_id.split(".")[-3]
        version = old.version + 1
        new_id = license_identifier(t.type_code, old.issuer_code, serial, version)
        uniq = _face.uniqueness_hash(t, req.holders, {**_face.derived_fields(t, req), **req.fields})
        seal = self._seal(old.issuer_code)
        p = self._prepare(req, t, new_id, serial, version, req.fingerprint(), uniq, seal, now)
        p.previous, p.lineage = license_id, action
        p.signed = self._signer(seal).sign(render(p.face))
        p.object_key = self.store.put(
            Zone.LICENSES, p.signed.pdf, content_type="application/pdf", source="licenses"
        ).key
        failpoints.hit(AFTER_STORE)
        op, label = NEW_VERSION_ACTIONS[action]
        with self.db.session() as s:
            existing = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == new_id))
            if existing is not None:
                return _issued(existing, existed=True)
            rec_old = _lock(s, license_id)
            self._apply(s, rec_old, "04", op, f"{label}：{reason}（新版本 {new_id}）", actor, now, action)
            try:
                with s.begin_nested():
                    rec = self._insert(s, p, now.isoformat())
            except IntegrityError as exc:
                raise UniquenessConflict(f"cannot register the new version {new_id}: {exc.orig}") from exc
            failpoints.hit(AFTER_REGISTER)
            append_many(
                s,
                LEDGER_STREAM,
                [
                    (
                        f"license.{action}",
                        {
                            "license_id": new_id,
                            "operation": op,
                            "to_status": "01",
                            "previous": license_id,
                            "certified_sha256": rec.certified_sha256,
                            "actor": actor,
                        },
                    )
                ],
                now=now,
            )
            record_event(s, "license.issued", "license", new_id, _event_payload(rec, p))
            return _issued(rec)

    def expire_due(
        self, *, today: date | None = None, actor: str = "expiry-sweep", limit: int = 1000
    ) -> list[str]:
        """Expiry sweep: every live license whose validity ended before ``today`` becomes 05 失效."""
        now = self.clock()
        day = (today or _today(now)).isoformat()
        expired: list[str] = []
        with self.db.session() as s:
            recs = list(
                s.scalars(
                    select(LicenseRecord)
                    .where(
                        LicenseRecord.status.in_(("01", "02")),
                        LicenseRecord.valid_until.is_not(None),
                        LicenseRecord.valid_until < day,
                    )
                    .order_by(LicenseRecord.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            for rec in recs:
                self._apply(s, rec, "05", "04", f"过期失效：有效期至 {rec.valid_until}", actor, now, "expire")
                expired.append(rec.license_id)
        return expired

    # -- orphans ----------------------------------------------------------------------------------
    def reconcile_orphans(self, *, grace: timedelta = timedelta(minutes=10)) -> OrphanReport:
        """Find stored license files no registered license owns and record them void.

        Files younger than ``grace`` are left alone (an issuer may be between store and register).
        Deletion is attempted; the licenses zone is write-once, so orphans there are kept and
        marked ``void-kept`` (``void-deleted`` where a store allows it)."""
        report = OrphanReport()
        cutoff = self.clock() - grace
        with self.db.session() as s:
            known = set(s.scalars(select(LicenseFile.object_key)))
            known |= set(s.scalars(select(LicenseOrphan.object_key)))
        for summary in self.store.ls(Zone.LICENSES):
            report.scanned += 1
            if summary.key in known or summary.modified > cutoff:
                continue
            lid = _license_id_in(self.store, summary.key)
            why = "stored but never registered (crash between store and register)"
            try:
                self.store.delete(Zone.LICENSES, summary.key)
                disposition, note = "void-deleted", f"{why}; deleted"
            except StoreError:  # the licenses zone is write-once (object lock): keep it, marked void
                disposition, note = "void-kept", f"{why}; kept: the zone is write-once"
            with self.db.session() as s:
                s.add(
                    LicenseOrphan(
                        object_key=summary.key,
                        license_id=lid,
                        found_at=self.clock().isoformat(),
                        disposition=disposition,
                        note=note,
                    )
                )
                # an intent stays "allocated": a resumed request reuses its identifier
                append_many(
                    s,
                    LEDGER_STREAM,
                    [
                        (
                            "license.orphan_void",
                            {"object_key": summary.key, "license_id": lid, "disposition": disposition},
                        )
                    ],
                )
            report.orphans.append({"object_key": summary.key, "license_id": lid, "disposition": disposition})
        return report


# -- helpers -----------------------------------------------------------------------------------------
def _license_id_in(store: ObjectStore, key: str) -> str | None:
    from licenses._verify import _read_attachment

    try:
        data = store.get_bytes(Zone.LICENSES, key)
        from licenses._pades import certified_revision_length

        meta = _read_attachment(data[: certified_revision_length(data)])
    except Exception:  # an unreadable orphan is still recorded, without an identifier
        return None
    lid = meta.get("ZZBS") if meta else None
    return str(lid) if lid else None


def _lock(s: Session, license_id: str) -> LicenseRecord:
    rec = s.scalar(
        select(LicenseRecord)
        .where(LicenseRecord.license_id == license_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if rec is None:
        raise LicenseNotFound(f"no license {license_id} in the registry")
    return rec


def _issued(rec: LicenseRecord, *, existed: bool = False) -> IssuedLicense:
    return IssuedLicense(
        license_id=rec.license_id,
        object_key=rec.object_key,
        sha256=rec.certified_sha256,
        status=rec.status,
        verify_code=rec.verify_code,
        version=rec.version,
        existed=existed,
    )


def _event_payload(rec: LicenseRecord, p: _Prepared) -> dict[str, Any]:
    return {
        "license_id": rec.license_id,
        "type_code": rec.type_code,
        "version": rec.version,
        "status": rec.status,
        "operation": p.request.operation if p.lineage is None else NEW_VERSION_ACTIONS[p.lineage][0],
        "previous_license_id": p.previous,
        "object_key": rec.object_key,
        "certified_sha256": rec.certified_sha256,
        "metadata": p.metadata,
    }


def _view(s: Session, rec: LicenseRecord, *, history: bool) -> LicenseView:
    holders = tuple(
        Holder(h.name, h.code, h.code_type)
        for h in s.scalars(
            select(LicenseHolderRow)
            .where(LicenseHolderRow.license_pk == rec.id)
            .order_by(LicenseHolderRow.position)
        )
    )
    entries: tuple[StatusEntry, ...] = ()
    if history:
        entries = tuple(
            StatusEntry(
                h.operation,
                OPERATION_NAMES.get(h.operation, h.operation),
                h.from_status,
                h.to_status,
                h.reason,
                h.actor,
                h.at,
            )
            for h in s.scalars(
                select(LicenseStatusChange)
                .where(LicenseStatusChange.license_pk == rec.id)
                .order_by(LicenseStatusChange.id)
            )
        )
    return LicenseView(
        license_id=rec.license_id,
        type_code=rec.type_code,
        type_name=rec.type_name,
        version=rec.version,
        status=rec.status,
        status_name=STATUS_NAMES.get(rec.status, rec.status),
        license_no=rec.license_no,
        issuer_code=rec.issuer_code,
        issuer_name=rec.issuer_name,
        holders=holders,
        issue_date=rec.issue_date,
        valid_from=rec.valid_from,
        valid_until=rec.valid_until,
        verify_code=rec.verify_code,
        certified_sha256=rec.certified_sha256,
        object_key=rec.object_key,
        profile=rec.profile,
        previous_license_id=rec.previous_license_id,
        lineage=rec.lineage,
        metadata=json.loads(rec.metadata_json),
        history=entries,
    )


def _default_license_no(t: LicenseType, req: IssueRequest, serial: str) -> str:
    first = req.holders[0]
    if t.key == "business_license" and first.code_type == "001":
        return first.code
    return f"{req.issuer_code[2:8]}{t.type_code[-3:]}{serial}"


def request_hash(req: IssueRequest) -> str:
    return sha256_hex(req.fingerprint())


@dataclass
class _Batch:
    requests: Sequence[IssueRequest]
    now: datetime
    outcomes: dict[int, IssueOutcome]
    prepared: dict[int, _Prepared]
    futures: dict[int, Any]


def _chunks(items: Iterable[IssueRequest], size: int) -> Iterable[list[IssueRequest]]:
    batch: list[IssueRequest] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- signing worker processes ----------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _worker_init(provider_factory: Callable[[], SealProvider], profile: Profile, ttl_s: float) -> None:
    """In a worker process: build the seal provider once; signers are made per seal on first use."""
    _worker.clear()
    _worker.update(provider=provider_factory(), profile=profile, ttl=ttl_s, signers={})


def _worker_sign(issuer_code: str, face: Face) -> tuple[bytes, int]:
    """Render and certify one face in a worker; returns the signed PDF and its certified length."""
    import time as _time

    provider: SealProvider = _worker["provider"]
    signers: dict[str, tuple[float, SealSigner]] = _worker["signers"]
    cached = signers.get(issuer_code)
    if cached is None or _time.monotonic() - cached[0] > _worker["ttl"]:
        seal = provider.seal(issuer_code)
        profile: Profile = _worker["profile"]
        signer = SealSigner(
            key=seal.key,
            certificate=seal.certificate,
            chain=seal.chain,
            trust=provider.trust(),
            timestamper=provider.timestamper() if profile != "B-B" else None,
            profile=profile,
            seal_name=seal.seal_name,
        )
        signers[issuer_code] = (_time.monotonic(), signer)
        cached = signers[issuer_code]
    signed = asyncio.run(cached[1].async_sign(render(face)))
    return signed.pdf, signed.certified_length
