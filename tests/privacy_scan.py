"""Byte-for-byte scans for resident ID numbers (居民身份证号) left in clear: every given ID, and any
18-character string with a valid GB 11643 check character and birth date, in files and in text.

    found = scan_paths([db_file, db_file + "-wal", store / "raw", ...], known_ids)
    assert found == [], found[:5]

A hit names the file, the offset and the ID masked (the scan's own report must not leak it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from contracts.validators import is_valid_resident_id
from core.masking import mask_id

_CANDIDATE = re.compile(rb"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


@dataclass(frozen=True)
class Hit:
    where: str
    offset: int
    masked: str
    why: str  # "generated" (one of the given IDs) | "valid" (any valid resident ID)

    def __str__(self) -> str:
        return f"{self.where}@{self.offset}: {self.masked} ({self.why})"


def could_be_a_person(s: str) -> bool:
    """A valid resident ID whose holder could be alive: born 1900 up to today. (The contract's
    check accepts any date from 1900, so digits that happen to meet beside each other in a database
    record — a hex digest ending in digits, then a license type code — can pass it with a birth
    year like 4990; the first demo scan found exactly such a run and no real ID.)"""
    return is_valid_resident_id(s) and date(int(s[6:10]), int(s[10:12]), int(s[12:14])) <= date.today()


def scan_bytes(data: bytes, where: str, known: Iterable[str] = ()) -> list[Hit]:
    hits: list[Hit] = []
    for i in sorted(set(known)):
        needle = i.encode()
        at = data.find(needle)
        if at >= 0:
            hits.append(Hit(where, at, mask_id(i), "generated"))
    for m in _CANDIDATE.finditer(data):
        s = m.group().decode().upper()
        if could_be_a_person(s):
            hits.append(Hit(where, m.start(), mask_id(s), "valid"))
    return hits


def scan_paths(paths: Iterable[Path], known: Iterable[str] = (), *, skip: Iterable[Path] = ()) -> list[Hit]:
    """Scan every file under ``paths`` (files or folders, recursively), except under ``skip``."""
    known = list(known)
    skipped = [p.resolve() for p in skip]
    hits: list[Hit] = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            r = f.resolve()
            if any(r == s or s in r.parents for s in skipped):
                continue
            hits.extend(scan_bytes(f.read_bytes(), str(f), known))
    return hits


def resident_ids_in(paths: Iterable[Path]) -> set[str]:
    """Every valid resident ID in these files (the generated data's own IDs)."""
    out: set[str] = set()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            for m in _CANDIDATE.finditer(f.read_bytes()):
                s = m.group().decode().upper()
                if is_valid_resident_id(s):
                    out.add(s)
    return out
