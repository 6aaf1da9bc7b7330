"""Education (Dapodik): staging and published tables for schools and learners.

Learners are pseudonymised at ingest: `person_key` (HMAC of the NIK, else of the NISN or the Dapodik
id, namespaced) replaces every identifier; NIK, NISN, names and the full birth date are never stored.

Revision ID: 0003_pendidikan
Revises: 0002_kependudukan
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_pendidikan"
down_revision = "0002_kependudukan"
branch_labels = None
depends_on = None


def _batch_fk():
    return sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "staging_sekolah",
        _batch_fk(),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("sekolah_id", sa.String(64), nullable=True),
        sa.Column("npsn", sa.String(32), nullable=True),
        sa.Column("nama", sa.String(255), nullable=True),
        sa.Column("bentuk_pendidikan", sa.String(32), nullable=True),
        sa.Column("status_sekolah", sa.String(32), nullable=True),
        sa.Column("kode_wilayah", sa.String(32), nullable=True),
        sa.Column("last_update", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lolos", sa.Boolean, nullable=True),
    )
    op.create_index("ix_staging_sekolah_partition", "staging_sekolah", ["kode_kab_kota", "periode"])
    op.create_table(
        "dim_sekolah",
        sa.Column("semester_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("npsn", sa.String(8), primary_key=True),
        sa.Column("sekolah_id", sa.String(64), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("nama", sa.String(255), nullable=False),
        sa.Column("bentuk_pendidikan", sa.String(8), nullable=False),
        sa.Column("status_sekolah", sa.String(8), nullable=False),
        sa.Column("kode_wilayah", sa.String(13), nullable=False),
        sa.Column("last_update", sa.DateTime(timezone=True), nullable=True),
        _batch_fk(),
    )
    op.create_index("ix_dim_sekolah_partition", "dim_sekolah", ["kode_kab_kota", "semester_id"])
    op.create_table(
        "staging_peserta_didik",
        _batch_fk(),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("person_key", sa.String(64), nullable=True),
        sa.Column("jenis_id", sa.String(8), nullable=True),
        sa.Column("nik_valid", sa.Boolean, nullable=False),
        sa.Column("npsn", sa.String(32), nullable=False),
        sa.Column("bentuk_pendidikan", sa.String(32), nullable=True),
        sa.Column("kode_wilayah_sekolah", sa.String(32), nullable=True),
        sa.Column("jenis_kelamin", sa.String(8), nullable=True),
        sa.Column("tahun_lahir", sa.Integer, nullable=True),
        sa.Column("bulan_lahir", sa.Integer, nullable=True),
        sa.Column("umur_awal_semester", sa.Integer, nullable=True),
        sa.Column("tingkat_pendidikan_id", sa.Integer, nullable=True),
        sa.Column("program_kesetaraan", sa.String(32), nullable=True),
        sa.Column("kode_wilayah_domisili", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("last_update", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lolos", sa.Boolean, nullable=True),
    )
    op.create_index("ix_staging_peserta_didik_partition", "staging_peserta_didik", ["kode_kab_kota", "periode"])
    op.create_index("ix_staging_peserta_didik_batch", "staging_peserta_didik", ["batch_id", "row_id"])
    op.create_table(
        "fact_peserta_didik",
        sa.Column("semester_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("person_key", sa.String(64), primary_key=True),
        sa.Column("jenis_id", sa.String(4), nullable=False),
        sa.Column("nik_valid", sa.Boolean, nullable=False),
        sa.Column("npsn", sa.String(8), nullable=False),
        sa.Column("bentuk_pendidikan", sa.String(8), nullable=False),
        sa.Column("tingkat_pendidikan_id", sa.Integer, nullable=True),
        sa.Column("program_kesetaraan", sa.String(8), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("jenis_kelamin", sa.String(1), nullable=False),
        sa.Column("tahun_lahir", sa.Integer, nullable=False),
        sa.Column("bulan_lahir", sa.Integer, nullable=False),
        sa.Column("tahun_laporan", sa.Integer, nullable=False),
        sa.Column("umur_referensi", sa.Integer, nullable=False),
        sa.Column("kode_wilayah_domisili", sa.String(13), nullable=True),
        sa.Column("kode_desa_tinggal", sa.String(13), nullable=False),
        sa.Column("kode_wilayah_sekolah", sa.String(13), nullable=False),
        sa.Column("last_update", sa.DateTime(timezone=True), nullable=True),
        _batch_fk(),
    )
    op.create_index("ix_fact_peserta_didik_partition", "fact_peserta_didik", ["kode_kab_kota", "semester_id"])
    op.create_index("ix_fact_peserta_didik_desa", "fact_peserta_didik", ["semester_id", "kode_desa_tinggal"])


def downgrade() -> None:
    for name in ("fact_peserta_didik", "staging_peserta_didik", "dim_sekolah", "staging_sekolah"):
        op.drop_table(name)
