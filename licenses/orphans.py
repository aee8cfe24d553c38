"""Orphan repair: a crash between storing a license file and registering it (issuing steps 3 and 4)
leaves a file in the licenses zone that no registered license owns. Such a file never verifies as
valid (``unknown_license``, or ``registry_mismatch`` when the identifier was registered later with
another file); :class:`OrphanSweep` finds these files and records them void (``license_orphans``,
a ledger entry ``license.orphan_void``). The zone is write-once, so they are kept, marked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from core.errors import StoreError
from core.ledger import append_many
from core.store import ObjectStore, Zone
from licenses._context import RegistryContext
from licenses.models import LicenseFile, LicenseOrphan
from licenses.registration import LEDGER_STREAM


@dataclass
class OrphanReport:
    scanned: int = 0
    orphans: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"scanned": self.scanned, "orphans": self.orphans}


class OrphanSweep:
    """Compare the licenses zone with the registry's files and void what nothing owns."""

    def __init__(self, ctx: RegistryContext) -> None:
        self.ctx = ctx

    def reconcile_orphans(self, *, grace: timedelta = timedelta(minutes=10)) -> OrphanReport:
        """Find stored license files no registered license owns and record them void.

        Files younger than ``grace`` are left alone (an issuer may be between store and register).
        Deletion is attempted; the licenses zone is write-once, so orphans there are kept and
        marked ``void-kept`` (``void-deleted`` where a store allows it)."""
        db, store, clock = self.ctx.db, self.ctx.store, self.ctx.clock
        report = OrphanReport()
        cutoff = clock() - grace
        with db.session() as s:
            known = set(s.scalars(select(LicenseFile.object_key)))
            known |= set(s.scalars(select(LicenseOrphan.object_key)))
        for summary in store.ls(Zone.LICENSES):
            report.scanned += 1
            if summary.key in known or summary.modified > cutoff:
                continue
            lid = _license_id_in(store, summary.key)
            why = "stored but never registered (crash between store and register)"
            try:
                store.delete(Zone.LICENSES, summary.key)
                disposition, note = "void-deleted", f"{why}; deleted"
            except StoreError:  # the licenses zone is write-once (object lock): keep it, marked void
                disposition, note = "void-kept", f"{why}; kept: the zone is write-once"
            with db.session() as s:
                s.add(
                    LicenseOrphan(
                        object_key=summary.key,
                        license_id=lid,
                        found_at=clock().isoformat(),
                        disposition=disposition,
                        note=note,
                    )
                )
                # an intent stays "allocated": a resumed request reuses its identifier
                append_many(
                    s,
                    LEDGER_STREAM,
                    [
                        (
                            "license.orphan_void",
                            {"object_key": summary.key, "license_id": lid, "disposition": disposition},
                        )
                    ],
                )
            report.orphans.append({"object_key": summary.key, "license_id": lid, "disposition": disposition})
        return report


def _license_id_in(store: ObjectStore, key: str) -> str | None:
    from licenses._pades import certified_revision_length
    from licenses._verify import _read_attachment

    try:
        data = store.get_bytes(Zone.LICENSES, key)
        meta = _read_attachment(data[: certified_revision_length(data)])
    except Exception:  # an unreadable orphan is still recorded, without an identifier
        return None
    lid = meta.get("ZZBS") if meta else None
    return str(lid) if lid else None
