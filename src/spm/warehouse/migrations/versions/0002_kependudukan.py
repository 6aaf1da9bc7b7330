"""Population: staging and fact tables for Dukcapil aggregates and births; the inbox file registry.

Revision ID: 0002_kependudukan
Revises: 0001_core
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_kependudukan"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def _batch_fk():
    return sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "staging_penduduk",
        _batch_fk(),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("semester", sa.String(16), nullable=True),
        sa.Column("kode_desa", sa.String(13), nullable=True),
        sa.Column("jenis_kelamin", sa.String(8), nullable=True),
        sa.Column("umur", sa.Integer, nullable=True),
        sa.Column("jumlah", sa.Integer, nullable=True),
        sa.Column("lolos", sa.Boolean, nullable=True),
    )
    op.create_index("ix_staging_penduduk_partition", "staging_penduduk", ["kode_kab_kota", "periode"])
    op.create_table(
        "fact_penduduk",
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("semester", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_desa", sa.String(13), primary_key=True),
        sa.Column("jenis_kelamin", sa.String(1), primary_key=True),
        sa.Column("umur", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("jumlah", sa.Integer, nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_fact_penduduk_partition", "fact_penduduk", ["kode_kab_kota", "tahun", "semester"])
    op.create_table(
        "staging_kelahiran",
        _batch_fk(),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("tahun", sa.Integer, nullable=True),
        sa.Column("bulan", sa.Integer, nullable=True),
        sa.Column("kode_desa", sa.String(13), nullable=True),
        sa.Column("jenis_kelamin", sa.String(8), nullable=True),
        sa.Column("jumlah", sa.Integer, nullable=True),
        sa.Column("lolos", sa.Boolean, nullable=True),
    )
    op.create_index("ix_staging_kelahiran_partition", "staging_kelahiran", ["kode_kab_kota", "periode"])
    op.create_table(
        "fact_kelahiran",
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bulan", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_desa", sa.String(13), primary_key=True),
        sa.Column("jenis_kelamin", sa.String(1), primary_key=True),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("jumlah", sa.Integer, nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_fact_kelahiran_partition", "fact_kelahiran", ["kode_kab_kota", "tahun"])
    op.create_table(
        "inbox_file",
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("entity", sa.String(64), nullable=True),
        sa.Column("kode_wilayah", sa.String(13), nullable=True),
        sa.Column("periode", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in ("inbox_file", "fact_kelahiran", "staging_kelahiran", "fact_penduduk", "staging_penduduk"):
        op.drop_table(name)
