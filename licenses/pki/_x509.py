"""Certificate and CRL profiles of the tongban PKI, signed through a :class:`core.keys.Signer`.

``cryptography`` builds the to-be-signed structures; the signature itself comes from the
issuer's :class:`~core.keys.Signer`, so a CA key may live in a file or on a PKCS#11 token. The
builder signs once with a throw-away P-256 key (which fixes the ``ecdsa-with-SHA256`` algorithm
inside the TBS part), then the TBS bytes are signed by the real issuer and the outer structure is
assembled here. Every result is checked against the issuer's public key before it is returned.

Profiles (ECDSA P-256, SHA-256):

- root CA: CA, pathlen 1, keyCertSign + cRLSign (critical)
- issuing CA: CA, pathlen 0, keyCertSign + cRLSign, CRL distribution point + AIA of the root
- seal / platform: end entity, digitalSignature + nonRepudiation (critical), no EKU
- TSA: end entity, digitalSignature + nonRepudiation (critical), EKU timeStamping (critical)

A sample certificate carries 样例 / TEST in its subject and a certificate policy of our own whose
user notice says it has no legal effect.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    ObjectIdentifier,
)

from core.keys.base import Signer
from licenses.pki import _der as der
from licenses.pki.errors import PkiError

# An OID arc of our own under 2.25 (UUID-based, ITU-T X.667): no registration needed.
TONGBAN_OID_ARC = "2.25.185769928540641808308197709047970326218"
TSA_POLICY_OID = f"{TONGBAN_OID_ARC}.1.1"  # tongban TSA policy, version 1
SAMPLE_CERT_POLICY_OID = f"{TONGBAN_OID_ARC}.2.1"  # sample certificate, no legal effect
SAMPLE_MARK = "样例 TEST"
SAMPLE_NOTICE = "样例证书，仅供测试，不具法律效力 (TEST certificate, no legal effect)"

# ecdsa-with-SHA256 AlgorithmIdentifier (RFC 5758: parameters absent)
_ECDSA_SHA256_ALG = bytes.fromhex("300a06082a8648ce3d040302")

# URL paths below settings.pki.public_base_url (the gateway serves them)
CRL_PATH = "/pki/crl/{issuer}.crl"
CERT_PATH = "/pki/certs/{name}.crt"
TSA_PATH = "/pki/tsa"


@functools.lru_cache(maxsize=1)
def _scratch_key() -> ec.EllipticCurvePrivateKey:
    """A throw-away key: only used to let the builders emit the TBS structure."""
    return ec.generate_private_key(ec.SECP256R1())


def _outer(tbs: bytes, signer: Signer) -> bytes:
    return der.sequence(tbs, _ECDSA_SHA256_ALG, der.bit_string(signer.sign(tbs)))


def _check_signature(public_key: ec.EllipticCurvePublicKey, signature: bytes, tbs: bytes, what: str) -> None:
    try:
        public_key.verify(signature, tbs, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise PkiError(
            f"the {what} signature does not verify with the issuer's public key "
            "(wrong key for this CA certificate?)",
            code="PKI_SIGNATURE_MISMATCH",
        ) from exc


def sign_certificate(
    builder: x509.CertificateBuilder, signer: Signer, issuer_public_key: ec.EllipticCurvePublicKey
) -> x509.Certificate:
    """Sign ``builder`` with ``signer`` (ECDSA-SHA256) and check it against ``issuer_public_key``."""
    tbs = builder.sign(_scratch_key(), hashes.SHA256()).tbs_certificate_bytes
    cert = x509.load_der_x509_certificate(_outer(tbs, signer))
    _check_signature(issuer_public_key, cert.signature, cert.tbs_certificate_bytes, "certificate")
    return cert


def sign_crl(
    builder: x509.CertificateRevocationListBuilder,
    signer: Signer,
    issuer_public_key: ec.EllipticCurvePublicKey,
) -> x509.CertificateRevocationList:
    tbs = builder.sign(_scratch_key(), hashes.SHA256()).tbs_certlist_bytes
    crl = x509.load_der_x509_crl(_outer(tbs, signer))
    _check_signature(issuer_public_key, crl.signature, crl.tbs_certlist_bytes, "CRL")
    return crl


def name(
    *,
    common_name: str,
    organization: str,
    unit: str | None = None,
    province: str | None = None,
    locality: str | None = None,
    organization_identifier: str | None = None,
) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")]
    if province:
        attrs.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province))
    if locality:
        attrs.append(x509.NameAttribute(NameOID.LOCALITY_NAME, locality))
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    if organization_identifier:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, organization_identifier))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def uscc_of(cert: x509.Certificate) -> str | None:
    """The USCC in a seal certificate's organizationIdentifier (``NTRCN-<USCC>``), if any."""
    for attr in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER):
        value = str(attr.value)
        if value.startswith("NTRCN-"):
            return value.removeprefix("NTRCN-")
    return None


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _signing_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,  # nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _pointers(builder: x509.CertificateBuilder, base_url: str, issuer: str) -> x509.CertificateBuilder:
    base = base_url.rstrip("/")
    crl_url = base + CRL_PATH.format(issuer=issuer)
    cert_url = base + CERT_PATH.format(name=issuer)
    return builder.add_extension(
        x509.CRLDistributionPoints(
            [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]
        ),
        critical=False,
    ).add_extension(
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(cert_url)
                )
            ]
        ),
        critical=False,
    )


def _sample_policy(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    return builder.add_extension(
        x509.CertificatePolicies(
            [
                x509.PolicyInformation(
                    ObjectIdentifier(SAMPLE_CERT_POLICY_OID), [x509.UserNotice(None, SAMPLE_NOTICE)]
                )
            ]
        ),
        critical=False,
    )


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer_public_key: ec.EllipticCurvePublicKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)
    )


def root_certificate(
    signer: Signer, subject: x509.Name, *, now: datetime, days: int, sample: bool
) -> x509.Certificate:
    pub = signer.public_key()
    builder = _base(
        subject,
        subject,
        pub,
        pub,
        x509.random_serial_number(),
        now - timedelta(minutes=5),
        now + timedelta(days=days),
    )
    builder = builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=1), critical=True
    ).add_extension(_ca_key_usage(), critical=True)
    if sample:
        builder = _sample_policy(builder)
    return sign_certificate(builder, signer, pub)


def issuing_certificate(
    root_signer: Signer,
    root_cert: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    subject: x509.Name,
    *,
    now: datetime,
    days: int,
    base_url: str,
    sample: bool,
) -> x509.Certificate:
    issuer_pub = _ec_public_key(root_cert)
    builder = _base(
        subject,
        root_cert.subject,
        public_key,
        issuer_pub,
        x509.random_serial_number(),
        now - timedelta(minutes=5),
        min(now + timedelta(days=days), root_cert.not_valid_after_utc),
    )
    builder = builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=0), critical=True
    ).add_extension(_ca_key_usage(), critical=True)
    builder = _pointers(builder, base_url, "root")
    if sample:
        builder = _sample_policy(builder)
    return sign_certificate(builder, root_signer, issuer_pub)


def end_entity_certificate(
    ca_signer: Signer,
    ca_cert: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    subject: x509.Name,
    *,
    now: datetime,
    days: int,
    base_url: str,
    sample: bool,
    timestamping: bool = False,
) -> x509.Certificate:
    """A seal, platform or (``timestamping``) TSA certificate issued by the issuing CA."""
    issuer_pub = _ec_public_key(ca_cert)
    builder = _base(
        subject,
        ca_cert.subject,
        public_key,
        issuer_pub,
        x509.random_serial_number(),
        now - timedelta(minutes=5),
        min(now + timedelta(days=days), ca_cert.not_valid_after_utc),
    )
    builder = builder.add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    ).add_extension(_signing_key_usage(), critical=True)
    if timestamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    builder = _pointers(builder, base_url, "issuing")
    if sample:
        builder = _sample_policy(builder)
    return sign_certificate(builder, ca_signer, issuer_pub)


def _ec_public_key(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise PkiError(
            f"certificate {cert.subject.rfc4514_string()} has no ECDSA P-256 key", code="PKI_KEY_TYPE"
        )
    return key


ec_public_key = _ec_public_key

REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}
"""Revocation reasons (RFC 5280 names). certificateHold / removeFromCRL are not offered:
revocation is final."""


def parse_reason(text: str) -> str:
    """The RFC 5280 name of a reason given as ``keyCompromise``, ``key_compromise`` or ``key-compromise``."""
    wanted = text.replace("_", "").replace("-", "").lower()
    for rfc_name in REASONS:
        if rfc_name.lower() == wanted:
            return rfc_name
    raise PkiError(f"unknown revocation reason {text!r}; use one of: {', '.join(REASONS)}", code="PKI_REASON")


def crl_builder(
    issuer_cert: x509.Certificate,
    *,
    number: int,
    this_update: datetime,
    next_update: datetime,
    revoked: Sequence[tuple[int, datetime, str, datetime | None]],
) -> x509.CertificateRevocationListBuilder:
    """``revoked``: (serial, revocation date, reason name, invalidity date or None)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(_ec_public_key(issuer_cert)), critical=False
        )
    )
    for serial, when, reason, invalid_since in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason != "unspecified":  # RFC 5280 5.3.1: omit reasonCode rather than use unspecified
            entry = entry.add_extension(x509.CRLReason(REASONS[reason]), critical=False)
        if invalid_since is not None:
            entry = entry.add_extension(
                x509.InvalidityDate(invalid_since.replace(tzinfo=None)), critical=False
            )
        builder = builder.add_revoked_certificate(entry.build())
    return builder
