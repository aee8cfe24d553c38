"""Masking of citizen identifiers for logs, reports and ledger entries.

A full resident ID number (居民身份证号) never leaves the database in clear: logs and reports show
``5101**********1238`` (first four, last four). Other identifiers keep a short head and tail.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{4})(\d{10})(\d{3}[\dXx])(?![0-9A-Za-z])")
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)


def mask_id(value: str | None) -> str:
    """Mask an identifier: 18 characters keep 4 + 4, shorter ones keep about a quarter each side."""
    if not value:
        return ""
    n = len(value)
    if n >= 15:
        keep = 4
    elif n >= 8:
        keep = 2
    else:
        return "*" * n
    return value[:keep] + "*" * (n - 2 * keep) + value[-keep:]


def mask_name(name: str | None) -> str:
    """Mask a person's name: keep the family name (first character)."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def redact_text(text: str) -> str:
    """Mask every resident-ID-shaped number and remove PEM private keys from free text."""
    text = _PEM_PRIVATE.sub("[private key redacted]", text)
    return _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 10 + m.group(3)[-4:], text)


def pseudonym(value: str, key: bytes) -> str:
    """A keyed, stable pseudonym of an identifier (for ledger entries and indexes)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
