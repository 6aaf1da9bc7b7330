"""Health staging: the index of a resource id within its batch leads with the id (issue 16, speed).

Each health staging table had two indexes leading with `batch_id`: (batch_id, row_id) and
(batch_id, <resource id>). A statement reading a whole batch (the merge, its counts, the waiting
list, the years of the window) could use either, and SQLite took the second: it visits the rows in
the order of their random ids, one page read per row, instead of in the order they were staged.
Scanning a backfill's 631k staged observations took 0.9-1.2 s that way against 0.17 s in arrival
order, and a health window's merges after the stream went from 15-16 s to 9-10 s on SQLite
(Kota Bogor at scale 0.2). An index on (<resource id>, batch_id) answers every lookup of an id in a
batch as before and leaves a batch's scan one index to use. PostgreSQL plans whole-batch reads
with its statistics either way; the lookups by id use the new index as they used the old one.

Revision ID: 0025_fhir_staging_id_batch_index
Revises: 0024_fhir_staging_unlogged
Create Date: 2026-12-07
"""

from alembic import op

revision = "0025_fhir_staging_id_batch_index"
down_revision = "0024_fhir_staging_unlogged"
branch_labels = None
depends_on = None

ID_COLUMNS = {"staging_pasien": "pasien_id", "staging_kunjungan": "kunjungan_id",
              "staging_observasi": "observasi_id", "staging_kondisi": "kondisi_id"}


def upgrade() -> None:
    for table, id_column in ID_COLUMNS.items():
        op.drop_index(f"ix_{table}_batch_id", table_name=table)
        op.create_index(f"ix_{table}_id_batch", table, [id_column, "batch_id"])


def downgrade() -> None:
    for table, id_column in ID_COLUMNS.items():
        op.drop_index(f"ix_{table}_id_batch", table_name=table)
        op.create_index(f"ix_{table}_batch_id", table, ["batch_id", id_column])
