"""Health staging tables lose their foreign key to etl_batch (issue 16, speed).

The key was checked row by row on every staged FHIR row: for a year's backfill of Kota Bogor at
scale 0.2 it was a third of the PostgreSQL time of staging the observations (3.0 of 8.8 s). Only the
ingest writes these tables, always with the batch it has just opened, and it never deletes a
batch; the published fact tables keep their key to etl_batch, so lineage is still enforced where
figures are read.

Revision ID: 0022_fhir_staging_no_fk
Revises: 0021_persetujuan
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_fhir_staging_no_fk"
down_revision = "0021_persetujuan"
branch_labels = None
depends_on = None

TABLES = ("staging_pasien", "staging_kunjungan", "staging_observasi", "staging_kondisi")
# SQLite keeps foreign keys unnamed: batch mode names them by this convention to drop them.
_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        if bind.dialect.name == "sqlite":
            with op.batch_alter_table(table, naming_convention=_CONVENTION, recreate="always") as batch:
                batch.drop_constraint(f"fk_{table}_batch_id_etl_batch", type_="foreignkey")
            continue
        for fk in sa.inspect(bind).get_foreign_keys(table):
            if fk["referred_table"] == "etl_batch":
                op.drop_constraint(fk["name"], table, type_="foreignkey")


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        if bind.dialect.name == "sqlite":
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.create_foreign_key(f"fk_{table}_batch_id_etl_batch", "etl_batch", ["batch_id"], ["batch_id"])
        else:
            op.create_foreign_key(f"{table}_batch_id_fkey", table, "etl_batch", ["batch_id"], ["batch_id"])
