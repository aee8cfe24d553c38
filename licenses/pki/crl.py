"""Revocation and CRLs: revoking a certificate (final) and issuing its issuer's next CRL in the
same transaction; issuing a CRL when it is due (half of its validity passed) or asked for; the
newest CRL of each issuer (``issuing``, ``root``). CRL issuers take turns through their head row
(``pki_crl_heads``, locked), so CRL numbers never repeat. A newly issued CRL is handed to
``on_issued`` (the PKI folder writes it for tools).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import events, ledger
from core.db import insert_ignore
from core.logging import log_event
from licenses.pki import _x509
from licenses.pki._context import PkiContext
from licenses.pki.errors import PkiError, PkiNotInitialised
from licenses.pki.models import PkiCertificate, PkiCrl, PkiCrlHead
from licenses.pki.records import (
    ISSUING_KEY,
    LEDGER_STREAM,
    ROOT_KEY,
    CertificateRecord,
    iso,
    parse_iso,
)

log = logging.getLogger("tongban.pki")

ROOT_CRL_HOURS = 24 * 30


@dataclass(frozen=True)
class CrlInfo:
    """An issued CRL (DER) and its facts."""

    issuer: str  # root | issuing
    number: int
    this_update: datetime
    next_update: datetime
    revoked_count: int
    sha256: str
    der: bytes

    @property
    def crl(self) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl(self.der)

    @property
    def pem(self) -> bytes:
        return self.crl.public_bytes(serialization.Encoding.PEM)

    def as_dict(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "number": self.number,
            "this_update": iso(self.this_update),
            "next_update": iso(self.next_update),
            "revoked": self.revoked_count,
            "sha256": self.sha256,
        }

    @classmethod
    def from_row(cls, row: PkiCrl) -> CrlInfo:
        return cls(
            issuer=row.issuer,
            number=row.crl_number,
            this_update=datetime.fromisoformat(row.this_update),
            next_update=datetime.fromisoformat(row.next_update),
            revoked_count=row.revoked_count,
            sha256=row.sha256,
            der=row.crl_der,
        )


@dataclass(frozen=True)
class RevocationResult:
    record: CertificateRecord
    crl: CrlInfo
    already_revoked: bool


class Crls:
    """Revoke certificates and issue CRLs (see the module docstring)."""

    def __init__(self, ctx: PkiContext, *, on_issued: Callable[[CrlInfo], None]) -> None:
        self.ctx = ctx
        self.on_issued = on_issued

    def can_sign(self, issuer: str) -> bool:
        """Whether the issuer's CA key is held here (so its CRL can be issued)."""
        return self.ctx.keys().has_key(_issuer_key(issuer))

    def latest(self, issuer: str) -> CrlInfo | None:
        with self.ctx.db.sessions() as s:
            row = _latest_row(s, issuer)
            return None if row is None else CrlInfo.from_row(row)

    def issue_crl(self, issuer: str = "issuing", *, only_if_due: bool = False) -> CrlInfo:
        """Issue the next CRL of ``issuer`` (``issuing`` or ``root``) and hand it to ``on_issued``."""
        if issuer not in ("issuing", "root"):
            raise PkiError(f"unknown CRL issuer {issuer!r}: use issuing or root", code="PKI_CRL_ISSUER")
        with self._locked_issuer(issuer) as (s, head):
            latest = _latest_row(s, issuer)
            if only_if_due and latest is not None and not self._due(CrlInfo.from_row(latest)):
                info = CrlInfo.from_row(latest)  # another process refreshed it meanwhile
            else:
                info = CrlInfo.from_row(self._build(s, head, issuer))
        self.on_issued(info)
        log_event(
            log,
            "pki.crl_issued",
            logging.DEBUG,
            issuer=issuer,
            number=info.number,
            revoked=info.revoked_count,
        )
        return info

    def crl(self, issuer: str = "issuing", *, refresh: bool = True) -> CrlInfo:
        """The newest CRL of ``issuer``; re-issued first when due and the issuer's key is here."""
        info = self.latest(issuer)
        if (info is None or (refresh and self._due(info))) and self.can_sign(issuer):
            return self.issue_crl(issuer, only_if_due=info is not None)
        if info is None:
            raise PkiNotInitialised(f"no CRL of {issuer!r} yet: run `tongban pki init`")
        return info

    def revoke(
        self, serial: str | int, reason: str = "unspecified", *, invalidity_date: datetime | None = None
    ) -> RevocationResult:
        """Revoke a certificate (final) and issue its issuer's next CRL in the same transaction.

        Revoking a revoked certificate changes nothing and says so (``already_revoked``).
        """
        reason = _x509.parse_reason(reason)
        record = self.ctx.inventory.find(serial)
        issuer = self._issuer_name(record)
        if not self.can_sign(issuer):
            raise PkiError(
                f"the {issuer} CA key is not held here, so its CRL cannot be issued",
                code="PKI_NO_CA_KEY",
            )
        already = False
        with self._locked_issuer(issuer) as (s, head):
            row = s.get(PkiCertificate, record.serial, populate_existing=True)
            assert row is not None
            if row.revoked_at is not None:
                already = True
                latest = _latest_row(s, issuer)
                crl_row = latest if latest is not None else self._build(s, head, issuer)
            else:
                now = self.ctx.now().replace(microsecond=0)
                row.revoked_at = iso(now)
                row.revocation_reason = reason
                row.invalidity_date = iso(invalidity_date) if invalidity_date else None
                s.flush()
                crl_row = self._build(s, head, issuer)
                payload = {
                    "serial": row.serial,
                    "role": row.role,
                    "reason": reason,
                    "crl_number": crl_row.crl_number,
                }
                ledger.append(s, LEDGER_STREAM, "certificate.revoked", payload)
                events.record_event(s, "pki.certificate_revoked", "certificate", row.serial, payload)
            result = RevocationResult(CertificateRecord.from_row(row), CrlInfo.from_row(crl_row), already)
        self.on_issued(result.crl)
        if not already:
            log_event(log, "pki.certificate_revoked", serial=record.serial, role=record.role, reason=reason)
        return result

    def _issuer_name(self, record: CertificateRecord) -> str:
        if record.kind == "root":
            raise PkiError(
                "a root CA cannot be revoked by a CRL: remove it from every trust store instead",
                code="PKI_ROOT_NOT_REVOCABLE",
            )
        root = self.ctx.inventory.require("root")
        return "root" if record.issuer_serial == root.serial else "issuing"

    def _due(self, info: CrlInfo) -> bool:
        """Re-issue once half of the validity has passed (well before nextUpdate)."""
        return self.ctx.now() >= info.this_update + (info.next_update - info.this_update) / 2

    def _validity(self, issuer: str) -> timedelta:
        return timedelta(
            hours=ROOT_CRL_HOURS if issuer == "root" else self.ctx.settings.pki.crl_validity_hours
        )

    @contextmanager
    def _locked_issuer(self, issuer: str) -> Iterator[tuple[Session, PkiCrlHead]]:
        """A transaction holding the issuer's head row: CRL issuers run one at a time."""
        with self.ctx.db.session() as s:
            values = {"issuer": issuer, "crl_number": 0, "touched_at": iso(self.ctx.now())}
            insert_ignore(s, PkiCrlHead, [values], ("issuer",))
            head = s.execute(
                select(PkiCrlHead)
                .where(PkiCrlHead.issuer == issuer)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalar_one()
            yield s, head

    def _build(self, s: Session, head: PkiCrlHead, issuer: str) -> PkiCrl:
        row = self.ctx.inventory.current_row(s, issuer)
        if row is None:
            raise PkiNotInitialised("the PKI has no CA yet: run `tongban pki init`")
        ca = CertificateRecord.from_row(row)
        rows = s.scalars(
            select(PkiCertificate)
            .where(PkiCertificate.issuer_serial == ca.serial, PkiCertificate.revoked_at.is_not(None))
            .order_by(PkiCertificate.revoked_at, PkiCertificate.serial)
        ).all()
        now = self.ctx.now().replace(microsecond=0)
        number = head.crl_number + 1
        builder = _x509.crl_builder(
            ca.certificate,
            number=number,
            this_update=now,
            next_update=now + self._validity(issuer),
            revoked=[
                (
                    int(r.serial, 16),
                    datetime.fromisoformat(r.revoked_at or ""),
                    r.revocation_reason or "unspecified",
                    parse_iso(r.invalidity_date),
                )
                for r in rows
            ],
        )
        crl = _x509.sign_crl(
            builder, self.ctx.keys().signer(_issuer_key(issuer)), _x509.ec_public_key(ca.certificate)
        )
        der = crl.public_bytes(serialization.Encoding.DER)
        crl_row = PkiCrl(
            issuer=issuer,
            crl_number=number,
            issuer_serial=ca.serial,
            this_update=iso(now),
            next_update=iso(now + self._validity(issuer)),
            revoked_count=len(rows),
            sha256=hashlib.sha256(der).hexdigest(),
            crl_der=der,
        )
        s.add(crl_row)
        head.crl_number = number
        head.touched_at = iso(now)
        s.flush()
        return crl_row


def _issuer_key(issuer: str) -> str:
    return ROOT_KEY if issuer == "root" else ISSUING_KEY


def _latest_row(s: Session, issuer: str) -> PkiCrl | None:
    return s.scalars(
        select(PkiCrl).where(PkiCrl.issuer == issuer).order_by(PkiCrl.crl_number.desc()).limit(1)
    ).first()
