"""A throwaway test PKI (root, issuing CA, seal, TSA, CRL) built with cryptography.

Used only until licenses/pki lands, and for "foreign" PKIs (a PDF signed outside ours).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import algos, cms, core, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str, org: str = "通办样例PKI（测试）") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(
    subject,
    issuer_name,
    pub,
    issuer_key,
    *,
    ca: bool,
    serial: int,
    eku=None,
    ku_sign=True,
    days=3650,
    crl_url=None,
    not_before=None,
):
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(pub)
        .serial_number(serial)
        .not_valid_before(not_before or NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        b = b.add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    if crl_url:
        b = b.add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]
            ),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


@dataclass
class TestPki:
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    seal_key: ec.EllipticCurvePrivateKey
    seal: x509.Certificate
    tsa_key: ec.EllipticCurvePrivateKey
    tsa: x509.Certificate
    revoked: list[tuple[int, dt.datetime]] = field(default_factory=list)

    def crl(self, *, this_update=None) -> x509.CertificateRevocationList:
        tu = this_update or (NOW - dt.timedelta(minutes=5))
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.subject)
            .last_update(tu)
            .next_update(tu + dt.timedelta(days=7))
            .add_extension(x509.CRLNumber(len(self.revoked) + 1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), critical=False
            )
        )
        for serial, when in self.revoked:
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return b.sign(self.ca_key, hashes.SHA256())

    def root_crl(self) -> x509.CertificateRevocationList:
        tu = NOW - dt.timedelta(minutes=5)
        return (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root.subject)
            .last_update(tu)
            .next_update(tu + dt.timedelta(days=30))
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()), critical=False
            )
            .sign(self.root_key, hashes.SHA256())
        )

    def new_seal(self, serial: int, cn: str = "大邑县市场监督管理局电子证照专用章（样例）"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(
            _name(cn),
            self.ca.subject,
            key.public_key(),
            self.ca_key,
            ca=False,
            serial=serial,
            crl_url="http://127.0.0.1:8700/pki/ca.crl",
        )
        return key, cert


def make_pki(label: str = "通办") -> TestPki:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(
        _name(f"{label}根CA（样例）"),
        _name(f"{label}根CA（样例）"),
        root_key.public_key(),
        root_key,
        ca=True,
        serial=1,
        days=7300,
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(
        _name(f"{label}电子证照签发CA（样例）"),
        root.subject,
        ca_key.public_key(),
        root_key,
        ca=True,
        serial=2,
        crl_url="http://127.0.0.1:8700/pki/root.crl",
    )
    seal_key = ec.generate_private_key(ec.SECP256R1())
    seal = _cert(
        _name("大邑县市场监督管理局电子证照专用章（样例）"),
        ca.subject,
        seal_key.public_key(),
        ca_key,
        ca=False,
        serial=1001,
        crl_url="http://127.0.0.1:8700/pki/ca.crl",
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = _cert(
        _name(f"{label}时间戳服务（样例）"),
        ca.subject,
        tsa_key.public_key(),
        ca_key,
        ca=False,
        serial=3001,
        eku=[ExtendedKeyUsageOID.TIME_STAMPING],
        crl_url="http://127.0.0.1:8700/pki/ca.crl",
    )
    return TestPki(root_key, root, ca_key, ca, seal_key, seal, tsa_key, tsa)


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class EcdsaTimeStamper(DummyTimeStamper):  # type: ignore[misc]
    """An in-process ECDSA TSA for tests (pyhanko's dummy one is RSA-only)."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, chain, fixed_dt=None):
        pkinfo = asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        super().__init__(asn1(cert), pkinfo, certs_to_embed=[asn1(c) for c in chain], fixed_dt=fixed_dt)
        self._ec_key = key

    def _sign_tst_info(self, tst_info_data, md_algorithm, dt_):
        from pyhanko.sign import general
        from pyhanko.sign.general import simple_cms_attribute

        h = hashes.Hash(hashes.SHA256())
        h.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt_)})),
                simple_cms_attribute("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
                simple_cms_attribute("message_digest", h.finalize()),
            ]
        )
        return self._ec_key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256())), signed_attrs

    def _build_signed_data(self, tst_info_data, md_algorithm, signature, signed_attrs):
        d = super()._build_signed_data(tst_info_data, md_algorithm, signature, signed_attrs)
        si = d["signer_infos"][0]
        si["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
        return d


__all__ = ["EcdsaTimeStamper", "TestPki", "asn1", "make_pki", "tsp"]


def foreign_sealed(face: object) -> bytes:
    """``face`` rendered and sealed B-T by a PKI of its own (trusted by nobody here): a license file
    that names a real identifier but was signed outside our PKI."""
    from core.keys.base import InMemorySigner
    from licenses._pades import SealSigner, Trust
    from licenses._render import render

    foreign = make_pki("外部")
    signer = SealSigner(
        key=InMemorySigner("foreign", foreign.seal_key),
        certificate=foreign.seal,
        chain=[foreign.ca],
        trust=Trust(roots=[foreign.root], intermediates=[foreign.ca], crls=[]),
        timestamper=EcdsaTimeStamper(foreign.tsa, foreign.tsa_key, [foreign.ca]),
        profile="B-T",
    )
    pdf: bytes = signer.sign(render(face)).pdf  # type: ignore[arg-type]
    return pdf
