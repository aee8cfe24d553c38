"""core: citizen data sealed at rest (field-level encryption) with blind indexes

Adds the blind-index columns ``licenses.holder_bidx`` and ``license_holders.code_bidx`` (holder
look-ups compare them; the indexes on the sealed codes go), widens the holder columns to text (a
token is longer than a code), then seals every plaintext value of the columns in
``core.sealing.SEALED`` in batches, with progress, each batch committed on its own: interrupted,
the next ``upgrade`` goes on where it stopped (sealed values are skipped). A license whose holder
is sealed here gets its ``uniqueness_hash`` keyed too (the blind index of the old SHA-256), in the
same row update, so the two never disagree.

The keys are the key store's (``config.attributes["crypt"]``, which ``migrations.runner.upgrade``
passes; else the settings of the environment, opened only when there is a row to seal).

Revision ID: 0010
Revises: 0003, 0005, 0009
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
# a merge revision of every revision whose tables it seals: the case store (0003), the license
# registry (0005), and connector_inbound.payload as 0009 left it (0009 merges the outbox 0004 and
# the flow tables 0007). Not ``depends_on``: Alembic then drops the depended-on revisions from
# ``alembic_version``, which no longer equals the set of heads (``tongban doctor``: DB_OUTDATED).
down_revision = ("0003", "0005", "0009")
branch_labels = None
depends_on = None

log = logging.getLogger("tongban.migrations")


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _indexes(table: str) -> set[str]:
    return {i["name"] or "" for i in sa.inspect(op.get_bind()).get_indexes(table)}


def _schema() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for table, bidx, kind, old_ix, new_ix, widen in (
        (
            "licenses",
            "holder_bidx",
            "holder_code_type",
            "ix_licenses_holder",
            "ix_licenses_holder_bidx",
            ("holder_name", "holder_code"),
        ),
        (
            "license_holders",
            "code_bidx",
            "code_type",
            "ix_license_holders_code",
            "ix_license_holders_code_bidx",
            ("name", "code"),
        ),
    ):
        if bidx not in _columns(table):
            op.add_column(table, sa.Column(bidx, sa.String(64), nullable=True))
        if old_ix in _indexes(table):
            op.drop_index(old_ix, table_name=table)
        if new_ix not in _indexes(table):
            op.create_index(new_ix, table, [bidx, kind])
        if pg:  # SQLite does not enforce VARCHAR lengths
            for col in widen:
                op.alter_column(table, col, type_=sa.Text(), existing_nullable=False)


def _progress(label: str, done: int, total: int) -> None:
    if total:
        line = f"0010 sealing {label}: {done}/{total}"
        log.info(line)
        sys.stderr.write(line + "\n")


def upgrade() -> None:
    from core.fieldcrypt import FieldCrypt
    from core.sealing import UNIQUENESS_KIND, seal_existing

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete=ON")  # the plaintext a row update replaces is zeroed
    _schema()
    cfg = op.get_context().config
    attrs: dict[str, Any] = cfg.attributes if cfg is not None else {}
    crypt: FieldCrypt | None = attrs.get("crypt")

    class _Lazy(FieldCrypt):
        """The environment's keys, opened on first use (a database with nothing to seal needs none)."""

        def __init__(self) -> None:
            def ring() -> Any:
                from core.runtime import fieldcrypt
                from core.settings import load_settings

                return fieldcrypt(load_settings()).keyring

            super().__init__(ring)

    use = crypt or _Lazy()

    def derive(table: str, row: Mapping[str, Any], _plain: Mapping[str, Any]) -> dict[str, Any]:
        # the uniqueness hash turns keyed in the update that seals the holder (pre-0010 rows only)
        if table == "licenses" and not str(row["holder_code"]).startswith("enc1."):
            return {"uniqueness_hash": use.blind(str(row["uniqueness_hash"]), kind=UNIQUENESS_KIND)}
        return {}

    batch = int(attrs.get("seal_batch", 500))
    # autocommit_block commits what ran so far (the schema step above and the revisions before
    # this one) and leaves the migration's connection in autocommit, holding no lock. The data step
    # then runs on a connection of its own, each batch one real transaction (its selects and its
    # row updates): on the migration's autocommit connection every UPDATE would be its own
    # transaction, and ending its placeholder transaction makes the block's exit fail. Interrupted,
    # the committed batches stay, alembic_version still lacks 0010, and the next upgrade runs this
    # again: the schema step finds its columns, the data step only what is still in clear.
    with op.get_context().autocommit_block(), op.get_bind().engine.connect() as conn:
        seal_existing(
            conn,
            use,
            batch=batch,
            progress=attrs.get("progress", _progress),
            derive=derive,
            extra_columns={"licenses": ("uniqueness_hash",)},
        )
        if conn.dialect.name == "sqlite":
            # no frame with an earlier page version (a plaintext value) stays in the -wal file
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.commit()


def downgrade() -> None:
    # sealed values stay sealed (opening them needs the key store, which a schema downgrade does
    # not have); the blind-index columns and their indexes go, the old indexes come back
    for table, bidx, old_ix, new_ix, cols in (
        (
            "licenses",
            "holder_bidx",
            "ix_licenses_holder",
            "ix_licenses_holder_bidx",
            ["holder_code", "holder_code_type"],
        ),
        (
            "license_holders",
            "code_bidx",
            "ix_license_holders_code",
            "ix_license_holders_code_bidx",
            ["code", "code_type"],
        ),
    ):
        if new_ix in _indexes(table):
            op.drop_index(new_ix, table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column(bidx)
        op.create_index(old_ix, table, cols)
