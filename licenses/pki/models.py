"""PKI tables: the certificate inventory with revocation state, issued CRLs, and one head row per CRL issuer.

- ``pki_certificates``: every certificate the PKI issued or imported, with its role
  (``root``, ``issuing``, ``tsa``, ``platform``, ``seal:<department>``), generation (a rotation
  makes the next one), status (``active`` / ``superseded``) and revocation (time, reason,
  invalidity date). Revocation is final.
- ``pki_crls``: every CRL issued, per issuer (``root`` or ``issuing``), numbered.
- ``pki_crl_heads``: one row per issuer; every CRL issuance (and so every revocation) updates it
  first, which serializes issuers across processes on SQLite and PostgreSQL alike, so CRL numbers
  increase strictly and the newest CRL lists every revocation committed before it.

Times are ISO 8601 UTC strings (as in ``core``).
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class PkiCertificate(Base):
    __tablename__ = "pki_certificates"
    __table_args__ = (
        UniqueConstraint("role", "generation"),
        Index("ix_pki_certificates_kind", "kind"),
        Index("ix_pki_certificates_issuer_revoked", "issuer_serial", "revoked_at"),
    )

    serial: Mapped[str] = mapped_column(String(64), primary_key=True)  # uppercase hex, no leading zeros
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # root|issuing|tsa|platform|seal
    role: Mapped[str] = mapped_column(String(80), nullable=False)  # kind, or seal:<department code>
    department: Mapped[str | None] = mapped_column(String(40), nullable=True)
    generation: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    key_name: Mapped[str | None] = mapped_column(String(80), nullable=True)  # None: no key held here
    issuer_serial: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: self-signed
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    not_before: Mapped[str] = mapped_column(String(40), nullable=False)
    not_after: Mapped[str] = mapped_column(String(40), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    cert_der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # generated|sample|imported
    issued_at: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")  # active|superseded
    revoked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    invalidity_date: Mapped[str | None] = mapped_column(String(40), nullable=True)


class PkiCrl(Base):
    __tablename__ = "pki_crls"

    issuer: Mapped[str] = mapped_column(String(16), primary_key=True)  # root|issuing
    crl_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    issuer_serial: Mapped[str] = mapped_column(String(64), nullable=False)
    this_update: Mapped[str] = mapped_column(String(40), nullable=False)
    next_update: Mapped[str] = mapped_column(String(40), nullable=False)
    revoked_count: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    crl_der: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class PkiCrlHead(Base):
    __tablename__ = "pki_crl_heads"

    issuer: Mapped[str] = mapped_column(String(16), primary_key=True)
    crl_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    touched_at: Mapped[str] = mapped_column(String(40), nullable=False)
