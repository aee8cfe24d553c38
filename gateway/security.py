"""Client secrets and access tokens.

Secrets: 32 random bytes shown once, stored as ``scrypt(secret, salt)`` with a per-client salt
(n=2^14, r=8, p=1) and compared in constant time.

Tokens: OAuth2 client-credentials access tokens are compact JWTs, ES256, with ``kid``, ``iss``,
``sub`` (client id), ``aud``, ``iat``, ``exp`` and ``jti``. They are signed through the key store's
rotating *token* key (``FileKeyStore.token_signer()``; the key may sit in a PKCS#11 token, so
signing goes through :func:`core.jws.sign_compact`) — never the platform seal. They are verified
with joserfc: the key is chosen by ``kid`` from the published token keys (also served as JWKS),
the algorithm pinned to ES256, and ``aud``/``exp``/``iat`` checked by a claims registry.

A worker remembers the tokens it has verified (at most ``cache_size``, keyed by the whole token
string, so a changed byte is a different token) and checks only the clock for them until they
expire: a signature is verified once per token and worker, not once per request. The memory is
dropped when the set of token keys changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, KeySet

from core.jws import JwsError, read_header, sign_compact
from core.keys.base import Signer
from gateway.errors import Unauthorized

ISSUER = "tongban"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
KDF_NAME = "scrypt:n=16384,r=8,p=1"


def new_client_id() -> str:
    return "c-" + secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str, salt: bytes | None = None) -> tuple[str, str, str]:
    """``(kdf, salt hex, hash hex)`` for storage."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **_SCRYPT)
    return KDF_NAME, salt.hex(), digest.hex()


def check_secret(secret: str, kdf: str, salt_hex: str, hash_hex: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    if kdf != KDF_NAME:
        return False
    _, _, digest = hash_secret(secret, bytes.fromhex(salt_hex))
    return hmac.compare_digest(digest, hash_hex)


# a hash to compare against when the client id is unknown, so timing does not tell ids apart
DUMMY_SECRET = hash_secret("not-a-client")


@dataclass(frozen=True)
class TokenClaims:
    client_id: str
    jti: str
    exp: int
    raw: dict[str, Any]


class TokenService:
    """Issue and verify access tokens (see the module docstring)."""

    def __init__(
        self,
        signer_source: Callable[[], tuple[str, Signer]],
        public_keys: Callable[[], dict[str, ec.EllipticCurvePublicKey]],
        *,
        audience: str,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
    ) -> None:
        self._signer_source = signer_source
        self._public_keys = public_keys
        self.audience = audience
        self.ttl_s = ttl_s
        self.clock = clock
        self._keyset: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._verified: dict[str, TokenClaims] = {}
        self._cache_size = cache_size

    def issue(self, client_id: str, *, scope: str = "") -> tuple[str, int]:
        kid, signer = self._signer_source()
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": client_id,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if scope:
            claims["scope"] = scope
        return sign_compact(signer, claims, kid=kid), self.ttl_s

    def jwks(self) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self._keys().as_dict(private=False))
        return doc

    def _keys(self, refresh: bool = False) -> KeySet:
        if self._keyset is None or refresh:
            keys = self._public_keys()
            self._keyset = KeySet(
                [ECKey.import_key(pk, {"kid": kid, "alg": "ES256"}) for kid, pk in keys.items()]
            )
            if frozenset(keys) != self._kids:
                self._verified = {}  # a key retired: its tokens must be checked again
            self._kids = frozenset(keys)
        return self._keyset

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token; :class:`Unauthorized` otherwise (never a bool)."""
        known = self._verified.get(token)
        if known is not None:
            now = self.clock()
            if int(known.raw.get("nbf", 0)) <= now <= known.exp:
                return known
            self._verified.pop(token, None)
        claims = self._verify_signed(token)
        if len(self._verified) >= self._cache_size:
            self._verified.pop(next(iter(self._verified)), None)  # oldest first
        self._verified[token] = claims
        return claims

    def _verify_signed(self, token: str) -> TokenClaims:
        if len(token) > 4096 or token.count(".") != 2:
            raise Unauthorized("the bearer token is not a compact JWT", code="TOKEN_INVALID")
        keys = self._keys()
        try:
            kid = read_header(token).get("kid")
        except JwsError:
            kid = None
        if kid is not None and kid not in self._kids:
            keys = self._keys(refresh=True)  # a key rotated in by another process
        try:
            decoded = jwt.decode(token, keys, algorithms=["ES256"])
        except JoseError as exc:
            raise Unauthorized(
                f"the bearer token does not verify ({exc.error})", code="TOKEN_INVALID"
            ) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise Unauthorized("the bearer token cannot be decoded", code="TOKEN_INVALID") from exc
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock()),
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except ExpiredTokenError as exc:
            raise Unauthorized("the bearer token has expired", code="TOKEN_EXPIRED") from exc
        except JoseError as exc:
            raise Unauthorized(
                f"the bearer token's claims are not valid ({exc.error})", code="TOKEN_INVALID"
            ) from exc
        claims = decoded.claims
        if decoded.header.get("alg") != "ES256":
            raise Unauthorized("unexpected token algorithm", code="TOKEN_INVALID")
        return TokenClaims(str(claims["sub"]), str(claims["jti"]), int(claims["exp"]), dict(claims))
