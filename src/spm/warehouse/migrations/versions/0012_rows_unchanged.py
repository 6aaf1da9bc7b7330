"""etl_batch.rows_unchanged: received rows whose published version was already current (issue:
nothing silently lost).

Every batch now accounts for its rows when it is published: received = published + quarantined +
merged duplicates + unchanged. A FHIR merge leaves a resource whose published version is as new or
newer as it is; those rows were neither counted nor said before.

Revision ID: 0012_rows_unchanged
Revises: 0011_fhir_staging_text
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_rows_unchanged"
down_revision = "0011_fhir_staging_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("etl_batch") as batch:
        batch.add_column(sa.Column("rows_unchanged", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("etl_batch") as batch:
        batch.drop_column("rows_unchanged")
