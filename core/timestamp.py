"""RFC 3161 timestamp client: get a timestamp token for data or a digest, from a URL or in-process.

A :class:`TimestampClient` talks to one timestamp authority, either

- over HTTP (``application/timestamp-query`` → ``application/timestamp-reply``) at a URL, with one
  keep-alive ``httpx`` connection pool, or
- through an in-process *responder*: any callable taking a DER ``TimeStampReq`` and returning a
  DER ``TimeStampResp`` (``licenses.pki`` provides one; ``core`` cannot import it, so the
  composition root registers it with :func:`register_local_responder`, or passes it directly).

Every reply is checked before a token is returned: status granted, the message imprint and the
nonce match the request, the policy matches when one was asked for, the CMS signature verifies
with the certificate the token carries. Trust in that certificate (the chain to a root, the
timeStamping EKU) is the verifier's business, not the client's.

Errors (drawn in :mod:`core.errors`, re-exported here): :class:`TimestampError`
(``TIMESTAMP_FAILED``) with :class:`TimestampUnavailable` (network, HTTP status, no TSA
configured), :class:`TimestampRejected` (the TSA said no) and :class:`TimestampInvalid` (a reply
that does not hold).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asn1crypto import cms, tsp
from asn1crypto import core as asn1core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from core.errors import (
    ConfigError,
    CoreError,
    TimestampError,
    TimestampInvalid,
    TimestampRejected,
    TimestampUnavailable,
)

if TYPE_CHECKING:
    import httpx

    from core.settings import Settings

Responder = Callable[[bytes], bytes]
"""DER TimeStampReq → DER TimeStampResp (an in-process timestamp authority)."""

QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"

_HASHES: dict[str, tuple[Callable[[bytes], Any], int]] = {
    "sha256": (hashlib.sha256, 32),
    "sha384": (hashlib.sha384, 48),
    "sha512": (hashlib.sha512, 64),
}
_CRYPTO_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


class TimeStampResp(asn1core.Sequence):  # type: ignore[misc]
    """RFC 3161 TimeStampResp; asn1crypto's own spec wrongly requires the token on a rejection."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TimestampToken:
    """A granted timestamp token (a CMS ContentInfo around a TSTInfo) and what it says."""

    der: bytes  # the TimeStampToken (ContentInfo), as embedded in signatures
    gen_time: datetime
    serial_number: int
    policy: str
    hash_algorithm: str
    message_imprint: bytes
    nonce: int | None
    tsa_certificate: x509.Certificate | None

    def __repr__(self) -> str:
        return f"<TimestampToken serial={self.serial_number:x} gen_time={self.gen_time.isoformat()}>"


def build_request(
    digest: bytes,
    *,
    hash_algorithm: str = "sha256",
    nonce: int | None = None,
    policy: str | None = None,
    cert_req: bool = True,
) -> bytes:
    """A DER TimeStampReq for ``digest``."""
    _check_digest(digest, hash_algorithm)
    req: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": digest},
        "cert_req": cert_req,
    }
    if nonce is not None:
        req["nonce"] = nonce
    if policy is not None:
        req["req_policy"] = policy
    return bytes(tsp.TimeStampReq(req).dump())


def _check_digest(digest: bytes, hash_algorithm: str) -> None:
    if hash_algorithm not in _HASHES:
        raise TimestampError(
            f"unsupported hash algorithm {hash_algorithm!r}; use one of {sorted(_HASHES)}",
            code="TIMESTAMP_HASH",
        )
    if len(digest) != _HASHES[hash_algorithm][1]:
        raise TimestampError(
            f"a {hash_algorithm} digest has {_HASHES[hash_algorithm][1]} bytes, got {len(digest)}"
        )


def _status_text(status: tsp.PKIStatusInfo) -> str:
    parts = [str(status["status"].native)]
    if status["fail_info"].native:
        parts.append("fail_info=" + ",".join(sorted(status["fail_info"].native)))
    if status["status_string"].native:
        parts.append("; ".join(status["status_string"].native))
    return " ".join(parts)


def parse_response(
    reply: bytes,
    *,
    digest: bytes,
    hash_algorithm: str = "sha256",
    nonce: int | None = None,
    policy: str | None = None,
) -> TimestampToken:
    """Check a DER TimeStampResp against its request and return the token; raises on any mismatch."""
    try:
        resp = TimeStampResp.load(reply)
        status = resp["status"]["status"].native
    except Exception as exc:
        raise TimestampInvalid(f"the TSA reply is not a TimeStampResp: {exc}") from exc
    if status not in ("granted", "granted_with_mods"):
        raise TimestampRejected(f"the TSA refused the request: {_status_text(resp['status'])}")
    token = resp["time_stamp_token"]
    return inspect_token(
        token.dump(), digest=digest, hash_algorithm=hash_algorithm, nonce=nonce, policy=policy
    )


def inspect_token(
    token_der: bytes,
    *,
    digest: bytes | None = None,
    hash_algorithm: str | None = None,
    nonce: int | None = None,
    policy: str | None = None,
) -> TimestampToken:
    """Parse a TimeStampToken, verify its CMS signature with the certificate it carries (if any)
    and check imprint / nonce / policy when given."""
    try:
        content = cms.ContentInfo.load(token_der)
        if content["content_type"].native != "signed_data":
            raise ValueError("not CMS SignedData")
        signed = content["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError("the encapsulated content is not a TSTInfo")
        tst_bytes = bytes(encap["content"].contents)
        tst = tsp.TSTInfo.load(tst_bytes)
        imprint = tst["message_imprint"]
        token_hash = imprint["hash_algorithm"]["algorithm"].native
        token_digest = bytes(imprint["hashed_message"].native)
        gen_time = tst["gen_time"].native
        serial = int(tst["serial_number"].native)
        token_policy = tst["policy"].dotted
        token_nonce = tst["nonce"].native
    except Exception as exc:
        raise TimestampInvalid(f"malformed timestamp token: {exc}") from exc
    if digest is not None and (token_digest != digest or (hash_algorithm and token_hash != hash_algorithm)):
        raise TimestampInvalid("the token's message imprint does not match the data sent")
    if nonce is not None and token_nonce != nonce:
        raise TimestampInvalid("the token's nonce does not match the request (replayed reply?)")
    if policy is not None and token_policy != policy:
        raise TimestampInvalid(f"the token's policy {token_policy} is not the one requested ({policy})")
    cert = _verify_signature(signed, tst_bytes)
    return TimestampToken(
        der=token_der,
        gen_time=gen_time,
        serial_number=serial,
        policy=token_policy,
        hash_algorithm=token_hash,
        message_imprint=token_digest,
        nonce=token_nonce,
        tsa_certificate=cert,
    )


def _verify_signature(signed: cms.SignedData, tst_bytes: bytes) -> x509.Certificate | None:
    infos = signed["signer_infos"]
    if len(infos) != 1:
        raise TimestampInvalid(f"a timestamp token has exactly one signer, this one has {len(infos)}")
    info = infos[0]
    sid = info["sid"]
    if sid.name != "issuer_and_serial_number":
        return None  # subject key identifier: nothing to match without the TSA certificate
    issuer, serial = sid.chosen["issuer"].dump(), sid.chosen["serial_number"].native
    match = None
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        # compare names as encoded (asn1crypto's Name equality runs LDAP string prep: slow)
        if cert.serial_number == serial and cert.issuer.dump() == issuer:
            match = cert
            break
    if match is None:
        return None  # the request did not ask for the certificate (certReq false)
    certificate = x509.load_der_x509_certificate(match.dump())
    digest_alg = info["digest_algorithm"]["algorithm"].native
    attrs = info["signed_attrs"]
    if digest_alg not in _HASHES or not attrs:
        raise TimestampInvalid("the token's signer info has no signed attributes or an unsupported digest")
    digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
    if digests != [_HASHES[digest_alg][0](tst_bytes).digest()]:
        raise TimestampInvalid("the token's message digest attribute does not match its TSTInfo")
    signed_attrs = b"\x31" + attrs.dump()[1:]  # the [0] IMPLICIT tag back to SET OF (RFC 5652 5.4)
    signature = bytes(info["signature"].native)
    algo = info["signature_algorithm"]["algorithm"].native
    key = certificate.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_attrs, ec.ECDSA(_CRYPTO_HASHES[digest_alg]))
        elif isinstance(key, rsa.RSAPublicKey) and algo in ("rsassa_pkcs1v15", f"{digest_alg}_rsa"):
            key.verify(signature, signed_attrs, padding.PKCS1v15(), _CRYPTO_HASHES[digest_alg])
        else:
            raise TimestampInvalid(f"unsupported token signature algorithm {algo}")
    except InvalidSignature as exc:
        raise TimestampInvalid("the token's signature does not verify with its TSA certificate") from exc
    return certificate


class TimestampClient:
    """Timestamps from one TSA: ``url`` (HTTP) or ``responder`` (in-process). Thread-safe."""

    def __init__(
        self,
        *,
        url: str | None = None,
        responder: Responder | None = None,
        hash_algorithm: str = "sha256",
        policy: str | None = None,
        cert_req: bool = True,
        timeout_s: float = 10.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        if (url is None) == (responder is None):
            raise ConfigError("a timestamp client needs exactly one of url= or responder=", code="TSA_CONFIG")
        if hash_algorithm not in _HASHES:
            raise ConfigError(f"unsupported hash algorithm {hash_algorithm!r}", code="TSA_CONFIG")
        self.url = url
        self._responder = responder
        self.hash_algorithm = hash_algorithm
        self.policy = policy
        self.cert_req = cert_req
        self.timeout_s = timeout_s
        self._http = http_client
        self._owns_http = http_client is None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TimestampClient {self.url or 'in-process'}>"

    def __enter__(self) -> TimestampClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None and self._owns_http:
            self._http.close()
            self._http = None

    def digest(self, data: bytes) -> bytes:
        return bytes(_HASHES[self.hash_algorithm][0](data).digest())

    def stamp(self, data: bytes) -> TimestampToken:
        """A token over the hash of ``data``."""
        return self.stamp_digest(self.digest(data))

    def stamp_digest(self, digest: bytes) -> TimestampToken:
        """A token over ``digest`` (made with this client's hash algorithm)."""
        nonce = secrets.randbits(63)
        request = build_request(
            digest,
            hash_algorithm=self.hash_algorithm,
            nonce=nonce,
            policy=self.policy,
            cert_req=self.cert_req,
        )
        reply = self.exchange(request)
        return parse_response(
            reply, digest=digest, hash_algorithm=self.hash_algorithm, nonce=nonce, policy=self.policy
        )

    def exchange(self, request: bytes) -> bytes:
        """Send a DER TimeStampReq, return the DER TimeStampResp (unchecked)."""
        if self._responder is not None:
            try:
                return self._responder(request)
            except CoreError:
                raise
            except Exception as exc:
                raise TimestampUnavailable(f"the in-process TSA failed: {type(exc).__name__}: {exc}") from exc
        return self._post(request)

    def _client(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.timeout_s)
            return self._http

    def _post(self, request: bytes) -> bytes:
        import httpx

        assert self.url is not None
        try:
            resp = self._client().post(
                self.url, content=request, headers={"Content-Type": QUERY_CONTENT_TYPE}
            )
        except httpx.HTTPError as exc:
            raise TimestampUnavailable(f"TSA {self.url} not reachable: {type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise TimestampUnavailable(f"TSA {self.url} answered HTTP {resp.status_code}")
        ctype = resp.headers.get("content-type", "").split(";")[0].strip()
        if ctype != REPLY_CONTENT_TYPE:
            raise TimestampInvalid(
                f"TSA {self.url} answered {ctype or 'no content type'}, not {REPLY_CONTENT_TYPE}"
            )
        return resp.content


_local_responder: Responder | None = None


def register_local_responder(responder: Responder | None) -> None:
    """Make ``responder`` the in-process TSA that :func:`client_from_settings` uses (None clears it)."""
    global _local_responder
    _local_responder = responder


def client_from_settings(settings: Settings, *, responder: Responder | None = None) -> TimestampClient:
    """The TSA the settings name: ``pki.tsa_url`` when set, else the given or registered in-process one."""
    if settings.pki.tsa_url:
        return TimestampClient(url=settings.pki.tsa_url, timeout_s=settings.pki.tsa_timeout_s)
    chosen = responder or _local_responder
    if chosen is None:
        raise ConfigError(
            "no timestamp authority: set TONGBAN_PKI__TSA_URL, or register the in-process TSA "
            "(licenses.pki.register_in_process_tsa(settings))",
            code="TSA_NOT_CONFIGURED",
        )
    return TimestampClient(responder=chosen)


__all__ = [
    "QUERY_CONTENT_TYPE",
    "REPLY_CONTENT_TYPE",
    "Responder",
    "TimeStampResp",
    "TimestampClient",
    "TimestampError",
    "TimestampInvalid",
    "TimestampRejected",
    "TimestampToken",
    "TimestampUnavailable",
    "build_request",
    "client_from_settings",
    "inspect_token",
    "parse_response",
    "register_local_responder",
]
