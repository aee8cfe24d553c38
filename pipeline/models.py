"""Tables of the pipeline flows (Alembic revision ``0007``, branching from ``0001``).

The state the DAG tasks find their input through (ARCHITECTURE.md, rule 1):

- ``flow_raw_batches``   one row per raw batch cut from a county's pulled rows: the object-store
                         key, its SHA-256 (the quality gate's batch identity) and the inbound-row id
                         range it covers. ``case_quality`` validates the batches with no
                         ``case_batches`` record yet, oldest first.
- ``flow_approvals``     department approval data (审批结果数据) that passed the gate, one per
                         ``approval_id``; the input of ``license_issue``.
- ``flow_status_changes`` status changes sent by departments, one per ``change_id``: ``pending``
                         (its license is not issued yet), ``applied`` or ``quarantined`` (reason).
- ``flow_case_licenses`` one row per finished case whose service item ends in a license:
                         ``awaiting`` approval data (with the time it started waiting and when it was
                         flagged), ``issued`` (license id) or ``failed`` (last error).
- ``flow_case_deadlines`` (revision ``0008``) one row per accepted case: its promised completion
                         date (承诺办结日期), the deadline after special procedures stopped the clock,
                         and where it stands — ``open``, ``overdue`` (past the deadline with no
                         result; flagged once), ``done`` or ``done_late`` (by the result's date).
- ``flow_joint_cases``, ``flow_joint_members`` (revision ``0011``): joint cases (联办件) and their
                         members, declared in :mod:`core.jointcases` (the gateway reads them too).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.sealing import unseal_on_load

AWAITING, ISSUED, FAILED = "awaiting", "issued", "failed"
OPEN, OVERDUE, DONE, DONE_LATE = "open", "overdue", "done", "done_late"
PENDING, APPLIED, QUARANTINED = "pending", "applied", "quarantined"


class RawBatch(Base):
    __tablename__ = "flow_raw_batches"
    __table_args__ = (
        UniqueConstraint("peer", "first_inbound_id"),
        Index("ix_flow_raw_batches_peer", "peer", "last_inbound_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    peer: Mapped[str] = mapped_column(String(80), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    object_key: Mapped[str] = mapped_column(String(200), nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    first_inbound_id: Mapped[int] = mapped_column(Integer, nullable=False)
    last_inbound_id: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[str] = mapped_column(String(40), nullable=False)


class Approval(Base):
    __tablename__ = "flow_approvals"
    __table_args__ = (Index("ix_flow_approvals_case", "project_no", "type_code"),)

    approval_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer: Mapped[str] = mapped_column(String(80), nullable=False)
    project_no: Mapped[str] = mapped_column(String(64), nullable=False)
    task_code: Mapped[str] = mapped_column(String(64), nullable=False)
    type_code: Mapped[str] = mapped_column(String(21), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # the approval as JSON
    received_at: Mapped[str] = mapped_column(String(40), nullable=False)


unseal_on_load(Approval)  # the approval names the holder: sealed at rest


class StatusChange(Base):
    __tablename__ = "flow_status_changes"
    __table_args__ = (Index("ix_flow_status_changes_state", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    change_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    peer: Mapped[str] = mapped_column(String(80), nullable=False)
    type_code: Mapped[str] = mapped_column(String(64), nullable=False)
    license_no: Mapped[str] = mapped_column(String(100), nullable=False)
    project_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    changed_at: Mapped[str] = mapped_column(String(40), nullable=False)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default=PENDING)
    license_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[str] = mapped_column(String(40), nullable=False)
    settled_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class CaseLicense(Base):
    __tablename__ = "flow_case_licenses"
    __table_args__ = (
        Index("ix_flow_case_licenses_state", "state", "since"),
        Index("ix_flow_case_licenses_no", "type_code", "license_no"),
    )

    project_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(21), primary_key=True)
    task_code: Mapped[str] = mapped_column(String(64), nullable=False)
    license_no: Mapped[str | None] = mapped_column(String(100), nullable=True)  # ZZBH from the result row
    state: Mapped[str] = mapped_column(String(12), nullable=False, default=AWAITING)
    since: Mapped[str] = mapped_column(String(40), nullable=False)  # finished case first seen (UTC ISO)
    flagged_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    license_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[str] = mapped_column(String(40), nullable=False)


class CaseDeadline(Base):
    __tablename__ = "flow_case_deadlines"
    __table_args__ = (Index("ix_flow_case_deadlines_state", "state", "deadline"),)

    project_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    org_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    region_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    accept_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    promise_date: Mapped[str] = mapped_column(String(10), nullable=False)
    deadline: Mapped[str] = mapped_column(String(10), nullable=False)  # promise_date + special procedures
    provisional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # unknown year
    procedures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    state: Mapped[str] = mapped_column(String(12), nullable=False, default=OPEN)
    done_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    flagged_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[str] = mapped_column(String(40), nullable=False)
