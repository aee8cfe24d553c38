"""Minimal DER encoding for the hot paths (timestamp tokens, outer certificate structure).

asn1crypto builds the same structures but spends ~25 ms per timestamp token re-serializing the
embedded certificates; the fixed parts are encoded once here and the per-token parts
(TSTInfo, signed attributes, signature) concatenated. Tests parse every result back with
asn1crypto in strict mode and verify it with OpenSSL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from asn1crypto import core


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + length(len(content)) + content


def sequence(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    """A DER SET OF: elements in ascending order of their encodings."""
    return tlv(0x31, b"".join(sorted(parts)))


def integer(n: int) -> bytes:
    if n < 0:
        raise ValueError("only non-negative integers are encoded here")
    return tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))  # minimal, with room for the sign bit


def octet_string(data: bytes) -> bytes:
    return tlv(0x04, data)


def bit_string(data: bytes) -> bytes:
    return tlv(0x03, b"\x00" + data)


def oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


def explicit(number: int, content: bytes) -> bytes:
    """[number] EXPLICIT (constructed, context-specific)."""
    return tlv(0xA0 | number, content)


def generalized_time(when: datetime) -> bytes:
    """GeneralizedTime in UTC, whole seconds (``YYYYMMDDHHMMSSZ``)."""
    return tlv(0x18, when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())
