"""Registered department clients, their grants, and the authorization decisions made from them.

Deny by default: a client can do nothing until a grant names a role (``share``, ``status``,
``holder_portal``, ``quality`` for operators who read the data-quality site), the license types
it may see and the purpose codes it may state. A :class:`Principal` is the authenticated client
with its grants folded together; its ``require_*`` methods raise
:class:`~gateway.errors.Forbidden` and never return a bool to forget.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from core.db import Database, utcnow
from gateway import security
from gateway.errors import ClientError, Forbidden, Unauthorized
from gateway.models import (
    ROLE_HOLDER_PORTAL,
    ROLE_QUALITY,
    ROLE_SHARE,
    ROLE_STATUS,
    ROLES,
    ApiClient,
    ApiGrant,
)

_CODE = re.compile(r"^[0-9A-Za-z._-]{1,64}$")


@dataclass(frozen=True)
class Principal:
    """An authenticated client and what its grants allow."""

    client_id: str
    dept_code: str
    name: str
    roles: frozenset[str]
    types: frozenset[str] = field(default_factory=frozenset)
    purposes: frozenset[str] = field(default_factory=frozenset)

    @property
    def stream(self) -> str:
        """The client's own ledger stream (用证记录)."""
        return f"use.{self.client_id}"

    def require_role(self, role: str) -> None:
        if role not in self.roles:
            raise Forbidden(f"this client has no {role!r} grant", code="ROLE_NOT_GRANTED")

    def require_purpose(self, purpose: str) -> None:
        self.require_role(ROLE_SHARE)
        if purpose not in self.purposes:
            raise Forbidden(f"purpose {purpose!r} is not granted to this client", code="PURPOSE_NOT_GRANTED")

    def require_type(self, type_code: str) -> None:
        if type_code not in self.types:
            raise Forbidden(
                f"license type {type_code!r} is not granted to this client", code="TYPE_NOT_GRANTED"
            )

    def may_see(self, type_code: str) -> bool:
        return type_code in self.types


def _codes(values: Iterable[str], what: str) -> list[str]:
    out = sorted({v.strip() for v in values if v.strip()})
    for v in out:
        if not _CODE.match(v):
            raise ClientError(f"invalid {what} code {v!r}: letters, digits, '.', '_' or '-' (max 64)")
    return out


@dataclass(frozen=True)
class NewClient:
    client_id: str
    secret: str  # shown once; only its hash is stored
    dept_code: str


def add_client(
    db: Database,
    dept_code: str,
    *,
    types: Iterable[str] = (),
    purposes: Iterable[str] = (),
    roles: Iterable[str] = (ROLE_SHARE,),
    name: str = "",
    client_id: str | None = None,
    secret: str | None = None,
) -> NewClient:
    """Register a client with one grant per role; returns the id and the one-time secret."""
    dept = dept_code.strip()
    if not _CODE.match(dept):
        raise ClientError(f"invalid department code {dept_code!r}")
    role_list = sorted(set(roles))
    for role in role_list:
        if role not in ROLES:
            raise ClientError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    type_list, purpose_list = _codes(types, "license type"), _codes(purposes, "purpose")
    if ROLE_SHARE in role_list and not (type_list and purpose_list):
        raise ClientError("a share grant needs at least one license type and one purpose code")
    cid = client_id or security.new_client_id()
    plain = secret or security.new_secret()
    kdf, salt, digest = security.hash_secret(plain)
    now = utcnow().isoformat(timespec="seconds")
    with db.session() as s:
        s.add(
            ApiClient(
                client_id=cid,
                dept_code=dept,
                name=name or dept,
                secret_kdf=kdf,
                secret_salt=salt,
                secret_hash=digest,
                created_at=now,
                disabled=False,
            )
        )
        s.flush()
        for role in role_list:
            grant_types = type_list if role in (ROLE_SHARE, ROLE_STATUS) else []
            grant_purposes = purpose_list if role == ROLE_SHARE else []
            s.add(
                ApiGrant(
                    client_id=cid,
                    role=role,
                    type_codes=json.dumps(grant_types),
                    purpose_codes=json.dumps(grant_purposes),
                    created_at=now,
                )
            )
    return NewClient(cid, plain, dept)


def list_clients(db: Database) -> list[dict[str, object]]:
    with db.session() as s:
        clients = s.scalars(select(ApiClient).order_by(ApiClient.created_at)).all()
        grants = s.scalars(select(ApiGrant)).all()
    by_client: dict[str, list[ApiGrant]] = {}
    for g in grants:
        by_client.setdefault(g.client_id, []).append(g)
    return [
        {
            "client_id": c.client_id,
            "dept_code": c.dept_code,
            "name": c.name,
            "disabled": c.disabled,
            "grants": [
                {"role": g.role, "types": g.types, "purposes": g.purposes}
                for g in by_client.get(c.client_id, [])
            ],
        }
        for c in clients
    ]


def disable_client(db: Database, client_id: str) -> bool:
    with db.session() as s:
        c = s.get(ApiClient, client_id)
        if c is None:
            return False
        c.disabled = True
    return True


def load_principal(db: Database, client_id: str) -> Principal | None:
    with db.session() as s:
        c = s.get(ApiClient, client_id)
        if c is None or c.disabled:
            return None
        grants = s.scalars(select(ApiGrant).where(ApiGrant.client_id == client_id)).all()
    roles, types, purposes = set(), set(), set()
    for g in grants:
        roles.add(g.role)
        types.update(g.types)
        purposes.update(g.purposes)
    return Principal(
        c.client_id, c.dept_code, c.name, frozenset(roles), frozenset(types), frozenset(purposes)
    )


def authenticate(db: Database, client_id: str, secret: str) -> Principal:
    """Check client credentials (constant time, same work for unknown ids)."""
    with db.session() as s:
        c = s.get(ApiClient, client_id) if len(client_id) <= 40 else None
        stored = (c.secret_kdf, c.secret_salt, c.secret_hash) if c is not None else security.DUMMY_SECRET
        disabled = c is None or c.disabled
    ok = security.check_secret(secret, *stored)
    if not ok or disabled:
        raise Unauthorized("unknown client or wrong secret", code="CLIENT_INVALID")
    principal = load_principal(db, client_id)
    if principal is None:
        raise Unauthorized("unknown client or wrong secret", code="CLIENT_INVALID")
    return principal


class PrincipalCache:
    """Grants cached per worker for ``ttl_s`` (a revoked grant takes effect within that time)."""

    def __init__(self, db: Database, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.db, self.ttl_s, self.clock = db, ttl_s, clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, client_id: str) -> tuple[bool, Principal | None]:
        """``(hit, principal)`` from memory only (no database access)."""
        with self._lock:
            hit = self._cache.get(client_id)
        if hit is not None and self.clock() - hit[0] < self.ttl_s:
            return True, hit[1]
        return False, None

    def get(self, client_id: str) -> Principal | None:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(client_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        principal = load_principal(self.db, client_id)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[client_id] = (now, principal)
        return principal

    def invalidate(self, client_id: str | None = None) -> None:
        with self._lock:
            if client_id is None:
                self._cache.clear()
            else:
                self._cache.pop(client_id, None)


__all__ = [
    "ROLES",
    "ROLE_HOLDER_PORTAL",
    "ROLE_QUALITY",
    "ROLE_SHARE",
    "ROLE_STATUS",
    "ClientError",
    "NewClient",
    "Principal",
    "PrincipalCache",
    "add_client",
    "authenticate",
    "disable_client",
    "list_clients",
    "load_principal",
]
