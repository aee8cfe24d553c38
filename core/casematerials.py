"""Materials a case is waiting on or reused a license for (Alembic revision ``0012``): the table
``case_materials``, one row per tracked material row of ``up_pro_material`` (issue 18).

Two kinds (README, "容缺受理 and 免提交"):

* ``deferred`` — a 容缺 material (material_state 2) accepted as missing with a supply-by date
  (补正期限). ``missing`` until a later 已补正 row (material_state 3, cd_operation U, same project_no
  and material_name, a row_guid of its own) arrives: then ``supplied`` with its date and row_guid.
  ``missed_at`` is set once, when the SLA monitor first finds the supply date passed unsupplied.
* ``license_ref`` — an e-license reused instead of the document (电子证照免提交, material_state 4):
  ``pending`` until checked, then ``verified`` (the license exists, is valid and belongs to the
  applicant; ``use_stream`` / ``use_seq`` name the use-ledger entry written for it) or ``held``
  with its ``reason`` (a rule id of :data:`contracts.rules.INTAKE_RULES`) and a detail without
  personal data.

The row is keyed by the material row's ``row_guid`` (the case number beside it), so tracking is
idempotent: a re-run finds the row and writes nothing, and a use is recorded once. Defined in
``core`` because both the flows (:mod:`pipeline.materials`, which writes it) and the data-quality
site (:mod:`quality.site`, which shows held cases) read it. No column holds citizen data.

Public API::

    CaseMaterial ; DEFERRED, LICENSE_REF
    MISSING, SUPPLIED (deferred) ; PENDING, VERIFIED, HELD (license_ref)
    blocking(session, project_nos) -> dict[project_no, list[CaseMaterial]]   # what stops issuance
    blocked_projects() -> Select                                              # the same, as a subquery
    open_holds(session, *, limit=None) -> list[CaseMaterial]                  # held and missed, oldest first
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Index, Integer, Select, String, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base

DEFERRED, LICENSE_REF = "deferred", "license_ref"
MISSING, SUPPLIED = "missing", "supplied"  # deferred
PENDING, VERIFIED, HELD = "pending", "verified", "held"  # license_ref


class CaseMaterial(Base):
    __tablename__ = "case_materials"
    __table_args__ = (
        Index("ix_case_materials_project", "project_no"),
        Index("ix_case_materials_state", "kind", "state"),
    )

    row_guid: Mapped[str] = mapped_column(String(64), primary_key=True)  # the material row
    project_no: Mapped[str] = mapped_column(String(64), nullable=False)
    material_name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)  # deferred | license_ref
    state: Mapped[str] = mapped_column(String(12), nullable=False)  # missing | supplied | verified | held
    supply_by: Mapped[str | None] = mapped_column(String(10), nullable=True)
    supplied_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    supplied_guid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    license_ref: Mapped[str | None] = mapped_column(String(120), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(60), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    use_stream: Mapped[str | None] = mapped_column(String(120), nullable=True)
    use_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    missed_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)
    updated_at: Mapped[str] = mapped_column(String(40), nullable=False)

    @property
    def blocks_issuance(self) -> bool:
        """A 容缺 material not yet supplied, or a license reference not (yet) verified."""
        return (self.kind == DEFERRED and self.state != SUPPLIED) or (
            self.kind == LICENSE_REF and self.state != VERIFIED
        )


def _blocks() -> ColumnElement[bool]:
    return or_(
        (CaseMaterial.kind == DEFERRED) & (CaseMaterial.state != SUPPLIED),
        (CaseMaterial.kind == LICENSE_REF) & (CaseMaterial.state != VERIFIED),
    )


def blocked_projects() -> Select[Any]:
    """A subquery: the case numbers a material keeps from issuance (for ``NOT IN``)."""
    return select(CaseMaterial.project_no).where(_blocks())


def blocking(session: Session, project_nos: Sequence[str]) -> dict[str, list[CaseMaterial]]:
    """The materials that keep each of ``project_nos`` from being issued (absent: nothing does)."""
    out: dict[str, list[CaseMaterial]] = {}
    nos = sorted(set(project_nos))
    for i in range(0, len(nos), 500):
        for m in session.scalars(
            select(CaseMaterial).where(CaseMaterial.project_no.in_(nos[i : i + 500]), _blocks())
        ):
            out.setdefault(m.project_no, []).append(m)
    return out


def open_holds(session: Session, *, limit: int | None = None) -> list[CaseMaterial]:
    """Held license references and missed supply dates still open, oldest first."""
    q = (
        select(CaseMaterial)
        .where(
            or_(
                (CaseMaterial.kind == LICENSE_REF) & (CaseMaterial.state == HELD),
                (CaseMaterial.kind == DEFERRED)
                & (CaseMaterial.state == MISSING)
                & CaseMaterial.missed_at.is_not(None),
            )
        )
        .order_by(CaseMaterial.created_at, CaseMaterial.row_guid)
    )
    return list(session.scalars(q.limit(limit) if limit else q))
