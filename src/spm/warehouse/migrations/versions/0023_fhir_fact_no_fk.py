"""Health fact tables check their batch once per merge instead of once per row (issue 16, speed).

The foreign key to etl_batch fired a trigger for every merged row: 2.7 s of the 12 s PostgreSQL
spent inserting a backfill's 631k observations (Kota Bogor, scale 0.2), on the critical path of the
window's publication. The merge is the only writer of these tables, and it copies the batch id of
the batch it is publishing: publish_guard reads that batch's etl_batch row in the same transaction
(and close_published closes it there), so a row can only ever name a batch that exists. No code
deletes etl_batch rows. The other published tables keep their keys.

Revision ID: 0023_fhir_fact_no_fk
Revises: 0022_fhir_staging_no_fk
Create Date: 2026-12-07
"""

from spm.warehouse.migration_ops import add_batch_keys, drop_batch_keys

revision = "0023_fhir_fact_no_fk"
down_revision = "0022_fhir_staging_no_fk"
branch_labels = None
depends_on = None

TABLES = ("fact_pasien", "fact_kunjungan", "fact_observasi", "fact_kondisi")


def upgrade() -> None:
    drop_batch_keys(TABLES)


def downgrade() -> None:
    add_batch_keys(TABLES)
