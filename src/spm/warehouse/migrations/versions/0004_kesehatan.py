"""Health (SATUSEHAT-style FHIR): staging and published tables for patients, encounters,
observations and conditions, upserted by resource id (spm.ingest.kesehatan).

Patients are pseudonymised at ingest: `person_key` (HMAC of the NIK, else of the resource id,
namespaced) replaces the NIK; names are never read.

Revision ID: 0004_kesehatan
Revises: 0007_peringatan
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_kesehatan"
# Appended at the tip of the chain (0005-0007 were written before this one): two heads would stop
# `spm db upgrade` for everyone.
down_revision = "0007_peringatan"
branch_labels = None
depends_on = None


def _batch_fk():
    return sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False)


def _staging(name: str, id_column: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        _batch_fk(),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("periode", sa.String(64), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column(id_column, sa.String(64), nullable=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=True),
        *columns,
        sa.Column("lolos", sa.Boolean, nullable=True),
    )
    op.create_index(f"ix_{name}_partition", name, ["kode_kab_kota", "periode"])
    op.create_index(f"ix_{name}_batch_row", name, ["batch_id", "row_id"])
    op.create_index(f"ix_{name}_batch_id", name, ["batch_id", id_column])


def upgrade() -> None:
    _staging(
        "staging_pasien", "pasien_id",
        sa.Column("person_key", sa.String(64), nullable=True),
        sa.Column("jenis_id", sa.String(8), nullable=True),
        sa.Column("nik_valid", sa.Boolean, nullable=True),
        sa.Column("jenis_kelamin", sa.String(8), nullable=True),
        sa.Column("tanggal_lahir", sa.Date, nullable=True),
        sa.Column("kode_desa", sa.String(32), nullable=True),
    )
    op.create_table(
        "fact_pasien",
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("pasien_id", sa.String(64), primary_key=True),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("jenis_id", sa.String(8), nullable=False),
        sa.Column("nik_valid", sa.Boolean, nullable=False),
        sa.Column("jenis_kelamin", sa.String(1), nullable=False),
        sa.Column("tanggal_lahir", sa.Date, nullable=False),
        sa.Column("kode_desa", sa.String(13), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_fact_pasien_person_key", "fact_pasien", ["person_key"])
    op.create_index("ix_fact_pasien_desa", "fact_pasien", ["kode_desa"])

    _staging(
        "staging_kunjungan", "kunjungan_id",
        sa.Column("pasien_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("kelas", sa.String(16), nullable=True),
        sa.Column("tanggal_mulai", sa.DateTime(timezone=True), nullable=True),
        sa.Column("organisasi_id", sa.String(64), nullable=True),
        sa.Column("kode_alasan", sa.String(32), nullable=True),
        sa.Column("sistem_alasan", sa.String(128), nullable=True),
    )
    op.create_table(
        "fact_kunjungan",
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("kunjungan_id", sa.String(64), primary_key=True),
        sa.Column("pasien_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("kelas", sa.String(16), nullable=True),
        sa.Column("tanggal_mulai", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisasi_id", sa.String(64), nullable=True),
        sa.Column("kode_alasan", sa.String(32), nullable=True),
        sa.Column("sistem_alasan", sa.String(128), nullable=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_fact_kunjungan_pasien", "fact_kunjungan", ["kode_kab_kota", "pasien_id"])
    op.create_index("ix_fact_kunjungan_tanggal", "fact_kunjungan", ["kode_kab_kota", "tanggal_mulai"])

    _staging(
        "staging_observasi", "observasi_id",
        sa.Column("pasien_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("tanggal_efektif", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kode", sa.String(32), nullable=True),
        sa.Column("sistem_kode", sa.String(128), nullable=True),
        sa.Column("nilai", sa.Float, nullable=True),
        sa.Column("satuan", sa.String(32), nullable=True),
        sa.Column("nilai_sistolik", sa.Float, nullable=True),
        sa.Column("nilai_diastolik", sa.Float, nullable=True),
        sa.Column("nilai_kode", sa.String(32), nullable=True),
    )
    op.create_table(
        "fact_observasi",
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("observasi_id", sa.String(64), primary_key=True),
        sa.Column("pasien_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("tanggal_efektif", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kode", sa.String(32), nullable=False),
        sa.Column("sistem_kode", sa.String(128), nullable=False),
        sa.Column("nilai", sa.Float, nullable=True),
        sa.Column("satuan", sa.String(32), nullable=True),
        sa.Column("nilai_sistolik", sa.Float, nullable=True),
        sa.Column("nilai_diastolik", sa.Float, nullable=True),
        sa.Column("nilai_kode", sa.String(32), nullable=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_fact_observasi_pasien", "fact_observasi", ["kode_kab_kota", "pasien_id"])
    op.create_index("ix_fact_observasi_tanggal", "fact_observasi", ["kode_kab_kota", "tanggal_efektif"])

    _staging(
        "staging_kondisi", "kondisi_id",
        sa.Column("pasien_id", sa.String(64), nullable=True),
        sa.Column("status_klinis", sa.String(32), nullable=True),
        sa.Column("tanggal_onset", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kode", sa.String(32), nullable=True),
        sa.Column("sistem_kode", sa.String(128), nullable=True),
    )
    op.create_table(
        "fact_kondisi",
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("kondisi_id", sa.String(64), primary_key=True),
        sa.Column("pasien_id", sa.String(64), nullable=False),
        sa.Column("status_klinis", sa.String(32), nullable=True),
        sa.Column("tanggal_onset", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kode", sa.String(32), nullable=False),
        sa.Column("sistem_kode", sa.String(128), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_fact_kondisi_pasien", "fact_kondisi", ["kode_kab_kota", "pasien_id"])


def downgrade() -> None:
    for table in ("fact_kondisi", "staging_kondisi", "fact_observasi", "staging_observasi",
                  "fact_kunjungan", "staging_kunjungan", "fact_pasien", "staging_pasien"):
        op.drop_table(table)
