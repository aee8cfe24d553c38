"""The RFC 3161 timestamp authority (时间戳服务) of tongban, signing with an ECDSA P-256 TSA key.

:class:`TimestampAuthority` turns a DER ``TimeStampReq`` into a DER ``TimeStampResp``; it is the
in-process TSA of the embedded default (it is a :data:`core.timestamp.Responder`, so
``core.timestamp.TimestampClient(responder=tsa)`` uses it directly) and the handler behind the
HTTP route (``gateway/pki_routes.py``).

Tokens: TSTInfo v1 with our policy OID (:data:`TSA_POLICY_OID`), a random 127-bit serial number,
genTime in UTC to the second with an accuracy of one second, the request's nonce, the TSA's name;
CMS SignedData v3 signed with ``ecdsa-with-SHA256`` over signed attributes (contentType,
messageDigest, ESS signingCertificateV2). With ``certReq`` the token carries the TSA certificate
and the issuing CA (not the root). The key signs through a :class:`core.keys.Signer`, so it may
live on a PKCS#11 token. ``openssl ts -verify`` accepts the tokens (tests/pki).

Refusals follow RFC 3161: ``badAlg`` (hash other than SHA-256/384/512 or a wrong digest length),
``unacceptedPolicy``, ``unacceptedExtension`` (any request extension), ``badDataFormat``
(not a TimeStampReq), ``systemFailure`` (signing failed).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from core.keys.base import Signer
from core.logging import log_event
from licenses.pki import _der as der
from licenses.pki._x509 import TSA_POLICY_OID
from licenses.pki.errors import PkiError, TimestampRequestRejected

log = logging.getLogger("tongban.pki.tsa")

_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
_HASH_OIDS = {
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_SHA256_ALG = bytes.fromhex("300d06096086480165030402010500")  # sha256, NULL parameters
_ECDSA_SHA256_ALG = bytes.fromhex("300a06082a8648ce3d040302")  # ecdsa-with-SHA256, parameters absent


def _utcnow() -> datetime:
    return datetime.now(UTC)


def check_tsa_certificate(cert: x509.Certificate) -> None:
    """A TSA certificate must carry one critical EKU, timeStamping (RFC 3161 2.3), and no CA flag."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise PkiError("the TSA certificate has no extended key usage", code="TSA_CERTIFICATE") from exc
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise PkiError(
            "the TSA certificate needs exactly one EKU, timeStamping, marked critical", code="TSA_CERTIFICATE"
        )
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise PkiError("the TSA certificate must not be a CA", code="TSA_CERTIFICATE")
    except x509.ExtensionNotFound:
        pass


class TimestampAuthority:
    """An RFC 3161 TSA over a signer and its certificate. Thread-safe; callable as a responder."""

    def __init__(
        self,
        signer: Signer,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        policy: str = TSA_POLICY_OID,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        check_tsa_certificate(certificate)
        if certificate.public_key() != signer.public_key():
            raise PkiError("the TSA certificate does not belong to the TSA key", code="TSA_CERTIFICATE")
        self.signer = signer
        self.certificate = certificate
        self.policy = policy
        self._clock = clock
        cert_der = certificate.public_bytes(Encoding.DER)
        asn1_cert = asn1_x509.Certificate.load(cert_der)
        self._serial = asn1_cert.serial_number
        # the fixed parts of every token, encoded once
        chain_ders = [c.public_bytes(Encoding.DER) for c in chain if c.subject != c.issuer]  # no root
        self._certificates = der.tlv(0xA0, b"".join([cert_der, *chain_ders]))  # [0] IMPLICIT SET OF
        issuer_name = asn1_cert.issuer.dump()
        self._tsa_name = der.explicit(0, der.explicit(4, asn1_cert.subject.dump()))  # [0] GeneralName dirName
        self._policy_oid = der.oid(policy)
        self._sid = der.sequence(issuer_name, der.integer(self._serial))  # IssuerAndSerialNumber
        ess_cert_id_v2 = der.sequence(  # hashAlgorithm sha256 is the DEFAULT: omitted
            der.octet_string(hashlib.sha256(cert_der).digest()),
            der.sequence(der.sequence(der.explicit(4, issuer_name)), der.integer(self._serial)),
        )
        self._attr_content_type = der.sequence(der.oid(_OID_CONTENT_TYPE), der.set_of(der.oid(_OID_TST_INFO)))
        self._attr_signing_cert = der.sequence(
            der.oid(_OID_SIGNING_CERTIFICATE_V2), der.set_of(der.sequence(der.sequence(ess_cert_id_v2)))
        )

    def __repr__(self) -> str:
        return f"<TimestampAuthority policy={self.policy} serial={self._serial:X}>"

    # -- the responder interface --------------------------------------------------------------
    def __call__(self, request: bytes) -> bytes:
        return self.respond(request)

    def respond(self, request: bytes) -> bytes:
        """DER TimeStampReq → DER TimeStampResp (granted, or a rejection with its failInfo)."""
        try:
            req = self._parse(request)
            token = self.issue_token(
                bytes(req["message_imprint"]["hashed_message"].native),
                hash_algorithm=req["message_imprint"]["hash_algorithm"]["algorithm"].native,
                nonce=req["nonce"].native,
                cert_req=bool(req["cert_req"].native),
                policy=req["req_policy"].dotted if req["req_policy"].native is not None else None,
            )
        except TimestampRequestRejected as exc:
            log_event(log, "tsa.rejected", level=logging.WARNING, fail_info=exc.fail_info, reason=str(exc))
            return _rejection(exc.fail_info, str(exc))
        except Exception as exc:  # a signer or encoding failure: tell the client, do not crash the server
            log.exception("tsa.system_failure")
            return _rejection("system_failure", f"the TSA could not sign: {type(exc).__name__}")
        return der.sequence(der.sequence(der.integer(0)), token)  # status granted, token

    @staticmethod
    def _parse(request: bytes) -> tsp.TimeStampReq:
        try:
            req = tsp.TimeStampReq.load(request, strict=True)
            req.native  # noqa: B018 - parse every field now
        except Exception as exc:
            raise TimestampRequestRejected(
                f"not a DER TimeStampReq: {type(exc).__name__}", fail_info="bad_data_format"
            ) from exc
        if req["version"].native != "v1":
            raise TimestampRequestRejected(
                "only TimeStampReq version 1 is supported", fail_info="bad_request"
            )
        if req["extensions"].native:
            raise TimestampRequestRejected(
                "request extensions are not supported", fail_info="unaccepted_extensions"
            )
        return req

    # -- tokens ---------------------------------------------------------------------------------
    def issue_token(
        self,
        digest: bytes,
        *,
        hash_algorithm: str = "sha256",
        nonce: int | None = None,
        cert_req: bool = True,
        policy: str | None = None,
    ) -> bytes:
        """A DER TimeStampToken (CMS ContentInfo) over ``digest``.

        Raises :class:`TimestampRequestRejected` for an imprint or policy it does not accept.
        """
        if hash_algorithm not in _DIGEST_SIZES or len(digest) != _DIGEST_SIZES[hash_algorithm]:
            raise TimestampRequestRejected(
                f"unsupported message imprint ({hash_algorithm}, {len(digest)} bytes); use SHA-256/384/512",
                fail_info="bad_alg",
            )
        if policy is not None and policy != self.policy:
            raise TimestampRequestRejected(
                f"policy {policy} is not offered; this TSA signs under {self.policy}",
                fail_info="unaccepted_policy",
            )
        gen_time = self._clock().astimezone(UTC).replace(microsecond=0)
        tst_info = der.sequence(
            der.integer(1),
            self._policy_oid,
            der.sequence(der.sequence(der.oid(_HASH_OIDS[hash_algorithm])), der.octet_string(digest)),
            der.integer(secrets.randbits(127) | 1),
            der.generalized_time(gen_time),
            der.sequence(der.integer(1)),  # accuracy: seconds 1
            der.integer(nonce) if nonce is not None else b"",
            self._tsa_name,
        )
        attr_digest = der.sequence(
            der.oid(_OID_MESSAGE_DIGEST), der.set_of(der.octet_string(hashlib.sha256(tst_info).digest()))
        )
        signed_attrs = der.set_of(self._attr_content_type, attr_digest, self._attr_signing_cert)
        signature = self.signer.sign(signed_attrs)  # over the SET OF encoding (RFC 5652 5.4)
        signer_info = der.sequence(
            der.integer(1),
            self._sid,
            _SHA256_ALG,
            b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT SignedAttributes
            _ECDSA_SHA256_ALG,
            der.octet_string(signature),
        )
        signed_data = der.sequence(
            der.integer(3),
            der.set_of(_SHA256_ALG),
            der.sequence(der.oid(_OID_TST_INFO), der.explicit(0, der.octet_string(tst_info))),
            self._certificates if cert_req else b"",
            der.set_of(signer_info),
        )
        return der.sequence(der.oid(_OID_SIGNED_DATA), der.explicit(0, signed_data))


_FAIL_BITS = {
    "bad_alg": 0,
    "bad_request": 2,
    "bad_data_format": 5,
    "time_not_available": 14,
    "unaccepted_policy": 15,
    "unaccepted_extensions": 16,
    "add_info_not_available": 17,
    "system_failure": 25,
}


def _rejection(fail_info: str, text: str) -> bytes:
    """TimeStampResp with status rejection (2), a status string and the failInfo bit."""
    bit = _FAIL_BITS[fail_info]
    bits = bytearray(bit // 8 + 1)
    bits[bit // 8] = 0x80 >> (bit % 8)
    fail = der.tlv(0x03, bytes([7 - bit % 8]) + bytes(bits))  # named bits: trailing zeros dropped
    status_string = der.sequence(der.tlv(0x0C, text[:200].encode()))
    return der.sequence(der.sequence(der.integer(2), status_string, fail))
