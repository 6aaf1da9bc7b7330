"""mart_terlayani_bulanan: the month each person first met the standard (DESIGN §7).

Revision ID: 0008_terlayani_bulanan
Revises: 0004_kesehatan
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_terlayani_bulanan"
down_revision = "0004_kesehatan"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_terlayani_bulanan_desa",
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("tahun", sa.Integer, nullable=False),
        sa.Column("bulan", sa.Integer, nullable=False),
        sa.Column("kode_layanan", sa.String(32), nullable=False),
        sa.Column("kode_desa", sa.String(13), nullable=False),
        sa.Column("jenis_kelamin", sa.String(1), nullable=False),
        sa.Column("terlayani_baru", sa.Integer, nullable=False),
    )
    op.create_index("ix_work_terlayani_bulanan_desa_partition", "work_terlayani_bulanan_desa",
                    ["kode_kab_kota", "tahun"])
    op.create_table(
        "mart_terlayani_bulanan",
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bulan", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_wilayah", sa.String(13), primary_key=True),
        sa.Column("jenis_kelamin", sa.String(5), primary_key=True),
        sa.Column("kode_layanan", sa.String(32), primary_key=True),
        sa.Column("tingkat_wilayah", sa.String(20), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("terlayani_baru", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    )
    op.create_index("ix_mart_terlayani_bulanan_partition", "mart_terlayani_bulanan", ["kode_kab_kota", "tahun"])


def downgrade() -> None:
    op.drop_table("mart_terlayani_bulanan")
    op.drop_table("work_terlayani_bulanan_desa")
