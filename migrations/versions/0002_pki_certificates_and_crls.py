"""pki: certificate inventory, revocation, CRLs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pki_certificates",
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=80), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("key_name", sa.String(length=80), nullable=True),
        sa.Column("issuer_serial", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("not_before", sa.String(length=40), nullable=False),
        sa.Column("not_after", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("cert_der", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.String(length=40), nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("invalidity_date", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_pki_certificates")),
        sa.UniqueConstraint("role", "generation", name=op.f("uq_pki_certificates_role_generation")),
        sa.UniqueConstraint("sha256", name=op.f("uq_pki_certificates_sha256")),
    )
    with op.batch_alter_table("pki_certificates", schema=None) as batch_op:
        batch_op.create_index("ix_pki_certificates_kind", ["kind"], unique=False)
        batch_op.create_index(
            "ix_pki_certificates_issuer_revoked", ["issuer_serial", "revoked_at"], unique=False
        )

    op.create_table(
        "pki_crls",
        sa.Column("issuer", sa.String(length=16), nullable=False),
        sa.Column("crl_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("issuer_serial", sa.String(length=64), nullable=False),
        sa.Column("this_update", sa.String(length=40), nullable=False),
        sa.Column("next_update", sa.String(length=40), nullable=False),
        sa.Column("revoked_count", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("crl_der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "crl_number", name=op.f("pk_pki_crls")),
    )
    op.create_table(
        "pki_crl_heads",
        sa.Column("issuer", sa.String(length=16), nullable=False),
        sa.Column("crl_number", sa.Integer(), nullable=False),
        sa.Column("touched_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("issuer", name=op.f("pk_pki_crl_heads")),
    )


def downgrade() -> None:
    op.drop_table("pki_crl_heads")
    op.drop_table("pki_crls")
    with op.batch_alter_table("pki_certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_pki_certificates_issuer_revoked")
        batch_op.drop_index("ix_pki_certificates_kind")
    op.drop_table("pki_certificates")
