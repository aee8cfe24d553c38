"""The certificate hierarchy: profiles, sample marks, openssl verification against the exported trust,
CRLs with reasons and dates, rotation that keeps earlier signatures verifiable, import of a real CA."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from licenses.pki import (
    TSA_POLICY_OID,
    CertificateRevoked,
    ImportRejected,
    Pki,
    PkiNotInitialised,
    UnknownCertificate,
    UnknownDepartment,
    normalize_serial,
    uscc_of,
)

Openssl = Callable[..., CompletedProcess[str]]


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_certs(pki: Pki, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for rec in pki.certificates():
        path = folder / f"{rec.role.replace(':', '_')}-{rec.generation}.pem"
        path.write_bytes(pem(rec.certificate))
        out[rec.serial] = path
    return out


def verify_args(trust: Path) -> list[str | Path]:
    return [
        "verify",
        "-crl_check_all",
        "-CAfile",
        trust / "root.pem",
        "-untrusted",
        trust / "issuing.pem",
        "-CRLfile",
        trust / "issuing.crl.pem",
        "-CRLfile",
        trust / "root.crl.pem",
    ]


def test_init_makes_the_hierarchy_marked_as_sample_and_is_idempotent(pki: Pki) -> None:
    records = pki.certificates()
    roles = sorted(r.role for r in records)
    assert roles.count("root") == 1 and roles.count("issuing") == 1
    assert {"tsa", "platform"} <= set(roles)
    assert {f"seal:{d.code}" for d in pki.departments} <= set(roles)
    for rec in records:
        subject = rec.certificate.subject.rfc4514_string()
        assert "样例" in subject and "TEST" in subject, subject
        assert rec.source == "sample"
    steps = pki.init()
    assert steps[0].startswith("PKI: root CA present") and "present" in steps[-1]
    assert len(pki.certificates()) == len(records)
    assert (pki.folder / "root.crt.pem").read_bytes() == pem(pki.root_certificate())


def test_certificate_profiles(make_pki: Callable[..., Pki]) -> None:
    pki = make_pki(pki={"public_base_url": "https://gw.example.test:8443/"})
    root, issuing = pki.root_certificate(), pki.issuing_certificate()
    for cert in (root, issuing):
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0

    tsa = pki.current("tsa")
    assert tsa is not None
    eku = tsa.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ku_ext = tsa.certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku_ext.critical and ku_ext.value.digital_signature and ku_ext.value.content_commitment
    assert not tsa.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    seal = pki.seal("dayi-scjg")
    cert = seal.certificate
    assert uscc_of(cert) == "11510129008589710X"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "大邑县市场监督管理局"
    assert cert.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "大邑县"
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name is not None
    assert cdp[0].full_name[0].value == "https://gw.example.test:8443/pki/crl/issuing.crl"
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "https://gw.example.test:8443/pki/certs/issuing.crt"
    issuing_cdp = issuing.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert issuing_cdp[0].full_name is not None
    assert issuing_cdp[0].full_name[0].value == "https://gw.example.test:8443/pki/crl/root.crl"
    assert seal.chain == (issuing, root)
    assert seal.department is not None and seal.department.uscc == "11510129008589710X"
    assert pki.status()["tsa_policy"] == TSA_POLICY_OID
    assert pki.platform_seal().certificate.public_key() == pki.keystore.signer("platform").public_key()


@pytest.mark.tools
def test_openssl_accepts_every_issued_certificate_and_rejects_a_foreign_root(
    make_pki: Callable[..., Pki], openssl: Openssl, tmp_path: Path
) -> None:
    pki = make_pki()
    trust = tmp_path / "trust"
    written = pki.export_trust(trust)
    assert {
        "root.pem",
        "issuing.pem",
        "tsa.pem",
        "trust-bundle.pem",
        "issuing.crl.pem",
        "root.crl.pem",
    } <= set(written)
    certs = write_certs(pki, tmp_path / "certs")
    assert len(certs) == 4 + len(pki.departments)
    done = openssl(*verify_args(trust), *certs.values())
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == len(certs)

    foreign = make_pki("foreign", pki={"public_base_url": "http://foreign.example.test"})  # a CA of its own
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(pem(foreign.seal("dayi-scjg").certificate) + pem(foreign.issuing_certificate()))
    refused = openssl("verify", "-CAfile", trust / "root.pem", "-untrusted", stranger, stranger)
    assert refused.returncode != 0
    assert "unable to get local issuer certificate" in refused.stdout + refused.stderr


@pytest.mark.tools
def test_revocation_goes_into_a_crl_openssl_accepts(pki: Pki, openssl: Openssl, tmp_path: Path) -> None:
    victim = pki.seal("dayi-zrzy")
    before = pki.crl()
    since = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    result = pki.revoke(victim.serial.lower(), "key-compromise", invalidity_date=since)
    assert not result.already_revoked and result.record.revocation_reason == "keyCompromise"
    assert result.crl.number == before.number + 1 and result.crl.revoked_count == 1
    entry = result.crl.crl.get_revoked_certificate_by_serial_number(victim.certificate.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    assert entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc == since

    again = pki.revoke(victim.serial, "superseded")
    assert again.already_revoked and again.crl.number == result.crl.number
    assert again.record.revocation_reason == "keyCompromise"  # revocation is final

    trust = tmp_path / "trust"
    pki.export_trust(trust)
    crl_check = openssl(
        "crl", "-in", trust / "issuing.crl.pem", "-CAfile", trust / "trust-bundle.pem", "-noout"
    )
    assert crl_check.returncode == 0 and "verify OK" in crl_check.stdout + crl_check.stderr
    text = openssl("crl", "-in", trust / "issuing.crl.pem", "-noout", "-text").stdout
    assert normalize_serial(victim.serial) in text.replace(":", "").upper()
    assert "Key Compromise" in text and "Invalidity Date" in text and "CRL Number" in text
    root_crl = openssl("crl", "-in", trust / "root.crl.pem", "-CAfile", trust / "root.pem", "-noout")
    assert root_crl.returncode == 0 and "verify OK" in root_crl.stdout + root_crl.stderr

    revoked_pem = tmp_path / "revoked.pem"
    revoked_pem.write_bytes(pem(victim.certificate))
    refused = openssl(*verify_args(trust), revoked_pem)
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr
    fine = tmp_path / "fine.pem"
    fine.write_bytes(pem(pki.seal("dayi-scjg").certificate))
    assert openssl(*verify_args(trust), fine).returncode == 0

    with pytest.raises(CertificateRevoked, match="rotate-seal dayi-zrzy"):
        pki.seal("dayi-zrzy")
    with pytest.raises(UnknownCertificate):
        pki.revoke("ABCDEF", "unspecified")
    with pytest.raises(Exception, match="root CA cannot be revoked"):
        pki.revoke(normalize_serial(pki.root_certificate().serial_number))
    replacement = pki.rotate_seal("dayi-zrzy")
    assert replacement.generation == 2 and not pki.is_revoked(replacement.serial)


def test_revoking_the_issuing_ca_goes_into_the_root_crl(pki: Pki) -> None:
    issuing_serial = normalize_serial(pki.issuing_certificate().serial_number)
    result = pki.revoke(issuing_serial, "cACompromise")
    assert result.crl.issuer == "root" and result.crl.revoked_count == 1
    assert pki.crl("issuing").revoked_count == 0


def test_crl_is_reissued_when_half_its_validity_has_passed(make_pki: Callable[..., Pki]) -> None:
    pki = make_pki(pki={"crl_validity_hours": 48})
    first = pki.crl()
    assert first.next_update - first.this_update == timedelta(hours=48)
    assert pki.crl().number == first.number  # not due yet
    later = Pki(pki.settings, clock=lambda: first.this_update + timedelta(hours=25))
    try:
        renewed = later.crl()
        assert renewed.number == first.number + 1
        assert renewed.this_update == first.this_update + timedelta(hours=25)
        assert later.crl().number == renewed.number
        assert later.crl(refresh=False).number == renewed.number
    finally:
        later.close()


def _verify_with_openssl(
    openssl: Openssl, tmp_path: Path, cert: x509.Certificate, data: bytes, sig: bytes
) -> bool:
    tag = hashlib.sha256(sig).hexdigest()[:8]
    pub = tmp_path / f"pub-{tag}.pem"
    pub.write_bytes(
        cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / f"sig-{tag}.der").write_bytes(sig)
    (tmp_path / f"data-{tag}.bin").write_bytes(data)
    done = openssl(
        "dgst",
        "-sha256",
        "-verify",
        pub,
        "-signature",
        tmp_path / f"sig-{tag}.der",
        tmp_path / f"data-{tag}.bin",
    )
    return done.returncode == 0 and "Verified OK" in done.stdout


@pytest.mark.tools
def test_rotate_seal_keeps_earlier_signatures_verifiable(pki: Pki, openssl: Openssl, tmp_path: Path) -> None:
    old = pki.seal("dayi-scjg")
    document = "营业执照 91510129MA6CXXXX97 第一版".encode()
    old_signature = old.signer.sign(document)

    new = pki.rotate_seal("11510129008589710X")  # by USCC
    assert new.generation == old.generation + 1
    assert new.key_name == "seal.dayi-scjg.2" and old.key_name == "seal.dayi-scjg.1"
    assert new.serial != old.serial and new.signer.public_key() != old.signer.public_key()
    assert pki.seal("dayi-scjg").serial == new.serial
    new_signature = new.signer.sign(document)

    assert _verify_with_openssl(openssl, tmp_path, old.certificate, document, old_signature)
    assert _verify_with_openssl(openssl, tmp_path, new.certificate, document, new_signature)
    assert not _verify_with_openssl(openssl, tmp_path, old.certificate, document, new_signature)
    with pytest.raises(InvalidSignature):
        new.signer.public_key().verify(old_signature, document, ec.ECDSA(hashes.SHA256()))

    history = pki.seal_history("dayi-scjg")
    assert [(h.generation, h.status, h.revoked) for h in history] == [
        (1, "superseded", False),
        (2, "active", False),
    ]
    trust = tmp_path / "trust"
    pki.export_trust(trust)
    both = []
    for rec in history:
        path = tmp_path / f"gen{rec.generation}.pem"
        path.write_bytes(pem(rec.certificate))
        both.append(path)
    done = openssl(*verify_args(trust), *both)
    assert done.returncode == 0 and done.stdout.count(": OK") == 2, done.stdout + done.stderr
    assert (pki.folder / "seals" / "dayi-scjg.crt.pem").read_bytes() == pem(new.certificate)


def test_departments_errors_and_extension(make_pki: Callable[..., Pki], tmp_path: Path) -> None:
    extra = tmp_path / "depts.json"
    extra.write_text(
        '{"departments": [{"code": "xilin-wsjk", "name": "西林县卫生健康局",'
        ' "uscc": "11451030755101088R", "region_code": "451030",'
        ' "province": "广西壮族自治区", "locality": "西林县"}]}',
        encoding="utf-8",
    )
    from contracts.validators import is_valid_uscc as uscc_is_valid
    from licenses.pki.departments import load_departments

    assert uscc_is_valid("11510129008589710X") and uscc_is_valid("91350100M000100Y43")
    assert not uscc_is_valid("115101290085897124")  # USCC check passes, embedded org code does not
    assert all(uscc_is_valid(d.uscc) for d in load_departments())
    assert uscc_is_valid("11451030755101088R")
    pki = make_pki(pki={"departments_file": extra})
    assert (
        pki.seal("xilin-wsjk").certificate.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value
        == "西林县"
    )
    with pytest.raises(UnknownDepartment, match="known: dayi-scjg"):
        pki.seal("nowhere")
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"departments": [{"code": "bad-dept", "name": "坏", "uscc": "115101290085897124",'
        ' "region_code": "510129", "province": "四川省", "locality": "大邑县"}]}',
        encoding="utf-8",
    )
    with pytest.raises(Exception, match="invalid USCC"):
        load_departments(bad)


@pytest.mark.tools
def test_import_of_a_real_ca(make_pki: Callable[..., Pki], openssl: Openssl, tmp_path: Path) -> None:
    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        )

    root_key, ca_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ku = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    root = (
        x509.CertificateBuilder()
        .subject_name(name("省级根CA"))
        .issuer_name(name("省级根CA"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(ku, critical=True)
        .sign(root_key, hashes.SHA256())
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("省级签发CA"))
        .issuer_name(root.subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1800))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ku, critical=True)
        .sign(root_key, hashes.SHA256())
    )
    pki = make_pki("real", init=False, pki={"sample": False})
    with pytest.raises(PkiNotInitialised, match="import-ca"):
        pki.init()
    stray_key = ec.generate_private_key(ec.SECP256R1())
    stray = (
        x509.CertificateBuilder()
        .subject_name(name("别处签发CA"))
        .issuer_name(root.subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1800))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(stray_key, hashes.SHA256())  # claims the root as issuer, signed by another key
    )
    with pytest.raises(ImportRejected, match="not signed by the root"):
        pki.import_ca(root, stray, issuing_key=ca_key)
    with pytest.raises(ImportRejected, match="key is needed"):
        pki.import_ca(root, ca)
    pki.import_ca(root, ca, issuing_key=ca_key)
    with pytest.raises(ImportRejected, match="already has a CA"):
        pki.import_ca(root, ca, issuing_key=ca_key)
    steps = pki.init()
    assert any("certificates issued" in s for s in steps)
    assert not pki.is_sample()
    seal = pki.seal("dayi-scjg").certificate
    assert "样例" not in seal.subject.rfc4514_string() and "TEST" not in seal.subject.rfc4514_string()
    assert pki.crl("issuing").revoked_count == 0
    with pytest.raises(PkiNotInitialised):
        pki.crl("root")  # the root key stayed outside: no root CRL here

    (tmp_path / "root.pem").write_bytes(pem(root))
    (tmp_path / "ca.pem").write_bytes(pem(ca))
    (tmp_path / "seal.pem").write_bytes(pem(seal))
    done = openssl(
        "verify", "-CAfile", tmp_path / "root.pem", "-untrusted", tmp_path / "ca.pem", tmp_path / "seal.pem"
    )
    assert done.returncode == 0, done.stderr

    # a seal certificate issued outside (by the same CA) for a key made outside
    seal_key = ec.generate_private_key(ec.SECP256R1())
    outside = (
        x509.CertificateBuilder()
        .subject_name(name("大邑县自然资源局电子证照专用章"))
        .issuer_name(ca.subject)
        .public_key(seal_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=700))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    with pytest.raises(ImportRejected, match="does not match"):
        pki.import_certificate("seal:dayi-zrzy", outside, key=ec.generate_private_key(ec.SECP256R1()))
    rec = pki.import_certificate("seal:dayi-zrzy", outside, key=seal_key)
    assert rec.generation == 2 and rec.source == "imported"
    material = pki.seal("dayi-zrzy")
    assert material.serial == rec.serial and material.key_name == "seal.dayi-zrzy.2"
    signature = material.signer.sign(b"x")
    seal_key.public_key().verify(signature, b"x", ec.ECDSA(hashes.SHA256()))


def test_departments_match_the_issuing_departments_of_the_service_item_catalog() -> None:
    """Every license issuer of the contracts catalog has a seal here, with the same USCC and name."""
    from contracts.catalog import load_catalog
    from licenses.pki.departments import load_departments

    ours = {d.uscc: d for d in load_departments()}
    catalog = load_catalog()
    issuers = {item.department for item in catalog.items if item.license is not None}
    assert issuers, "the catalog has license-issuing items"
    for dept in catalog.departments:
        if dept.code not in issuers:
            continue
        assert dept.code in ours, (
            f"{dept.name} ({dept.code}) issues licenses but has no seal: add it to departments.json"
        )
        assert ours[dept.code].name == dept.name and ours[dept.code].region_code == dept.region_code
