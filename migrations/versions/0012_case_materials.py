"""core: case materials (容缺 materials awaiting supply, e-licenses reused at intake), issue 18

The table ``case_materials`` (:mod:`core.casematerials`): one row per tracked ``up_pro_material``
row, keyed by its row_guid. No column holds citizen data.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_materials",
        sa.Column("row_guid", sa.String(length=64), nullable=False),
        sa.Column("project_no", sa.String(length=64), nullable=False),
        sa.Column("material_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("supply_by", sa.String(length=10), nullable=True),
        sa.Column("supplied_date", sa.String(length=10), nullable=True),
        sa.Column("supplied_guid", sa.String(length=64), nullable=True),
        sa.Column("license_ref", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("use_stream", sa.String(length=120), nullable=True),
        sa.Column("use_seq", sa.Integer(), nullable=True),
        sa.Column("missed_at", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("row_guid", name=op.f("pk_case_materials")),
    )
    op.create_index("ix_case_materials_project", "case_materials", ["project_no"])
    op.create_index("ix_case_materials_state", "case_materials", ["kind", "state"])


def downgrade() -> None:
    op.drop_index("ix_case_materials_state", table_name="case_materials")
    op.drop_index("ix_case_materials_project", table_name="case_materials")
    op.drop_table("case_materials")
