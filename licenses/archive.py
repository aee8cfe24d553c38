"""Long-term archiving of stored licenses (PAdES B-LTA): re-timestamp before timestamps age out.

A B-LT license verifies offline for as long as its timestamp and the certificates and revocation
data in its DSS can be trusted. Before that ends (the TSA certificate nears its expiry, or an
algorithm weakens), an archive adds, as an incremental update after the certification signature:
the current validation data (certificates and CRLs) in the DSS, and a **document timestamp** over
the whole file — which DocMDP P=1 allows, since it changes no content. Repeating this every
``every_days`` keeps a license verifiable indefinitely (a chain of document timestamps).

The licenses zone is write-once: an archived file is a **new object**; the registry's current file
(``licenses.object_key``) moves to it in the same transaction that records the file
(``license_files``, kind ``archive``) and the ledger entry ``license.archived`` (stream
``license.lifecycle``). The certified revision, and so ``certified_sha256``, does not change; the
old object stays. A license whose newest file is younger than ``every_days`` is not due, so running
the archive again changes nothing.

Public API::

    due(registry, *, every_days, now=None, limit=1000) -> list[str]
    archive(registry, license_id, *, now=None) -> str          # the new object key
    archive_due(registry, *, every_days, now=None, limit=1000) -> ArchiveReport
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from core.ledger import append_many
from core.store import Zone
from licenses.errors import LicenseError
from licenses.models import LicenseFile, LicenseRecord

if TYPE_CHECKING:
    from licenses.registry import LicenseRegistry

ARCHIVE_KIND = "archive"
LEDGER_STREAM = "license.lifecycle"


@dataclass
class ArchiveReport:
    due: int = 0
    archived: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"due": self.due, "archived": len(self.archived), "failed": dict(self.failed)}


def due(
    registry: LicenseRegistry, *, every_days: float, now: datetime | None = None, limit: int = 1000
) -> list[str]:
    """Licenses whose newest stored file is older than ``every_days`` (oldest first)."""
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=every_days)).isoformat()
    newest = func.max(LicenseFile.created_at)
    with registry.db.session() as s:
        q = (
            select(LicenseRecord.license_id)
            .join(LicenseFile, LicenseFile.license_pk == LicenseRecord.id)
            .group_by(LicenseRecord.id, LicenseRecord.license_id)
            .having(newest < cutoff)
            .order_by(newest, LicenseRecord.id)
            .limit(limit)
        )
        return [str(x) for x in s.scalars(q)]


async def _stamp(registry: LicenseRegistry, pdf: bytes) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    seals = registry.seals
    timestamper = seals.timestamper()
    if timestamper is None:
        raise LicenseError("archiving needs a timestamp authority", code="LICENSE_ARCHIVE")
    stamper = PdfTimeStamper(timestamper)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = await stamper.async_timestamp_pdf(
        writer,
        "sha256",
        validation_context=seals.trust().validation_context(for_signing=True),
        in_place=False,
    )
    data: bytes = out.getvalue()
    return data


def archive(registry: LicenseRegistry, license_id: str, *, now: datetime | None = None) -> str:
    """Add current validation data and a document timestamp; the new file becomes current."""
    stamp = (now or datetime.now(UTC)).isoformat()
    view = registry.get(license_id, history=False)
    old_key = view.object_key
    data = asyncio.run(_stamp(registry, registry.file(license_id)))
    key = registry.store.put(
        Zone.LICENSES, data, content_type="application/pdf", source="licenses", schema_version="license-B-LTA"
    ).key
    with registry.db.session() as s:
        rec = s.scalar(select(LicenseRecord).where(LicenseRecord.license_id == license_id).with_for_update())
        if rec is None or rec.object_key != old_key:  # archived meanwhile by another run: keep theirs
            return rec.object_key if rec is not None else key
        s.add(
            LicenseFile(
                license_pk=rec.id,
                object_key=key,
                kind=ARCHIVE_KIND,
                size=len(data),
                profile="B-LTA",
                created_at=stamp,
            )
        )
        rec.object_key = key
        append_many(
            s,
            LEDGER_STREAM,
            [("license.archived", {"license_id": license_id, "from": old_key, "to": key, "at": stamp})],
        )
    return key


def archive_due(
    registry: LicenseRegistry, *, every_days: float, now: datetime | None = None, limit: int = 1000
) -> ArchiveReport:
    """Archive every license that is due (a failure is reported per license, the rest go on)."""
    rep = ArchiveReport()
    ids = due(registry, every_days=every_days, now=now, limit=limit)
    rep.due = len(ids)
    for lid in ids:
        try:
            archive(registry, lid, now=now)
        except Exception as exc:  # one bad file must not stop the others; the run reports it
            rep.failed[lid] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            rep.archived.append(lid)
    return rep
