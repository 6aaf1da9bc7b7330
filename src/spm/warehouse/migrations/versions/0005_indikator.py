"""Indicators: the per-desa work table and mart_capaian_spm (DESIGN §7).

Revision ID: 0005_indikator
Revises: 0003_pendidikan
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_indikator"
down_revision = "0003_pendidikan"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_capaian_desa",
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("tahun", sa.Integer, nullable=False),
        sa.Column("triwulan", sa.Integer, nullable=False),
        sa.Column("kode_layanan", sa.String(32), nullable=False),
        sa.Column("kode_desa", sa.String(13), nullable=False),
        sa.Column("jenis_kelamin", sa.String(1), nullable=False),
        sa.Column("sasaran", sa.Float, nullable=False),
        sa.Column("terlayani", sa.Integer, nullable=False),
    )
    op.create_index("ix_work_capaian_desa_partition", "work_capaian_desa", ["kode_kab_kota", "tahun", "triwulan"])
    op.create_table(
        "mart_capaian_spm",
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_wilayah", sa.String(13), primary_key=True),
        sa.Column("jenis_kelamin", sa.String(5), primary_key=True),
        sa.Column("kode_layanan", sa.String(32), primary_key=True),
        sa.Column("tingkat_wilayah", sa.String(20), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("sasaran", sa.Float, nullable=False),
        sa.Column("terlayani", sa.Integer, nullable=False),
        sa.Column("belum_terlayani", sa.Float, nullable=False),
        sa.Column("capaian", sa.Float, nullable=True),
        sa.Column("capaian_dibatasi", sa.Float, nullable=True),
        sa.Column("semester_penduduk", sa.String(8), nullable=False),
        sa.Column("batch_ids", sa.Text, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    )
    op.create_index("ix_mart_capaian_spm_partition", "mart_capaian_spm", ["kode_kab_kota", "tahun", "triwulan"])


def downgrade() -> None:
    op.drop_table("mart_capaian_spm")
    op.drop_table("work_capaian_desa")
