"""The gate's value types: a :class:`Batch` goes in, an :class:`Outcome` comes out.

Also what the hold sweep returns (:class:`SweepResult`) and the verdict on one row checked outside
a batch (:class:`RowVerdict`, license metadata). Plain data, no I/O; ``Outcome`` is what the case
store keeps per batch (``as_dict``) and what ``tongban cases validate --json`` prints (``cli_dict``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from quality.outputs import StoredObject
from quality.suites import SUITE_VERSION


@dataclass(frozen=True)
class Batch:
    """A batch as received: its bytes (the SHA-256 of which is its identity)."""

    data: bytes
    name: str = ""
    encoding: str | None = None
    source: str = ""

    @cached_property
    def hash(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @classmethod
    def from_path(cls, path: str | Path, *, encoding: str | None = None, source: str = "") -> Batch:
        p = Path(path)
        return cls(p.read_bytes(), name=p.name, encoding=encoding, source=source)


@dataclass
class Outcome:
    """What happened to one batch (stored; a replay returns it with ``replayed=True``)."""

    batch_hash: str
    name: str
    rows: int
    curated: int
    held: int
    quarantined: int
    released: int = 0
    released_quarantined: int = 0
    expired: int = 0
    file_quarantined: bool = False
    fault: dict[str, Any] | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # quarantine rule -> rows failing it
    held_reasons: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    rule_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: str | None = None  # locator reports/<key>
    receipt: str | None = None  # the compact JWS
    receipt_object: str | None = None  # locator reports/<key>
    suite_version: str = SUITE_VERSION
    suite_hash: str = ""
    validated_at: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cli_dict(self) -> dict[str, Any]:
        """The ``tongban cases validate --json`` document (ARCHITECTURE.md) plus details."""
        return {
            "rows": self.rows,
            "valid": self.curated,
            "held": self.held,
            "invalid": self.quarantined,
            "reasons": dict(self.reasons),
            "report": self.report,
            "receipt": self.receipt_object,
            "batch_hash": self.batch_hash,
            "file_quarantined": self.file_quarantined,
            "fault": self.fault,
            "held_reasons": dict(self.held_reasons),
            "flags": dict(self.flags),
            "released": self.released,
            "released_quarantined": self.released_quarantined,
            "expired": self.expired,
            "replayed": self.replayed,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], *, replayed: bool = False) -> Outcome:
        known = {f for f in cls.__dataclass_fields__}
        out = cls(**{k: v for k, v in doc.items() if k in known})
        out.replayed = replayed
        return out


@dataclass
class SweepResult:
    """Holds quarantined by one expiry run (``child.parent_missing``), their object and ids."""

    expired: int
    object: StoredObject | None
    ids: list[int]


@dataclass
class RowVerdict:
    """Outcome of one row outside a batch (license metadata)."""

    index: int
    valid: bool
    reasons: list[dict[str, Any]]
