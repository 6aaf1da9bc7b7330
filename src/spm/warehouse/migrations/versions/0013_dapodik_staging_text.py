"""Dapodik staging holds received text whole (issue: nothing silently lost).

The connector cut every text to its staging column: a school's name or id longer than its column was
cut and published cut. Staging columns of received text are now TEXT; the suites reject a value
longer than its published column, by name, and quarantine keeps it whole.

Revision ID: 0013_dapodik_staging_text
Revises: 0012_rows_unchanged
Create Date: 2026-12-02
"""

from spm.warehouse.migration_ops import staging_to_length, staging_to_text

revision = "0013_dapodik_staging_text"
down_revision = "0012_rows_unchanged"
branch_labels = None
depends_on = None

# table -> {column: its former length}
COLUMNS = {
    "staging_sekolah": {"sekolah_id": 64, "npsn": 32, "nama": 255, "bentuk_pendidikan": 32, "status_sekolah": 32,
                        "kode_wilayah": 32},
    "staging_peserta_didik": {"jenis_kelamin": 8, "program_kesetaraan": 32, "kode_wilayah_domisili": 32,
                              "status": 16},
}


def upgrade() -> None:
    staging_to_text(COLUMNS)


def downgrade() -> None:
    staging_to_length(COLUMNS)
