"""Health staging tables: unlogged on PostgreSQL, and without their (kode_kab_kota, periode) index
(issue 16, speed).

Staging holds a window's rows only while the window loads: the published tables, quarantine and
dq_result are what lasts. Writing every staged row and its index entries to the write-ahead log
was a fifth of PostgreSQL's time of staging them (3.9 -> 3.2 s for a backfill's 631k observations,
Kota Bogor at scale 0.2, measured with INSERT ... SELECT into copies of the table). What unlogged
costs: after a server crash the staged rows are gone (a window in flight then fails and is loaded
again by its retry, as after any crash), and a streaming replica does not hold them (nothing reads
staging there).

No health query selects staged rows by kab/kota and period (a batch's rows are found by its batch
id, the other two indexes); keeping that index up to date cost half a second of the same load.

Revision ID: 0024_fhir_staging_unlogged
Revises: 0023_fhir_fact_no_fk
Create Date: 2026-12-07
"""

from alembic import op

revision = "0024_fhir_staging_unlogged"
down_revision = "0023_fhir_fact_no_fk"
branch_labels = None
depends_on = None

TABLES = ("staging_pasien", "staging_kunjungan", "staging_observasi", "staging_kondisi")


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_partition", table_name=table)
        if _postgresql():
            op.execute(f"ALTER TABLE {table} SET UNLOGGED")


def downgrade() -> None:
    for table in TABLES:
        if _postgresql():
            op.execute(f"ALTER TABLE {table} SET LOGGED")
        op.create_index(f"ix_{table}_partition", table, ["kode_kab_kota", "periode"])
