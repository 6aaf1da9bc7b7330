"""Dukcapil staging holds received text whole (issue: nothing silently lost).

A file's `kode_desa` or `semester` longer than its staging column broke the bulk load on PostgreSQL
(the whole file refused with a database error) while SQLite kept it: staged as TEXT on both, such a
row is quarantined by the suites' value-set checks like any unknown code, and the rest loads.

Revision ID: 0014_dukcapil_staging_text
Revises: 0013_dapodik_staging_text
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_dukcapil_staging_text"
down_revision = "0013_dapodik_staging_text"
branch_labels = None
depends_on = None

# table -> {column: its former length}
COLUMNS = {
    "staging_penduduk": {"semester": 16, "kode_desa": 13, "jenis_kelamin": 8},
    "staging_kelahiran": {"kode_desa": 13, "jenis_kelamin": 8},
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column, length in columns.items():
                batch.alter_column(column, type_=sa.Text, existing_type=sa.String(length), existing_nullable=True)


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        op.execute(sa.text(f"DELETE FROM {table}"))  # staging only serves the batch in flight
        with op.batch_alter_table(table) as batch:
            for column, length in columns.items():
                batch.alter_column(column, type_=sa.String(length), existing_type=sa.Text, existing_nullable=True)
