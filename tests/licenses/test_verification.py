"""verify_license: each fixed reason code produced by the case that should produce it."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from licenses import VerificationFailed, verify_license, verify_license_strict
from licenses._pades import SealSigner
from licenses._render import render
from licenses.models import LicenseRecord
from tests.licenses.conftest import LicEnv, business_request, make_env
from tests.licenses.throwaway_pki import foreign_sealed


def verify(env: LicEnv, pdf: bytes):
    return verify_license(pdf, trust=env.trust(), registry=env.registry)


def test_a_fresh_license_is_valid_and_reports_its_checks(lic_env: LicEnv) -> None:
    lic = lic_env.registry.issue(business_request())
    pdf = lic_env.registry.file(lic.license_id)
    report = verify(lic_env, pdf)
    assert report.valid, report.as_dict()
    assert report.license_id == lic.license_id and report.status == "01"
    assert report.certified_sha256 == lic.sha256
    assert report.checks["modifications"]["level"] == "LTA_UPDATES"  # B-LT: the DSS was added
    assert report.checks["modifications"]["certification"] == "NO_CHANGES"  # DocMDP P=1
    assert report.checks["timestamp"]["trusted"] is True
    assert report.as_dict()["kind"] == "license"
    assert verify_license_strict(pdf, trust=lic_env.trust(), registry=lic_env.registry).valid


def test_one_changed_byte_in_the_signed_range_is_tampered(lic_env: LicEnv) -> None:
    lic = lic_env.registry.issue(business_request())
    pdf = lic_env.registry.file(lic.license_id)
    i = pdf.index(b"/Producer")  # inside the first ByteRange part
    bad = pdf[:i] + b"/Producex" + pdf[i + 9 :]
    report = verify(lic_env, bad)
    assert report.reasons == ["tampered"]
    with pytest.raises(VerificationFailed) as err:
        verify_license_strict(bad, trust=lic_env.trust(), registry=lic_env.registry)
    assert err.value.report.reasons == ["tampered"]
    # a byte of the page content stream (compressed) also counts as tampering
    j = pdf.index(b"stream", pdf.index(b"/FlateDecode")) + 20
    bad2 = pdf[:j] + bytes([pdf[j] ^ 0x01]) + pdf[j + 1 :]
    assert "tampered" in verify(lic_env, bad2).reasons


@pytest.mark.parametrize(("action", "status"), [("suspend", "02"), ("withdraw", "03"), ("revoke", "07")])
def test_registry_status_other_than_valid_fails_with_the_status(
    lic_env: LicEnv, action: str, status: str
) -> None:
    lic = lic_env.registry.issue(business_request())
    pdf = lic_env.registry.file(lic.license_id)
    lic_env.registry.transition(lic.license_id, action, reason="测试", actor="tester")
    report = verify(lic_env, pdf)
    assert report.reasons == ["status_not_valid"]
    assert report.status == status


def test_a_pdf_signed_outside_our_pki_is_untrusted(lic_env: LicEnv) -> None:
    lic = lic_env.registry.issue(business_request())
    forged = foreign_sealed(lic_env.registry.face(lic.license_id))
    report = verify(lic_env, forged)
    assert "untrusted_issuer" in report.reasons
    assert "tampered" not in report.reasons


def test_not_a_license_and_unknown_license(lic_env: LicEnv, tmp_path: Path) -> None:
    assert verify(lic_env, b"%PDF-1.7\n garbage").reasons == ["not_a_license"]
    lic = lic_env.registry.issue(business_request())
    unsigned = render(lic_env.registry.face(lic.license_id))
    assert verify(lic_env, unsigned).reasons == ["not_a_license"]
    # a genuine file whose identifier the registry does not know (another registry's)
    other = make_env(tmp_path / "other")
    try:
        from dataclasses import replace

        # 天全县市场监督管理局: no license of this issuer is in lic_env's registry
        foreign_lic = other.registry.issue(replace(business_request(), issuer_code="11511825051182510B"))
        pdf = other.registry.file(foreign_lic.license_id)
        report = verify_license(pdf, trust=other.trust(), registry=lic_env.registry)
        assert report.reasons == ["unknown_license"]
    finally:
        other.db.dispose()


def test_registry_hash_mismatch(lic_env: LicEnv) -> None:
    lic = lic_env.registry.issue(business_request())
    pdf = lic_env.registry.file(lic.license_id)
    with lic_env.db.session() as s:
        s.execute(
            update(LicenseRecord)
            .where(LicenseRecord.license_id == lic.license_id)
            .values(certified_sha256="0" * 64)
        )
    assert verify(lic_env, pdf).reasons == ["registry_mismatch"]


def test_changes_after_certification_are_disallowed(lic_env: LicEnv) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    lic = lic_env.registry.issue(business_request())
    pdf = lic_env.registry.file(lic.license_id)
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    extra = generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 100 Td (FAKE) Tj ET")
    page["/Contents"] = generic.ArrayObject([page["/Contents"], w.add_object(extra)])
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    report = verify(lic_env, out.getvalue())
    assert "disallowed_change" in report.reasons
    assert "tampered" not in report.reasons


@pytest.mark.parametrize("profile", ["B-B", "B-T", "B-LTA"])
def test_every_profile_verifies(tmp_path: Path, profile: str) -> None:
    env = make_env(tmp_path / "var", profile=profile)
    try:
        lic = env.registry.issue(business_request())
        report = verify(env, env.registry.file(lic.license_id))
        assert report.valid, report.as_dict()
        if profile == "B-B":
            assert report.checks["timestamp"] is None
        if profile == "B-LTA":
            assert [t["valid"] for t in report.checks["document_timestamps"]] == [True]
    finally:
        env.db.dispose()


def test_revocation_is_judged_as_of_the_signature_timestamp(tmp_path: Path) -> None:
    env = make_env(tmp_path / "var")
    try:
        reg = env.registry
        # revoked after a timestamped signature: still valid, and the report says so
        lic = reg.issue(business_request())
        pdf = reg.file(lic.license_id)
        seal = env.pki.seal("dayi-scjg")
        time.sleep(1.1)  # the TSA's genTime has one-second precision
        env.pki.revoke(seal.serial, "key_compromise")
        report = verify(env, pdf)
        assert report.valid, report.as_dict()
        assert report.checks["revocation"]["revoked_after_signature"] is True
        assert any("after the signature's timestamp" in n for n in report.notes)

        # revoked before signing: signer_revoked (signed with the old material, B-T: no pre-check)
        signer = SealSigner(
            key=seal.signer,
            certificate=seal.certificate,
            chain=seal.chain,
            trust=env.trust(),
            timestamper=env.registry.seals.timestamper(),
            profile="B-T",
        )
        time.sleep(1.1)
        late = signer.sign(render(reg.face(lic.license_id))).pdf
        late_report = verify(env, late)
        assert "signer_revoked" in late_report.reasons
    finally:
        env.db.dispose()


def _many(n: int, body: bytes) -> bytes:
    return (
        b"%PDF-1.7\n"
        + b"".join(b"%d 0 obj\n" % i + body + b"\nendobj\n" for i in range(1, n + 1))
        + b"%%EOF\n"
    )


@pytest.mark.parametrize(
    ("pdf", "said"),
    [
        (_many(250_000, b"<</FT /Sig /T (f)>>"), "signature fields"),  # the 19 MB upload of issue 20
        (_many(40, b"<</FT /Sig /T (f)>>"), "signature fields"),
        (_many(6_000, b"<</Type /Annot>>"), "objects"),
        (_many(3, b"<</Type /ObjStm /N 90000 /First 4>>stream\nendstream"), "objects"),
        (b"%PDF-1.7\n" + b"1 0 obj\n<<>>\nendobj\n%%EOF\n" * 70, "revisions"),
    ],
    ids=["250k-sig-fields", "40-sig-fields", "6k-objects", "object-stream-of-90k", "70-revisions"],
)
def test_a_file_too_large_in_structure_is_refused_before_parsing(
    lic_env: LicEnv, pdf: bytes, said: str
) -> None:
    report = verify(lic_env, pdf)
    assert report.reasons == ["not_a_license"]
    assert any(said in n and "not checked" in n for n in report.notes), report.notes


def test_a_real_license_is_well_within_the_structure_bounds(lic_env: LicEnv) -> None:
    from licenses._verify import structure_refusal
    from licenses.archive import archive

    lic = lic_env.registry.issue(business_request())
    for _ in range(3):  # archived three times: three more revisions and signature fields
        archive(lic_env.registry, lic.license_id)
    assert structure_refusal(lic_env.registry.file(lic.license_id)) is None
