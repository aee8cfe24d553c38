"""pipeline: case deadlines (承诺办结日期) for the SLA monitor

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-25 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_case_deadlines",
        sa.Column("project_no", sa.String(length=64), nullable=False),
        sa.Column("task_code", sa.String(length=64), nullable=True),
        sa.Column("org_code", sa.String(length=18), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("accept_date", sa.String(length=10), nullable=True),
        sa.Column("promise_date", sa.String(length=10), nullable=False),
        sa.Column("deadline", sa.String(length=10), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("procedures", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("done_date", sa.String(length=10), nullable=True),
        sa.Column("flagged_at", sa.String(length=40), nullable=True),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("project_no", name=op.f("pk_flow_case_deadlines")),
    )
    op.create_index("ix_flow_case_deadlines_state", "flow_case_deadlines", ["state", "deadline"])


def downgrade() -> None:
    op.drop_index("ix_flow_case_deadlines_state", table_name="flow_case_deadlines")
    op.drop_table("flow_case_deadlines")
