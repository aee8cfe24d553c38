"""The certificate records (``pki_certificates``): every certificate this PKI issued or imported,
with its role, generation and revocation state. :class:`Inventory` reads them — the *current*
certificate of a role is its newest generation — and records new ones (the previous active
certificate of the role becomes ``superseded``; a ledger entry on stream ``pki``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import ledger
from core.db import Database
from licenses.pki.errors import PkiNotInitialised, UnknownCertificate
from licenses.pki.models import PkiCertificate

ROOT_KEY = "pki.root-ca"
ISSUING_KEY = "pki.issuing-ca"
TSA_KEY = "pki.tsa"
LEDGER_STREAM = "pki"


def seal_key_name(department: str, generation: int) -> str:
    return f"seal.{department}.{generation}"


def normalize_serial(text: str | int) -> str:
    """Uppercase hex without separators or leading zeros (``04:5B:…``, ``0x45b…`` and ``45B…`` agree)."""
    if isinstance(text, int):
        return f"{text:X}"
    cleaned = text.strip().replace(":", "").replace(" ", "").lower().removeprefix("0x")
    try:
        return f"{int(cleaned, 16):X}"
    except ValueError as exc:
        raise UnknownCertificate(
            f"{text!r} is not a certificate serial number (hex, as openssl prints it)"
        ) from exc


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class CertificateRecord:
    """One certificate of the inventory, with its revocation state."""

    serial: str
    kind: str
    role: str
    department: str | None
    generation: int
    key_name: str | None
    issuer_serial: str | None
    subject: str
    not_before: datetime
    not_after: datetime
    sha256: str
    source: str
    issued_at: datetime
    status: str  # active | superseded
    revoked_at: datetime | None
    revocation_reason: str | None
    invalidity_date: datetime | None
    certificate: x509.Certificate

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def state(self, now: datetime) -> str:
        """revoked | expired | not_yet_valid | current | superseded."""
        if self.revoked:
            return "revoked"
        if now > self.not_after:
            return "expired"
        if now < self.not_before:
            return "not_yet_valid"
        return "current" if self.status == "active" else "superseded"

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "serial": self.serial,
            "kind": self.kind,
            "role": self.role,
            "department": self.department,
            "generation": self.generation,
            "key_name": self.key_name,
            "issuer_serial": self.issuer_serial,
            "subject": self.subject,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "sha256": self.sha256,
            "source": self.source,
            "status": self.status,
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
            "revocation_reason": self.revocation_reason,
            "invalidity_date": iso(self.invalidity_date) if self.invalidity_date else None,
        }
        if now is not None:
            doc["state"] = self.state(now)
        return doc

    @classmethod
    def from_row(cls, row: PkiCertificate) -> CertificateRecord:
        return cls(
            serial=row.serial,
            kind=row.kind,
            role=row.role,
            department=row.department,
            generation=row.generation,
            key_name=row.key_name,
            issuer_serial=row.issuer_serial,
            subject=row.subject,
            not_before=datetime.fromisoformat(row.not_before),
            not_after=datetime.fromisoformat(row.not_after),
            sha256=row.sha256,
            source=row.source,
            issued_at=datetime.fromisoformat(row.issued_at),
            status=row.status,
            revoked_at=parse_iso(row.revoked_at),
            revocation_reason=row.revocation_reason,
            invalidity_date=parse_iso(row.invalidity_date),
            certificate=x509.load_der_x509_certificate(row.cert_der),
        )


class Inventory:
    """Reading and recording certificates in the database (``now`` stamps new records)."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now

    # -- reading ------------------------------------------------------------------------------------
    @staticmethod
    def current_row(s: Session, role: str) -> PkiCertificate | None:
        return s.scalars(
            select(PkiCertificate)
            .where(PkiCertificate.role == role)
            .order_by(PkiCertificate.generation.desc())
            .limit(1)
        ).first()

    def current(self, role: str) -> CertificateRecord | None:
        """The newest certificate of ``role`` (revoked or not), or None."""
        with self.db.sessions() as s:
            row = self.current_row(s, role)
            return None if row is None else CertificateRecord.from_row(row)

    def require(self, role: str) -> CertificateRecord:
        """The current certificate of ``role``; PkiNotInitialised (saying what to run) if none."""
        rec = self.current(role)
        if rec is None:
            if role in ("root", "issuing"):
                raise PkiNotInitialised(
                    "the PKI has no CA yet: run `tongban pki init` (or `tongban init`), or import one "
                    "with `tongban pki import-ca`"
                )
            raise PkiNotInitialised(f"no certificate for {role!r}: run `tongban pki init`")
        return rec

    def is_initialised(self) -> bool:
        return self.current("root") is not None and self.current("issuing") is not None

    def is_sample(self) -> bool:
        root = self.current("root")
        return root is not None and root.source == "sample"

    def root_certificate(self) -> x509.Certificate:
        return self.require("root").certificate

    def issuing_certificate(self) -> x509.Certificate:
        return self.require("issuing").certificate

    def ca_chain(self) -> tuple[x509.Certificate, ...]:
        """(issuing CA, root CA): the chain above every end-entity certificate."""
        return (self.issuing_certificate(), self.root_certificate())

    def certificates(self, *, kind: str | None = None) -> list[CertificateRecord]:
        with self.db.sessions() as s:
            stmt = select(PkiCertificate).order_by(PkiCertificate.issued_at, PkiCertificate.serial)
            if kind is not None:
                stmt = stmt.where(PkiCertificate.kind == kind)
            return [CertificateRecord.from_row(r) for r in s.scalars(stmt)]

    def history(self, role: str) -> list[CertificateRecord]:
        """Every generation of ``role``, oldest first."""
        with self.db.sessions() as s:
            rows = s.scalars(
                select(PkiCertificate).where(PkiCertificate.role == role).order_by(PkiCertificate.generation)
            )
            return [CertificateRecord.from_row(r) for r in rows]

    def find(self, serial: str | int) -> CertificateRecord:
        key = normalize_serial(serial)
        with self.db.sessions() as s:
            row = s.get(PkiCertificate, key)
            if row is None:
                raise UnknownCertificate(
                    f"no certificate with serial {key} was issued by this PKI (`tongban pki show`)"
                )
            return CertificateRecord.from_row(row)

    def next_generation(self, role: str) -> int:
        with self.db.sessions() as s:
            top = s.scalar(select(func.max(PkiCertificate.generation)).where(PkiCertificate.role == role))
        return int(top or 0) + 1

    # -- recording ----------------------------------------------------------------------------------
    def insert(
        self,
        s: Session,
        *,
        cert: x509.Certificate,
        kind: str,
        role: str,
        generation: int,
        key_name: str | None,
        issuer_serial: str | None,
        source: str,
        department: str | None = None,
    ) -> PkiCertificate:
        """Record ``cert`` as the role's new active certificate, in the caller's transaction."""
        der = cert.public_bytes(serialization.Encoding.DER)
        row = PkiCertificate(
            serial=normalize_serial(cert.serial_number),
            kind=kind,
            role=role,
            department=department,
            generation=generation,
            key_name=key_name,
            issuer_serial=issuer_serial,
            subject=cert.subject.rfc4514_string(),
            not_before=iso(cert.not_valid_before_utc),
            not_after=iso(cert.not_valid_after_utc),
            sha256=hashlib.sha256(der).hexdigest(),
            cert_der=der,
            source=source,
            issued_at=iso(self.now()),
            status="active",
        )
        s.execute(
            update(PkiCertificate)
            .where(PkiCertificate.role == role, PkiCertificate.status == "active")
            .values(status="superseded")
        )
        s.add(row)
        s.flush()
        ledger.append(
            s,
            LEDGER_STREAM,
            "certificate.issued" if source != "imported" else "certificate.imported",
            {"serial": row.serial, "role": role, "generation": generation, "sha256": row.sha256},
        )
        return row

    def record_ca_pair(
        self, root: x509.Certificate, issuing: x509.Certificate, *, root_key_name: str | None, source: str
    ) -> None:
        """Record a root CA and the issuing CA it signed, generation 1, in one transaction."""
        with self.db.session() as s:
            root_row = self.insert(
                s,
                cert=root,
                kind="root",
                role="root",
                generation=1,
                key_name=root_key_name,
                issuer_serial=None,
                source=source,
            )
            self.insert(
                s,
                cert=issuing,
                kind="issuing",
                role="issuing",
                generation=1,
                key_name=ISSUING_KEY,
                issuer_serial=root_row.serial,
                source=source,
            )
