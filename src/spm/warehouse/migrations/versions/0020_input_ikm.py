"""Survei Kepuasan Masyarakat results from the OPD workbook (layout 4, sheet ikm).

`staging_input_ikm` / `fact_input_ikm`: one row per survey of a unit layanan (unit_layanan, the
jenis layanan it concerns or NULL for the unit as a whole, periode_survei, jumlah_responden,
nilai_ikm on the 25-100 scale of Permenpan RB 14/2017), partitioned like the other OPD inputs.

Revision ID: 0020_input_ikm
Revises: 0019_input_narasi
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_input_ikm"
down_revision = "0019_input_narasi"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staging_input_ikm",
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("kode_layanan", sa.String(64), nullable=True),
        sa.Column("unit_layanan", sa.String(255), nullable=True),
        sa.Column("periode_survei", sa.String(64), nullable=True),
        sa.Column("jumlah_responden", sa.Integer, nullable=True),
        sa.Column("nilai_ikm", sa.Float, nullable=True),
    )
    op.create_index("ix_staging_input_ikm_partition", "staging_input_ikm", ["kode_kab_kota", "bidang", "periode"])
    op.create_table(
        "fact_input_ikm",
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("bidang", sa.String(32), primary_key=True),
        sa.Column("baris", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("unit_layanan", sa.String(255), nullable=False),
        sa.Column("kode_layanan", sa.String(32), nullable=True),
        sa.Column("periode_survei", sa.String(64), nullable=False),
        sa.Column("jumlah_responden", sa.Integer, nullable=False),
        sa.Column("nilai_ikm", sa.Float, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    )
    op.create_index("ix_fact_input_ikm_partition", "fact_input_ikm", ["kode_kab_kota", "bidang", "tahun", "triwulan"])


def downgrade() -> None:
    for table in ("fact_input_ikm", "staging_input_ikm"):
        op.drop_index(f"ix_{table}_partition", table_name=table)
        op.drop_table(table)
