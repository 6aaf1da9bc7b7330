"""Core warehouse: region, period and service dimensions; audit tables.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-23
"""

import calendar
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

NAMA_BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)
# dim_periode covers these years; a later migration can extend it.
PERIODE_TAHUN = range(2000, 2051)


def upgrade() -> None:
    op.create_table(
        "dim_wilayah",
        sa.Column("kode", sa.String(13), primary_key=True),
        sa.Column("berlaku_mulai", sa.Date, primary_key=True),
        sa.Column("nama", sa.String(255), nullable=False),
        sa.Column("tingkat", sa.String(20), nullable=False),
        sa.Column("kode_induk", sa.String(13), nullable=True),
        sa.Column("berlaku_sampai", sa.Date, nullable=True),
        sa.Column("sumber", sa.String(255), nullable=True),
    )
    op.create_index("ix_dim_wilayah_kode_induk", "dim_wilayah", ["kode_induk"])
    op.create_index("ix_dim_wilayah_tingkat", "dim_wilayah", ["tingkat"])
    op.create_table(
        "staging_wilayah",
        sa.Column("kode", sa.String(13), primary_key=True),
        sa.Column("nama", sa.String(255), nullable=False),
        sa.Column("tingkat", sa.String(20), nullable=False),
        sa.Column("kode_induk", sa.String(13), nullable=True),
    )
    periode = op.create_table(
        "dim_periode",
        sa.Column("periode_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("tahun", sa.Integer, nullable=False),
        sa.Column("semester", sa.Integer, nullable=False),
        sa.Column("triwulan", sa.Integer, nullable=False),
        sa.Column("bulan", sa.Integer, nullable=False),
        sa.Column("nama_bulan", sa.String(16), nullable=False),
        sa.Column("tanggal_mulai", sa.Date, nullable=False),
        sa.Column("tanggal_akhir", sa.Date, nullable=False),
    )
    op.bulk_insert(periode, [
        {
            "periode_id": tahun * 100 + bulan,
            "tahun": tahun,
            "semester": 1 if bulan <= 6 else 2,
            "triwulan": (bulan - 1) // 3 + 1,
            "bulan": bulan,
            "nama_bulan": NAMA_BULAN[bulan - 1],
            "tanggal_mulai": date(tahun, bulan, 1),
            "tanggal_akhir": date(tahun, bulan, calendar.monthrange(tahun, bulan)[1]),
        }
        for tahun in PERIODE_TAHUN
        for bulan in range(1, 13)
    ])
    op.create_table(
        "dim_layanan",
        sa.Column("kode_layanan", sa.String(32), primary_key=True),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("nama", sa.String(255), nullable=False),
        sa.Column("uraian", sa.Text, nullable=False),
        sa.Column("satuan", sa.String(64), nullable=False),
        sa.Column("sasaran_uraian", sa.Text, nullable=False),
        sa.Column("dasar_hukum", sa.Text, nullable=False),
        sa.Column("tingkat_pemerintahan", sa.String(20), nullable=False),
        sa.Column("pembagian_jenis_kelamin", sa.Boolean, nullable=False),
        sa.Column("urutan", sa.Integer, nullable=False),
    )
    op.create_table(
        "etl_batch",
        sa.Column("batch_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("kode_wilayah", sa.String(13), nullable=False),
        sa.Column("periode", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(255), nullable=True),
        sa.Column("rows_received", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_published", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_quarantined", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_duplicate", sa.Integer, nullable=False, server_default="0"),
        sa.Column("checksum", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_etl_batch_partition", "etl_batch", ["source", "entity", "kode_wilayah", "periode"])
    op.create_index("ix_etl_batch_started_at", "etl_batch", ["started_at"])
    op.create_table(
        "dq_result",
        sa.Column("dq_result_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("suite", sa.String(128), nullable=False),
        sa.Column("expectation", sa.String(128), nullable=False),
        sa.Column("kolom", sa.String(128), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("element_count", sa.Integer, nullable=True),
        sa.Column("unexpected_count", sa.Integer, nullable=True),
        sa.Column("unexpected_percent", sa.Float, nullable=True),
        sa.Column("observed_value", sa.Text, nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dq_result_batch", "dq_result", ["batch_id"])
    op.create_table(
        "quarantine",
        sa.Column("quarantine_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("natural_key", sa.Text, nullable=False),
        sa.Column("failed_expectations", sa.Text, nullable=False),
        sa.Column("row_data", sa.JSON, nullable=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_quarantine_batch", "quarantine", ["batch_id"])


def downgrade() -> None:
    for name in ("quarantine", "dq_result", "etl_batch", "dim_layanan", "dim_periode",
                 "staging_wilayah", "dim_wilayah"):
        op.drop_table(name)
