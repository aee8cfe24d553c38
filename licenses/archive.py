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
old object stays.

When is a license due? **By evidence** (:mod:`licenses._evidence`): its newest timestamp's TSA
certificate, or a certificate of its validation data not yet covered by a later timestamp, expires
within ``margin_days``; or an algorithm of its newest protecting layer is in the deprecated list
(settings ``pki.deprecated_algorithms``). And **by age**, as before: its newest file is older than
``every_days``. A license just archived is covered on both counts, so running the archive again
changes nothing; when the TSA certificate that made the new timestamp is itself within the margin,
the report warns (rotate the TSA) instead of re-stamping every night.

Public API::

    due(registry, *, every_days, now=None, limit=1000) -> list[str]            # by age
    due_by_evidence(registry, *, margin_days, deprecated=(), now=None, limit=1000) -> dict[str, list[str]]
    archive(registry, license_id, *, now=None) -> str          # the new object key
    archive_due(registry, *, every_days, margin_days=None, deprecated=(), now=None, limit=1000)
        -> ArchiveReport
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
from licenses._evidence import read_evidence, renewal_due
from licenses.errors import LicenseError
from licenses.models import LicenseFile, LicenseRecord

if TYPE_CHECKING:
    from licenses.registry import LicenseRegistry

ARCHIVE_KIND = "archive"
LEDGER_STREAM = "license.lifecycle"
STAMP_DIGEST = "sha256"  # the document timestamp's message imprint
SCAN_CHUNK = 200


@dataclass
class ArchiveReport:
    due: int = 0
    archived: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # why each was due ("age" or evidence)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"due": self.due, "archived": len(self.archived), "failed": dict(self.failed)}
        if self.reasons:
            doc["reasons"] = {k: list(v) for k, v in self.reasons.items()}
        if self.warnings:
            doc["warnings"] = list(self.warnings)
        return doc


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


def due_by_evidence(
    registry: LicenseRegistry,
    *,
    margin_days: float,
    deprecated: tuple[str, ...] | list[str] = (),
    now: datetime | None = None,
    limit: int = 1000,
) -> dict[str, list[str]]:
    """Licenses whose current file's evidence needs renewing (see the module docstring), with why;
    at most ``limit``, in registry order. Every current file is read (a stored object per license)."""
    moment = now or datetime.now(UTC)
    margin = timedelta(days=margin_days)
    bad = {a.lower() for a in deprecated}
    out: dict[str, list[str]] = {}
    last = 0
    while len(out) < limit:
        with registry.db.session() as s:
            rows = s.execute(
                select(LicenseRecord.id, LicenseRecord.license_id)
                .where(LicenseRecord.id > last)
                .order_by(LicenseRecord.id)
                .limit(SCAN_CHUNK)
            ).all()
        if not rows:
            break
        for pk, lid in rows:
            last = pk
            try:
                ev = read_evidence(registry.file(lid))
            except Exception as exc:  # a file that cannot be read is reported, not skipped silently
                out[lid] = [f"unreadable: {type(exc).__name__}: {exc}"[:200]]
                continue
            reasons = renewal_due(ev, now=moment, margin=margin, deprecated=bad)
            if reasons:
                out[lid] = [str(r) for r in reasons]
                if len(out) >= limit:
                    break
    return out


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
        STAMP_DIGEST,
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
    registry: LicenseRegistry,
    *,
    every_days: float,
    margin_days: float | None = None,
    deprecated: tuple[str, ...] | list[str] = (),
    now: datetime | None = None,
    limit: int = 1000,
) -> ArchiveReport:
    """Archive every license that is due by age or (with ``margin_days``) by evidence; a failure is
    reported per license, the rest go on."""
    bad = {a.lower() for a in deprecated}
    if STAMP_DIGEST in bad:
        raise LicenseError(
            f"{STAMP_DIGEST} is marked deprecated (TONGBAN_PKI__DEPRECATED_ALGORITHMS) but the archive "
            f"timestamps with it: re-stamping would not renew anything",
            code="LICENSE_ARCHIVE_ALGORITHM",
        )
    rep = ArchiveReport()
    reasons: dict[str, list[str]] = {
        lid: ["age"] for lid in due(registry, every_days=every_days, now=now, limit=limit)
    }
    if margin_days is not None:
        found = due_by_evidence(
            registry, margin_days=margin_days, deprecated=deprecated, now=now, limit=limit
        )
        for lid, why in found.items():
            reasons.setdefault(lid, []).extend(why)
    kinds = {r.split(":")[0] for why in reasons.values() for r in why}
    if margin_days is not None and kinds & {"algorithm", "tsa_certificate"}:
        # a new timestamp carries the TSA's current certificate and algorithms: if they have the same
        # weakness, re-stamping renews nothing — say so instead of re-stamping every night
        algorithms, tsa_end = asyncio.run(_probe_stamp(registry))
        still = sorted(a for a in algorithms if a.lower() in bad)
        horizon = (now or datetime.now(UTC)) + timedelta(days=margin_days)
        drop = set()
        if still:
            drop.add("algorithm")
            rep.warnings.append(
                f"the timestamp authority still signs with deprecated {', '.join(still)}: licenses due only "
                "for a deprecated algorithm are left until the TSA uses a stronger one"
            )
        if tsa_end is not None and tsa_end <= horizon:
            drop.add("tsa_certificate")
            rep.warnings.append(
                f"the TSA's current certificate expires {tsa_end.isoformat()}, within the margin: rotate it "
                "(`tongban pki rotate-seal tsa`); licenses due only for their TSA certificate wait for it"
            )
        for lid in list(reasons):
            reasons[lid] = [r for r in reasons[lid] if r.split(":")[0] not in drop]
            if not reasons[lid]:
                del reasons[lid]
    ids = list(reasons)[:limit]
    rep.due = len(ids)
    rep.reasons = {lid: reasons[lid] for lid in ids}
    for lid in ids:
        try:
            archive(registry, lid, now=now)
        except Exception as exc:  # one bad file must not stop the others; the run reports it
            rep.failed[lid] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            rep.archived.append(lid)
    return rep


async def _probe_stamp(registry: LicenseRegistry) -> tuple[set[str], datetime | None]:
    """What a document timestamp made now would carry — its algorithms and its TSA certificate's
    end — from one probe token of the TSA."""
    import hashlib

    from asn1crypto import cms

    from licenses._evidence import cert_algorithms, signer_algorithms, signer_certificate

    timestamper = registry.seals.timestamper()
    if timestamper is None:
        raise LicenseError("archiving needs a timestamp authority", code="LICENSE_ARCHIVE")
    token: cms.ContentInfo = await timestamper.async_timestamp(
        hashlib.sha256(b"tongban archive probe").digest(), STAMP_DIGEST
    )
    sd = token["content"]
    si = sd["signer_infos"][0]
    found = signer_algorithms(sd, si)
    cert = signer_certificate(sd, si)
    if cert is None:
        return found, None
    end: datetime = cert.not_valid_after
    return found | cert_algorithms(cert), end
