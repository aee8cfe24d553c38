"""The e-license (电子证照) domain: PKI and timestamp authority, GB/T 36904 identifiers, rendering,
PAdES signing, the registry and its status lifecycle, verification and annotated copies (加注件).

Recipes (the raw pyhanko / ASN.1 / reportlab work lives in private modules)::

    registry = open_registry(settings)                   # LicenseRegistry over db, store, PKI
    lic = registry.issue(IssueRequest(type_code="business_license", issuer_code=USCC,
                                      holders=[Holder(name, code, "001")], fields={...},
                                      idempotency_key=f"{project_no}:{type_code}"))
    outcomes = registry.issue_many(requests, on_progress=...)   # bulk, batch transactions
    request_from_case(accept_row, result_row, approval) -> IssueRequest   # catalog field sources
    registry.verify(pdf) -> VerificationReport                 # with the PKI's trust
    registry.verify(pdf, at=judgement_moment("2030-01-02"))    # "was it valid on that day?"
    validity_problem(valid_from, valid_until, at) -> (reason, note) | None   # license_expired …
    registry.get(license_id) -> LicenseView ; registry.find_by_holder(code, code_type, type_code=None)
    registry.metadata(license_id) -> dict ; registry.face(license_id) -> Face ; registry.file(license_id)
    registry.transition(license_id, "suspend", reason=..., actor=...)   # DOMAIN.md §3 table
    registry.change(license_id, {"KZ_...": ...}) / registry.renew(license_id)  # new version
    registry.expire_due() ; registry.reconcile_orphans()
    report = verify_license(pdf, trust=trust(settings), registry=registry)     # never raises
    verify_license_strict(pdf, ...)                                            # raises VerificationFailed
    render_face(face, on_canvas=draw_annotation) -> bytes                      # for annotated copies
    resolve_license_type("business_license") -> LicenseType    # by type code or key; LicenseTypeError
    verify_license(pdf, trust=..., registry=lookup)            # any LicenseLookup: a find(license_id)

PDF + PAdES (ECDSA P-256) deliberately instead of GB/T 36905's OFD + SM2 (DOMAIN.md §7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.lazy import lazy_getattr

if TYPE_CHECKING:
    from core.db import Database
    from core.settings import Settings
    from core.store import ObjectStore
    from licenses._face import Holder, IssueRequest
    from licenses._face import resolve_type as resolve_license_type
    from licenses._pades import DEFAULT_PROFILE, PROFILES, Profile, Trust, certified_revision_length
    from licenses._render import Face
    from licenses._render import render as render_face
    from licenses._report import REASON_CODES, VerificationReport, reason_text
    from licenses._seals import Seal, SealProvider
    from licenses.errors import (
        GlyphMissing,
        IdempotencyConflict,
        LicenseError,
        LicenseNotFound,
        LicenseTypeError,
        RegistryError,
        RenderError,
        SigningError,
        TransitionRefused,
        UniquenessConflict,
        ValidityEnded,
        VerificationFailed,
    )
    from licenses.from_case import AwaitingApproval, request_from_case
    from licenses.registry import LicenseRegistry
    from licenses.transitions import TRANSITIONS
    from licenses.validity import judgement_moment, validity_problem
    from licenses.verification import (
        LicenseLookup,
        RegisteredLicense,
        async_verify_license,
        verify_license,
        verify_license_strict,
    )
    from licenses.views import IssuedLicense, IssueOutcome, LicenseView, StatusEntry

# Public names are loaded on first use (PEP 562): importing ``licenses`` (or ``licenses.errors``)
# must not pull in pyhanko and reportlab, which every CLI command would otherwise pay for.
_LAZY: dict[str, tuple[str, str]] = {
    "Holder": ("licenses._face", "Holder"),
    "IssueRequest": ("licenses._face", "IssueRequest"),
    "resolve_license_type": ("licenses._face", "resolve_type"),
    "DEFAULT_PROFILE": ("licenses._pades", "DEFAULT_PROFILE"),
    "PROFILES": ("licenses._pades", "PROFILES"),
    "Profile": ("licenses._pades", "Profile"),
    "Trust": ("licenses._pades", "Trust"),
    "certified_revision_length": ("licenses._pades", "certified_revision_length"),
    "Face": ("licenses._render", "Face"),
    "render_face": ("licenses._render", "render"),
    "REASON_CODES": ("licenses._report", "REASON_CODES"),
    "VerificationReport": ("licenses._report", "VerificationReport"),
    "reason_text": ("licenses._report", "reason_text"),
    "judgement_moment": ("licenses.validity", "judgement_moment"),
    "validity_problem": ("licenses.validity", "validity_problem"),
    "Seal": ("licenses._seals", "Seal"),
    "SealProvider": ("licenses._seals", "SealProvider"),
    **{
        name: ("licenses.errors", name)
        for name in (
            "GlyphMissing",
            "IdempotencyConflict",
            "LicenseError",
            "LicenseNotFound",
            "LicenseTypeError",
            "RegistryError",
            "RenderError",
            "SigningError",
            "TransitionRefused",
            "UniquenessConflict",
            "ValidityEnded",
            "VerificationFailed",
        )
    },
    "AwaitingApproval": ("licenses.from_case", "AwaitingApproval"),
    "request_from_case": ("licenses.from_case", "request_from_case"),
    "LicenseRegistry": ("licenses.registry", "LicenseRegistry"),
    "TRANSITIONS": ("licenses.transitions", "TRANSITIONS"),
    **{
        name: ("licenses.verification", name)
        for name in (
            "LicenseLookup",
            "RegisteredLicense",
            "async_verify_license",
            "verify_license",
            "verify_license_strict",
        )
    },
    **{
        name: ("licenses.views", name)
        for name in ("IssuedLicense", "IssueOutcome", "LicenseView", "StatusEntry")
    },
}


__getattr__ = lazy_getattr(__name__, _LAZY)


def open_registry(
    settings: Settings,
    *,
    db: Database | None = None,
    store: ObjectStore | None = None,
    profile: Profile | None = None,
    batch_size: int = 32,
    workers: int = 1,
) -> LicenseRegistry:
    """The registry over the settings' database, object store and PKI (seals, trust, TSA).

    ``workers`` > 1 renders and signs bulk issuance in that many worker processes (each opens the
    PKI from the same settings); storing and registering stay in this process."""
    import functools

    from core.runtime import open_database
    from core.store import open_store
    from licenses._pades import DEFAULT_PROFILE
    from licenses._pki_seals import PkiSealProvider
    from licenses.pki import Pki
    from licenses.registry import LicenseRegistry

    database = db or open_database(settings)
    pki = Pki(settings, db=database)
    return LicenseRegistry(
        database,
        store or open_store(settings),
        PkiSealProvider(settings, pki),
        profile=profile or DEFAULT_PROFILE,
        verify_url=settings.pki.public_base_url.rstrip("/") + "/verify",
        batch_size=batch_size,
        workers=workers,
        worker_provider=functools.partial(_provider_for_worker, settings),
    )


def _provider_for_worker(settings: Settings) -> SealProvider:
    from licenses._pki_seals import PkiSealProvider

    return PkiSealProvider(settings)


def trust(settings: Settings, *, db: Database | None = None) -> Trust:
    """What a verifier trusts: our roots, the issuing CA and the current CRLs."""
    from licenses._pki_seals import PkiSealProvider
    from licenses.pki import Pki

    return PkiSealProvider(settings, Pki(settings, db=db)).trust()


__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "REASON_CODES",
    "TRANSITIONS",
    "AwaitingApproval",
    "Face",
    "GlyphMissing",
    "Holder",
    "IdempotencyConflict",
    "IssueOutcome",
    "IssueRequest",
    "IssuedLicense",
    "LicenseError",
    "LicenseLookup",
    "LicenseNotFound",
    "LicenseRegistry",
    "LicenseTypeError",
    "LicenseView",
    "Profile",
    "RegisteredLicense",
    "RegistryError",
    "RenderError",
    "Seal",
    "SealProvider",
    "SigningError",
    "StatusEntry",
    "TransitionRefused",
    "Trust",
    "UniquenessConflict",
    "ValidityEnded",
    "VerificationFailed",
    "VerificationReport",
    "async_verify_license",
    "certified_revision_length",
    "judgement_moment",
    "open_registry",
    "reason_text",
    "render_face",
    "request_from_case",
    "resolve_license_type",
    "trust",
    "validity_problem",
    "verify_license",
    "verify_license_strict",
]
