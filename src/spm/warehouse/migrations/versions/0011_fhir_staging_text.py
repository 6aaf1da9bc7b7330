"""FHIR staging holds text whole (issue: nothing silently lost).

The flatteners cut values to their staging column: an id longer than 64 characters was cut and two
distinct patients became one. Staging columns of received text are now TEXT; the suites reject a value
longer than its published column, by name, and quarantine keeps it whole.

Revision ID: 0011_fhir_staging_text
Revises: 0010_fhir_status_rujukan
Create Date: 2026-12-02
"""

from spm.warehouse.migration_ops import staging_to_length, staging_to_text

revision = "0011_fhir_staging_text"
down_revision = "0010_fhir_status_rujukan"
branch_labels = None
depends_on = None

# table -> {column: its former length}
COLUMNS = {
    "staging_pasien": {"pasien_id": 64, "jenis_kelamin": 8, "kode_desa": 32},
    "staging_kunjungan": {"kunjungan_id": 64, "pasien_id": 64, "status": 32, "kelas": 16, "organisasi_id": 64,
                          "kode_alasan": 32, "sistem_alasan": 128},
    "staging_observasi": {"observasi_id": 64, "pasien_id": 64, "status": 32, "kode": 32, "sistem_kode": 128,
                          "satuan": 32, "nilai_kode": 32},
    "staging_kondisi": {"kondisi_id": 64, "pasien_id": 64, "status_klinis": 32, "status_verifikasi": 32,
                        "kode": 32, "sistem_kode": 128},
}


def upgrade() -> None:
    staging_to_text(COLUMNS)


def downgrade() -> None:
    staging_to_length(COLUMNS)
