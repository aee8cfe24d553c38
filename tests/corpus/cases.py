"""Hostile case files (issue 20): each entry names a recipe that builds the bytes at test time (big
ones are not committed) and what the gate must do with it. Every file carries good rows beside the
hostile line, so "the good rows survive" is part of every case."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

GOOD_ROWS = 3  # good accept rows in every file (from the clean generator, seed 11)


@dataclass(frozen=True)
class CaseFile:
    name: str
    hostile: Callable[[], bytes]  # the hostile line(s), placed between the good rows
    quarantined: int  # rows the gate must quarantine (the good rows are curated)
    cause: str  # what the stored reason says, in part ("" when it is a field rule)
    encoding: str | None = None


def _deep(n: int) -> bytes:
    return b'{"table": "up_pro_accept", "x": ' + b"[" * n + b"]" * n + b"}\n"


def _wide(n: int) -> bytes:
    return b"{" + b",".join(b'"k%d": 1' % i for i in range(n)) + b"}\n"


CASE_FILES: tuple[CaseFile, ...] = (
    CaseFile("nested-1000", lambda: _deep(1000), 1, "nested too deeply"),
    CaseFile("nested-100k", lambda: _deep(100_000), 1, "nested too deeply"),
    CaseFile("wide-600-columns", lambda: _wide(600), 1, "600 keys"),
    CaseFile("wide-million-columns", lambda: _wide(1_000_000), 1, "characters (at most"),
    CaseFile(
        "line-16-mb",
        lambda: b'{"table": "up_pro_accept", "x": "' + b"a" * (16 << 20) + b'"}\n',
        1,
        "characters",
    ),
    CaseFile(
        "repeated-key",
        lambda: b'{"table": "up_pro_accept", "table": "up_pro_result"}\n',
        1,
        "given more than once",
    ),
    CaseFile("invalid-byte", lambda: b'{"table": "up_pro_accept", "x": "\xff\xfe"}\n', 1, "not valid UTF-8"),
    CaseFile("nul-outside-strings", lambda: b'{"table": "up_pro_accept"\x00}\n', 1, "malformed"),
    CaseFile("not-an-object", lambda: b"[1, 2, 3]\n", 1, "JSON list"),
    CaseFile("truncated-json", lambda: b'{"table": "up_pro_accept", "project_no": "12\n', 1, ""),
    CaseFile("number-overflow", lambda: b'{"table": "up_pro_accept", "x": 1' + b"0" * 5000 + b"}\n", 1, ""),
    CaseFile("unknown-table", lambda: json.dumps({"table": "sys.users", "x": 1}).encode() + b"\n", 1, ""),
    CaseFile("crlf-and-blank-lines", lambda: b"\r\n\r\n   \n", 0, ""),
    CaseFile("bom-in-the-middle", lambda: b"\xef\xbb\xbf[]\n", 1, ""),
)


def hostile_batch(good: list[bytes], case: CaseFile) -> bytes:
    """good[0] + hostile + good[1:] — the hostile line in the middle of the file."""
    return good[0] + case.hostile() + b"".join(good[1:])
