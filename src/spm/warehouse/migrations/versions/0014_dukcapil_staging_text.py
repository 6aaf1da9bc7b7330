"""Dukcapil staging holds received text whole (issue: nothing silently lost).

A file's `kode_desa` or `semester` longer than its staging column broke the bulk load on PostgreSQL
(the whole file refused with a database error) while SQLite kept it: staged as TEXT on both, such a
row is quarantined by the suites' value-set checks like any unknown code, and the rest loads.

Revision ID: 0014_dukcapil_staging_text
Revises: 0013_dapodik_staging_text
Create Date: 2026-12-02
"""

from spm.warehouse.migration_ops import staging_to_length, staging_to_text

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
    staging_to_text(COLUMNS)


def downgrade() -> None:
    staging_to_length(COLUMNS)
