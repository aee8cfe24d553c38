"""pipeline flows: raw batches, department approvals and status changes, case → license state

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_raw_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_hash", sa.String(length=64), nullable=False),
        sa.Column("peer", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("object_key", sa.String(length=200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("first_inbound_id", sa.Integer(), nullable=False),
        sa.Column("last_inbound_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_raw_batches")),
        sa.UniqueConstraint("batch_hash", name=op.f("uq_flow_raw_batches_batch_hash")),
        sa.UniqueConstraint(
            "peer", "first_inbound_id", name=op.f("uq_flow_raw_batches_peer_first_inbound_id")
        ),
    )
    op.create_index("ix_flow_raw_batches_peer", "flow_raw_batches", ["peer", "last_inbound_id"])
    op.create_table(
        "flow_approvals",
        sa.Column("approval_id", sa.String(length=64), nullable=False),
        sa.Column("peer", sa.String(length=80), nullable=False),
        sa.Column("project_no", sa.String(length=64), nullable=False),
        sa.Column("task_code", sa.String(length=64), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("approval_id", name=op.f("pk_flow_approvals")),
    )
    op.create_index("ix_flow_approvals_case", "flow_approvals", ["project_no", "type_code"])
    op.create_table(
        "flow_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("change_id", sa.String(length=64), nullable=False),
        sa.Column("peer", sa.String(length=80), nullable=False),
        sa.Column("type_code", sa.String(length=64), nullable=False),
        sa.Column("license_no", sa.String(length=100), nullable=False),
        sa.Column("project_no", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("changed_at", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("license_id", sa.String(length=120), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("received_at", sa.String(length=40), nullable=False),
        sa.Column("settled_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_status_changes")),
        sa.UniqueConstraint("change_id", name=op.f("uq_flow_status_changes_change_id")),
    )
    op.create_index("ix_flow_status_changes_state", "flow_status_changes", ["state", "id"])
    op.create_table(
        "flow_case_licenses",
        sa.Column("project_no", sa.String(length=64), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("task_code", sa.String(length=64), nullable=False),
        sa.Column("license_no", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("since", sa.String(length=40), nullable=False),
        sa.Column("flagged_at", sa.String(length=40), nullable=True),
        sa.Column("license_id", sa.String(length=120), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("project_no", "type_code", name=op.f("pk_flow_case_licenses")),
    )
    op.create_index("ix_flow_case_licenses_state", "flow_case_licenses", ["state", "since"])
    op.create_index("ix_flow_case_licenses_no", "flow_case_licenses", ["type_code", "license_no"])


def downgrade() -> None:
    op.drop_index("ix_flow_case_licenses_no", table_name="flow_case_licenses")
    op.drop_index("ix_flow_case_licenses_state", table_name="flow_case_licenses")
    op.drop_table("flow_case_licenses")
    op.drop_index("ix_flow_status_changes_state", table_name="flow_status_changes")
    op.drop_table("flow_status_changes")
    op.drop_index("ix_flow_approvals_case", table_name="flow_approvals")
    op.drop_table("flow_approvals")
    op.drop_index("ix_flow_raw_batches_peer", table_name="flow_raw_batches")
    op.drop_table("flow_raw_batches")
