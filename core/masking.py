"""Masking of citizen identifiers for logs, reports and ledger entries.

A full resident ID number (居民身份证号) never leaves the database in clear: logs and reports show
``5101**********1238`` (first four, last four). Other identifiers keep a short head and tail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from contracts.fields import PERSONAL_FIELDS

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


_NAME_COLUMNS = frozenset({"CZZT", "applyer_name", "name", "holder_name"})


def mask_personal(
    doc: Mapping[str, Any], table: str = "license_metadata", *, names: bool = False
) -> dict[str, Any]:
    """A copy of ``doc`` with the personal fields of ``table`` (the field table's ``personal``
    flag) masked: identifiers always, names when ``names``."""
    out = dict(doc)
    holders = out.get("holders")
    if isinstance(holders, list):  # a license's metadata lists every holder (license_holder rows)
        out["holders"] = [
            mask_personal(h, "license_holder", names=names) if isinstance(h, Mapping) else h for h in holders
        ]
    for col in PERSONAL_FIELDS.get(table, ()):
        v = out.get(col)
        if not isinstance(v, str) or not v:
            continue
        if col in _NAME_COLUMNS:
            if names:
                out[col] = mask_name(v)
        else:
            out[col] = mask_id(v)
    return out


def redact_text(text: str) -> str:
    """Mask every resident-ID-shaped number and remove PEM private keys from free text."""
    text = _PEM_PRIVATE.sub("[private key redacted]", text)
    return _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 10 + m.group(3)[-4:], text)


def pseudonym(value: str, key: bytes) -> str:
    """A keyed, stable pseudonym of an identifier (for ledger entries and indexes)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
