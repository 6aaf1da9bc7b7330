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

from spm.warehouse.migration_ops import add_batch_keys, drop_batch_keys

revision = "0022_fhir_staging_no_fk"
down_revision = "0021_persetujuan"
branch_labels = None
depends_on = None

TABLES = ("staging_pasien", "staging_kunjungan", "staging_observasi", "staging_kondisi")


def upgrade() -> None:
    drop_batch_keys(TABLES)


def downgrade() -> None:
    add_batch_keys(TABLES)
