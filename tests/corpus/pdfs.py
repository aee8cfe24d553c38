"""Hostile PDF uploads (issue 20): recipes over a genuine license (``base``) or from nothing, and
the one reason the verifier must give. None may raise, hang or take the worker's memory."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PdfCase:
    name: str
    build: Callable[[bytes], bytes]  # from a genuine license's bytes
    reason: str


def _objects(n: int, body: bytes) -> bytes:
    return (
        b"%PDF-1.7\n"
        + b"".join(b"%d 0 obj\n" % i + body + b"\nendobj\n" for i in range(1, n + 1))
        + b"%%EOF\n"
    )


def _deflate_bomb(_: bytes) -> bytes:
    """A 100 MB stream of zeros deflated to ~100 KB, as the content of the only page."""
    packed = zlib.compress(b"\0" * (100 << 20), 9)
    head = (
        b"%PDF-1.7\n1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n"
        b"2 0 obj\n<</Type /Pages /Kids [3 0 R] /Count 1>>\nendobj\n"
        b"3 0 obj\n<</Type /Page /Parent 2 0 R /Contents 4 0 R>>\nendobj\n"
    )
    return (
        head
        + (b"4 0 obj\n<</Length %d /Filter /FlateDecode>>\nstream\n" % len(packed))
        + packed
        + b"\nendstream\nendobj\ntrailer\n<</Root 1 0 R>>\n%%EOF\n"
    )


def _deep_nesting(_: bytes) -> bytes:
    return (
        b"%PDF-1.7\n1 0 obj\n"
        + b"[" * 100_000
        + b"]" * 100_000
        + b"\nendobj\ntrailer\n<</Root 1 0 R>>\n%%EOF\n"
    )


def _appended_change(base: bytes) -> bytes:
    """An incremental update after signing that replaces the catalog (a visible change)."""
    return base + (
        b"\n99 0 obj\n<</Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n"
        b"endobj\ntrailer\n<</Root 99 0 R /Size 100>>\n%%EOF\n"
    )


def _flip_in_signed_range(base: bytes) -> bytes:
    i = base.index(b"/Type /Page") + 2 if b"/Type /Page" in base else len(base) // 3
    return base[:i] + bytes([base[i] ^ 0x20]) + base[i + 1 :]


PDF_CASES: tuple[PdfCase, ...] = (
    PdfCase("empty-after-header", lambda b: b"%PDF-1.7\n", "not_a_license"),
    PdfCase("random-bytes", lambda b: b"%PDF-1.7\n" + os.urandom(256 * 1024), "not_a_license"),
    PdfCase("truncated-half", lambda b: b[: len(b) // 2], "not_a_license"),
    PdfCase("truncated-at-six-tenths", lambda b: b[: len(b) * 6 // 10], "not_a_license"),
    PdfCase("deflate-bomb", _deflate_bomb, "not_a_license"),
    PdfCase("deep-nesting", _deep_nesting, "not_a_license"),
    PdfCase("250k-signature-fields", lambda b: _objects(250_000, b"<</FT /Sig /T (f)>>"), "not_a_license"),
    PdfCase("100k-objects", lambda b: _objects(100_000, b"<<>>"), "not_a_license"),
    PdfCase("catalog-replaced-after-signing", _appended_change, "not_a_license"),  # the seal field is gone
    PdfCase("one-byte-flipped", _flip_in_signed_range, "tampered"),
)
