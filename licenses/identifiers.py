"""GB/T 36904 license identifiers (电子证照标识) and verification codes (核验码).

Serials are allocated per (type, issuer, year) from ``license_serials`` with one atomic statement,
``UPDATE … SET last_value = last_value + n … RETURNING last_value``: the row lock it takes makes
concurrent issuers (threads, processes, hosts on one PostgreSQL) queue for a few microseconds, and
no serial is ever handed out twice. Callers allocate in a short transaction of its own, so the lock
is not held while a PDF is rendered and signed; a crash after allocation leaves a gap, never a
duplicate. The serial is the 4-digit year followed by a 6-digit sequence (DOMAIN.md §2).

The identifier's check character (ISO/IEC 7064 MOD 37,36) and its syntax are the contracts'
(``contracts.validators``); this module only composes and allocates.
"""

from __future__ import annotations

import secrets

from sqlalchemy import text
from sqlalchemy.orm import Session

from contracts.validators import is_valid_license_id, make_license_id, parse_license_id
from licenses.errors import RegistryError

MAX_SEQUENCE = 999_999
VERIFY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed by people

__all__ = [
    "allocate_serials",
    "is_valid_license_id",
    "license_identifier",
    "new_verify_code",
    "parse_license_id",
]


def license_identifier(type_code: str, issuer_code: str, serial: str, version: int = 1) -> str:
    """``1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>``."""
    return make_license_id(type_code, issuer_code, serial, version)


def new_verify_code() -> str:
    """An 8-character random verification code, shown as ``XXXX-XXXX`` (40 bits)."""
    raw = "".join(secrets.choice(VERIFY_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def allocate_serials(
    session: Session, type_code: str, issuer_code: str, year: int, count: int = 1
) -> list[str]:
    """``count`` fresh serials for (type, issuer, year), in the caller's transaction.

    Commit soon after: the counter row stays locked until the transaction ends.
    """
    if count < 1:
        return []
    params = {"t": type_code, "i": issuer_code, "y": year, "n": count}
    session.execute(
        text(
            "INSERT INTO license_serials (type_code, issuer_code, year, last_value) "
            "VALUES (:t, :i, :y, 0) ON CONFLICT (type_code, issuer_code, year) DO NOTHING"
        ),
        params,
    )
    last = session.execute(
        text(
            "UPDATE license_serials SET last_value = last_value + :n "
            "WHERE type_code = :t AND issuer_code = :i AND year = :y RETURNING last_value"
        ),
        params,
    ).scalar_one()
    first = int(last) - count + 1
    if last > MAX_SEQUENCE:
        raise RegistryError(
            f"serials of type {type_code} by issuer {issuer_code} for {year} are exhausted "
            f"(6-digit sequence, {MAX_SEQUENCE} a year)",
            code="LICENSE_SERIALS_EXHAUSTED",
        )
    return [f"{year:04d}{n:06d}" for n in range(first, int(last) + 1)]
