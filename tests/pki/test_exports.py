"""The public surface of ``licenses.pki`` is pinned (see ``tests/exports.py``)."""

from __future__ import annotations

import licenses.pki
from tests.exports import left_out_of_all

EXPORTED = [
    "CERT_PATH",
    "CRL_PATH",
    "ISSUING_KEY",
    "REASONS",
    "ROOT_KEY",
    "SAMPLE_CERT_POLICY_OID",
    "SAMPLE_MARK",
    "TONGBAN_OID_ARC",
    "TSA_KEY",
    "TSA_PATH",
    "TSA_POLICY_OID",
    "CertificateRecord",
    "CertificateRevoked",
    "CrlInfo",
    "Department",
    "DepartmentList",
    "ImportRejected",
    "Pki",
    "PkiError",
    "PkiNotInitialised",
    "RevocationResult",
    "SealMaterial",
    "TimestampAuthority",
    "TimestampRequestRejected",
    "UnknownCertificate",
    "UnknownDepartment",
    "check_pki",
    "load_departments",
    "normalize_serial",
    "open_pki",
    "register_in_process_tsa",
    "seal_key_name",
    "timestamp_client",
    "uscc_of",
]


def test_exported_names_are_pinned() -> None:
    assert sorted(licenses.pki.__all__) == sorted(EXPORTED)
    assert len(set(licenses.pki.__all__)) == len(licenses.pki.__all__)


def test_every_exported_name_resolves_and_nothing_public_is_left_out() -> None:
    for name in licenses.pki.__all__:
        assert getattr(licenses.pki, name) is not None, name
    assert left_out_of_all(licenses.pki) == []


def test_the_facade_keeps_its_methods() -> None:
    """Callers (CLI, gateway, seal provider, tests) use these names on ``Pki``."""
    for name in (
        "init",
        "seal",
        "platform_seal",
        "seal_history",
        "tsa",
        "trust_roots",
        "ca_chain",
        "root_certificate",
        "issuing_certificate",
        "current",
        "certificates",
        "find",
        "is_revoked",
        "is_initialised",
        "is_sample",
        "rotate_seal",
        "revoke",
        "crl",
        "issue_crl",
        "import_ca",
        "import_certificate",
        "materialize",
        "export_trust",
        "status",
        "close",
        "now",
    ):
        assert callable(getattr(licenses.pki.Pki, name)), name
