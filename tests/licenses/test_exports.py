"""The public surface of ``licenses`` is pinned: a name added, renamed or dropped fails here, so the
surface changes only on purpose (and with the module docstring's recipes)."""

from __future__ import annotations

import licenses
from licenses import LicenseLookup, LicenseRegistry
from tests.exports import left_out_of_all, modules_after_import

EXPORTED = [
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


def test_exported_names_are_pinned() -> None:
    assert sorted(licenses.__all__) == sorted(EXPORTED)
    assert len(set(licenses.__all__)) == len(licenses.__all__)


def test_every_exported_name_resolves_and_nothing_public_is_left_out() -> None:
    for name in licenses.__all__:
        assert getattr(licenses, name) is not None, name
    assert left_out_of_all(licenses) == []


def test_importing_licenses_loads_no_submodule_until_a_name_is_used() -> None:
    """Public names load on first use: ``import licenses`` must not pull in pyhanko or reportlab."""
    loaded = modules_after_import("licenses", ("licenses", "pyhanko", "reportlab", "sqlalchemy"))
    assert loaded == ["licenses"]


def test_verification_never_imports_the_registry() -> None:
    """The verifier needs a LicenseLookup, not the registry (no import circle)."""
    loaded = modules_after_import("licenses.verification", ("licenses.",))
    assert "licenses.verification" in loaded
    registry_side = {
        "licenses.registry",
        "licenses.issuance",
        "licenses.allocation",
        "licenses.registration",
        "licenses.queries",
        "licenses.lifecycle",
        "licenses.orphans",
        "licenses.views",
        "licenses.models",
    }
    assert registry_side.isdisjoint(loaded), sorted(registry_side & set(loaded))


def _registry_is_a_lookup(registry: LicenseRegistry) -> LicenseLookup:
    return registry  # checked by mypy: the registry satisfies the verifier's protocol


def test_the_recipes_the_cli_and_bench_use_are_public() -> None:
    t = licenses.resolve_license_type("business_license")
    assert licenses.resolve_license_type(t.type_code) == t
    assert callable(licenses.render_face)
