"""Compact JWS (RFC 7515) with ES256 over a :class:`~core.keys.Signer`.

Signing goes through the signer, so the private key may live in a file or a PKCS#11 token; a
signature is verified with the public key and :func:`verify_compact` raises on any mismatch.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from core.canonical import canonical_bytes
from core.errors import JwsError  # raised here, drawn in core.errors
from core.keys.base import Signer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_compact(signer: Signer, payload: dict[str, Any], *, kid: str, typ: str = "JWT") -> str:
    header = {"alg": "ES256", "kid": kid, "typ": typ}
    signing_input = f"{b64url(canonical_bytes(header))}.{b64url(canonical_bytes(payload))}"
    r, s = decode_dss_signature(signer.sign(signing_input.encode()))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def read_header(token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = json.loads(b64url_decode(token.split(".", maxsplit=1)[0]))
    except Exception as exc:
        raise JwsError("not a compact JWS") from exc
    return header


def verify_compact(token: str, public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """Verify an ES256 compact JWS and return its payload; raises :class:`JwsError`."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsError("not a compact JWS (expected three parts)")
    if read_header(token).get("alg") != "ES256":
        raise JwsError("unexpected JWS algorithm (only ES256 is accepted)")
    raw = b64url_decode(parts[2])
    if len(raw) != 64:
        raise JwsError("malformed ES256 signature")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public_key.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise JwsError("JWS signature does not verify") from exc
    payload: dict[str, Any] = json.loads(b64url_decode(parts[1]))
    return payload


__all__ = ["JwsError", "b64url", "b64url_decode", "read_header", "sign_compact", "verify_compact"]
