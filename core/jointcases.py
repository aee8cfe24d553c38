"""The joint-case tables (联办件, revision ``0011``): written by ``pipeline.joint``, read by the
pipeline, the CLI and the gateway's ``/v1/joint-cases`` route (so they live below both).

- ``flow_joint_cases``   one row per joint case (``up_pro_accept.joint_no``): its theme (一件事),
                         acceptance, joint promise date (longest path through the members,
                         :mod:`contracts.joint`), state — ``open`` / ``overdue`` (a member has no
                         result yet; its licenses are held), ``granted``, ``refused`` (``reason``
                         names the member) — and ``result``, the one result record the holder gets
                         (every member's result and license), written when the licenses are issued.
- ``flow_joint_members`` one row per member case: its joint case, item, planned window, result.

No personal data in either: the holder is read from the members' sealed accept rows when shown.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

OPEN, OVERDUE, GRANTED, REFUSED = "open", "overdue", "granted", "refused"


class JointCase(Base):
    __tablename__ = "flow_joint_cases"
    __table_args__ = (Index("ix_flow_joint_cases_state", "state", "promise_date"),)

    joint_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    theme_code: Mapped[str] = mapped_column(String(32), nullable=False)
    region_code: Mapped[str] = mapped_column(String(6), nullable=False)
    accept_date: Mapped[str] = mapped_column(String(10), nullable=False)
    promise_date: Mapped[str] = mapped_column(String(10), nullable=False)  # the joint promise date
    provisional: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    members: Mapped[int] = mapped_column(Integer, nullable=False)  # how many the theme has
    joint_days: Mapped[int] = mapped_column(Integer, nullable=False)  # longest path, working days
    sequential_days: Mapped[int] = mapped_column(Integer, nullable=False)  # one after another
    state: Mapped[str] = mapped_column(String(12), nullable=False, default=OPEN)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)  # why it was refused
    done_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    flagged_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # the joint result record (JSON)
    result_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[str] = mapped_column(String(40), nullable=False)


class JointMember(Base):
    __tablename__ = "flow_joint_members"
    __table_args__ = (Index("ix_flow_joint_members_joint", "joint_no"),)

    project_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    joint_no: Mapped[str] = mapped_column(String(50), nullable=False)
    task_code: Mapped[str] = mapped_column(String(64), nullable=False)
    start_date: Mapped[str] = mapped_column(String(10), nullable=False)
    promise_date: Mapped[str] = mapped_column(String(10), nullable=False)
    result_type: Mapped[str | None] = mapped_column(String(1), nullable=True)
    result_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
