"""case store: accepted, held and quarantined case rows, batch outcomes

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_rows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("row_guid", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("project_no", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=True),
        sa.Column("cd_operation", sa.String(length=1), nullable=True),
        sa.Column("batch_hash", sa.String(length=64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("flags", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("accepted_at", sa.String(length=40), nullable=False),
        sa.Column("state_changed_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_rows")),
        sa.UniqueConstraint("row_guid", name=op.f("uq_case_rows_row_guid")),
    )
    op.create_index("ix_case_rows_project", "case_rows", ["project_no", "table_name"])
    op.create_index("ix_case_rows_state", "case_rows", ["state", "id"])
    op.create_index("ix_case_rows_date", "case_rows", ["business_date"])
    op.create_index("ix_case_rows_batch", "case_rows", ["batch_hash"])

    op.create_table(
        "case_held",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("row_guid", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("project_no", sa.String(length=64), nullable=False),
        sa.Column("batch_hash", sa.String(length=64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("held_at", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("closed_at", sa.String(length=40), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_held")),
    )
    op.create_index("ix_case_held_open", "case_held", ["status", "project_no"])
    op.create_index("ix_case_held_guid", "case_held", ["row_guid"])
    op.create_index("ix_case_held_time", "case_held", ["status", "held_at"])

    op.create_table(
        "case_quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("batch_hash", sa.String(length=64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("byte_offset", sa.Integer(), nullable=True),
        sa.Column("row_guid", sa.String(length=200), nullable=True),
        sa.Column("table_name", sa.String(length=80), nullable=True),
        sa.Column("project_no", sa.String(length=200), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("quarantined_at", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("resubmitted_batch", sa.String(length=64), nullable=True),
        sa.Column("resubmit_result", sa.String(length=20), nullable=True),
        sa.Column("resubmitted_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_quarantine")),
    )
    op.create_index("ix_case_quarantine_batch", "case_quarantine", ["batch_hash"])
    op.create_index("ix_case_quarantine_status", "case_quarantine", ["status", "id"])
    op.create_index("ix_case_quarantine_guid", "case_quarantine", ["row_guid"])

    op.create_table(
        "case_batches",
        sa.Column("batch_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("validated_at", sa.String(length=40), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("curated", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("released", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("file_quarantined", sa.Boolean(), nullable=False),
        sa.Column("suite_version", sa.String(length=40), nullable=False),
        sa.Column("suite_hash", sa.String(length=64), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("batch_hash", name=op.f("pk_case_batches")),
    )


def downgrade() -> None:
    op.drop_table("case_batches")
    op.drop_table("case_quarantine")
    op.drop_table("case_held")
    op.drop_table("case_rows")
