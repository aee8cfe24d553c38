"""pipeline: joint cases (联办件) and their members

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_joint_cases",
        sa.Column("joint_no", sa.String(length=50), nullable=False),
        sa.Column("theme_code", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("accept_date", sa.String(length=10), nullable=False),
        sa.Column("promise_date", sa.String(length=10), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("joint_days", sa.Integer(), nullable=False),
        sa.Column("sequential_days", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("done_date", sa.String(length=10), nullable=True),
        sa.Column("flagged_at", sa.String(length=40), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("result_at", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("joint_no", name=op.f("pk_flow_joint_cases")),
    )
    op.create_index("ix_flow_joint_cases_state", "flow_joint_cases", ["state", "promise_date"])
    op.create_table(
        "flow_joint_members",
        sa.Column("project_no", sa.String(length=64), nullable=False),
        sa.Column("joint_no", sa.String(length=50), nullable=False),
        sa.Column("task_code", sa.String(length=64), nullable=False),
        sa.Column("start_date", sa.String(length=10), nullable=False),
        sa.Column("promise_date", sa.String(length=10), nullable=False),
        sa.Column("result_type", sa.String(length=1), nullable=True),
        sa.Column("result_date", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("project_no", name=op.f("pk_flow_joint_members")),
    )
    op.create_index("ix_flow_joint_members_joint", "flow_joint_members", ["joint_no"])


def downgrade() -> None:
    op.drop_index("ix_flow_joint_members_joint", table_name="flow_joint_members")
    op.drop_table("flow_joint_members")
    op.drop_index("ix_flow_joint_cases_state", table_name="flow_joint_cases")
    op.drop_table("flow_joint_cases")
