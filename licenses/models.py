"""The license registry's tables (Alembic revision 0005, branching from 0001).

license_serials         per (type, issuer, year) counter: serials come from an atomic
                        ``UPDATE … SET last_value = last_value + n RETURNING last_value`` (row lock)
license_intents         an identifier allocated for an idempotency key, before the file exists:
                        allocated → registered (or void when found orphaned)
licenses                one row per license instance (version): metadata, holder, status, the
                        verification code (核验码), the SHA-256 of the certified revision, the
                        current object key, lineage to the previous version, uniqueness hash
                        (keyed: a blind index over the SHA-256 of the type's key values)
license_holders         every holder (持证主体) of an instance, for lookup by holder code
license_files           every stored file of an instance (the first, later LT revisions)
license_status_history  every status change: operation 01–10, from/to, reason, actor, time
license_orphans         stored files that no registered license owns (recorded void)

The uniqueness of a type's key is a **partial unique index** over (type_code, uniqueness_hash)
where the status is live (01 有效, 02 暂扣, 06 办理转出): two live instances of one key cannot both
commit, whatever the number of issuers.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.sealing import unseal_on_load

LIVE_STATUSES = ("01", "02", "06")
_LIVE_SQL = "status IN ('01', '02', '06')"


class LicenseSerial(Base):
    __tablename__ = "license_serials"

    type_code: Mapped[str] = mapped_column(String(21), primary_key=True)
    issuer_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class LicenseIntent(Base):
    __tablename__ = "license_intents"
    __table_args__ = (Index("ix_license_intents_state", "state"),)

    license_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    type_code: Mapped[str] = mapped_column(String(21), nullable=False)
    issuer_code: Mapped[str] = mapped_column(String(18), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False)  # allocated | registered | void
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)


class LicenseRecord(Base):
    __tablename__ = "licenses"
    __table_args__ = (
        Index("ix_licenses_type_status", "type_code", "status"),
        Index("ix_licenses_holder_bidx", "holder_bidx", "holder_code_type"),
        Index("ix_licenses_valid_until", "valid_until"),
        Index(
            "uq_licenses_live_uniqueness",
            "type_code",
            "uniqueness_hash",
            unique=True,
            postgresql_where=text(_LIVE_SQL),
            sqlite_where=text(_LIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_id: Mapped[str] = mapped_column(String(120), unique=True, nullable=False)  # ZZBS
    type_code: Mapped[str] = mapped_column(String(21), nullable=False)
    type_name: Mapped[str] = mapped_column(String(100), nullable=False)  # ZZMC
    issuer_code: Mapped[str] = mapped_column(String(18), nullable=False)  # ZZBFJGDM
    issuer_name: Mapped[str] = mapped_column(String(200), nullable=False)  # ZZBFJG
    serial: Mapped[str] = mapped_column(String(10), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    license_no: Mapped[str] = mapped_column(String(100), nullable=False)  # ZZBH
    holder_name: Mapped[str] = mapped_column(Text, nullable=False)  # CZZT (first holder), sealed
    holder_code: Mapped[str] = mapped_column(Text, nullable=False)  # CZZTDM, sealed
    holder_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)  # blind index of CZZTDM
    holder_code_type: Mapped[str] = mapped_column(String(3), nullable=False)  # CZZTDMLX
    issue_date: Mapped[str] = mapped_column(String(10), nullable=False)  # ZZBFRQ
    valid_from: Mapped[str] = mapped_column(String(10), nullable=False)
    valid_until: Mapped[str | None] = mapped_column(String(10), nullable=True)
    status: Mapped[str] = mapped_column(String(2), nullable=False)  # ZZZT
    status_changed_at: Mapped[str] = mapped_column(String(40), nullable=False)
    verify_code: Mapped[str] = mapped_column(String(16), nullable=False)  # 核验码
    certified_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    object_key: Mapped[str] = mapped_column(String(64), nullable=False)  # current file
    profile: Mapped[str] = mapped_column(String(8), nullable=False)
    metadata_json: Mapped[str] = mapped_column(Text, nullable=False)
    uniqueness_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    previous_license_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lineage: Mapped[str | None] = mapped_column(String(10), nullable=True)  # change | renew
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)


class LicenseHolderRow(Base):
    __tablename__ = "license_holders"
    __table_args__ = (
        UniqueConstraint("license_pk", "position"),
        Index("ix_license_holders_code_bidx", "code_bidx", "code_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_pk: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)  # sealed
    code: Mapped[str] = mapped_column(Text, nullable=False)  # sealed
    code_bidx: Mapped[str | None] = mapped_column(String(64), nullable=True)  # blind index of code
    code_type: Mapped[str] = mapped_column(String(3), nullable=False)


# holder names and codes and the metadata are sealed at rest (core.sealing); loaded rows show them
# opened; holder look-ups compare the blind indexes
unseal_on_load(LicenseRecord)
unseal_on_load(LicenseHolderRow)


class LicenseFile(Base):
    __tablename__ = "license_files"
    __table_args__ = (Index("ix_license_files_license", "license_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_pk: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False)
    object_key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # issued | lt-update
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    profile: Mapped[str] = mapped_column(String(8), nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)


class LicenseStatusChange(Base):
    __tablename__ = "license_status_history"
    __table_args__ = (Index("ix_license_status_history_license", "license_pk", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    license_pk: Mapped[int] = mapped_column(ForeignKey("licenses.id", ondelete="CASCADE"), nullable=False)
    operation: Mapped[str] = mapped_column(String(2), nullable=False)  # 01–10
    from_status: Mapped[str | None] = mapped_column(String(2), nullable=True)
    to_status: Mapped[str] = mapped_column(String(2), nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    actor: Mapped[str] = mapped_column(String(120), nullable=False)
    at: Mapped[str] = mapped_column(String(40), nullable=False)


class LicenseOrphan(Base):
    __tablename__ = "license_orphans"

    object_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    license_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    found_at: Mapped[str] = mapped_column(String(40), nullable=False)
    disposition: Mapped[str] = mapped_column(String(20), nullable=False)  # void-kept | void-deleted
    note: Mapped[str] = mapped_column(String(500), nullable=False)
