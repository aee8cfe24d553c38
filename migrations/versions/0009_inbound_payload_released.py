"""connectors: a landed row's payload is released once a raw batch holds it

``connector_inbound.payload`` becomes nullable: the ingest flow sets it to NULL in the same
transaction that records the raw batch covering the row (the raw object is then the one copy).
Rows that earlier versions already cut into raw batches are released here.

Revision ID: 0009
Revises: 0004, 0007
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
# both parents: connector_inbound (0004) and flow_raw_batches (0007), which says which landed rows a
# raw batch holds. A merge, not ``depends_on``: with that, Alembic would drop 0007 from the version
# table and a current database would no longer equal the heads.
down_revision = ("0004", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connector_inbound", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=True)
    op.execute(
        "UPDATE connector_inbound SET payload = NULL WHERE EXISTS ("
        "SELECT 1 FROM flow_raw_batches b WHERE b.peer = connector_inbound.peer "
        "AND connector_inbound.id BETWEEN b.first_inbound_id AND b.last_inbound_id)"
    )


def downgrade() -> None:
    # a released payload is gone (its raw object keeps the row); keep the column valid
    op.execute("UPDATE connector_inbound SET payload = '' WHERE payload IS NULL")
    with op.batch_alter_table("connector_inbound", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=False)
