"""What the OPD writes for the quarterly report: the narrative sheets of the OPD workbook (layout 3).

`staging_input_permasalahan` / `fact_input_permasalahan` (permasalahan and solusi, one row per problem),
`staging_input_tahapan` / `fact_input_tahapan` (the status of the four tahapan penerapan SPM per jenis
layanan) and `staging_input_rencana_aksi` / `fact_input_rencana_aksi` (the planned actions), each
partitioned like the other OPD inputs (kab/kota or provinsi × bidang × tahun × triwulan).

Revision ID: 0019_input_narasi
Revises: 0018_input_penerima
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_input_narasi"
down_revision = "0018_input_penerima"
branch_labels = None
depends_on = None

TAHAPAN = ("pengumpulan_data", "penghitungan_kebutuhan", "rencana_pemenuhan", "pelaksanaan")


def _columns(name: str) -> list:
    if name == "permasalahan":
        return [sa.Column("permasalahan", sa.Text, nullable=True), sa.Column("solusi", sa.Text, nullable=True)]
    if name == "tahapan":
        return [*(sa.Column(t, sa.String(16), nullable=True) for t in TAHAPAN),
                sa.Column("keterangan", sa.Text, nullable=True)]
    return [sa.Column("kegiatan", sa.Text, nullable=True), sa.Column("keluaran", sa.Text, nullable=True),
            sa.Column("unit_pelaksana", sa.String(255), nullable=True),
            sa.Column("bulan_selesai", sa.Integer, nullable=True), sa.Column("anggaran", sa.Float, nullable=True)]


def _strict(columns: list, optional: tuple[str, ...]) -> list:
    for c in columns:
        c.nullable = c.name in optional
    return columns


def upgrade() -> None:
    for name in ("permasalahan", "tahapan", "rencana_aksi"):
        staging, fact = f"staging_input_{name}", f"fact_input_{name}"
        op.create_table(
            staging,
            sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
            sa.Column("kode_kab_kota", sa.String(5), nullable=False),
            sa.Column("bidang", sa.String(32), nullable=False),
            sa.Column("periode", sa.String(16), nullable=False),
            sa.Column("row_id", sa.Integer, nullable=False),
            sa.Column("kode_layanan", sa.String(64), nullable=True),
            *_columns(name),
        )
        op.create_index(f"ix_{staging}_partition", staging, ["kode_kab_kota", "bidang", "periode"])
        per_row = name != "tahapan"  # a jenis layanan may have several problems and actions
        op.create_table(
            fact,
            sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
            sa.Column("bidang", sa.String(32), primary_key=per_row, nullable=False),
            sa.Column("kode_layanan", sa.String(32), primary_key=not per_row, nullable=False),
            *_strict(_columns(name), ("keterangan", "anggaran")),
            sa.Column("baris", sa.Integer, primary_key=per_row, nullable=False, autoincrement=False),
            sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        )
        op.create_index(f"ix_{fact}_partition", fact, ["kode_kab_kota", "bidang", "tahun", "triwulan"])


def downgrade() -> None:
    for name in ("rencana_aksi", "tahapan", "permasalahan"):
        for table in (f"fact_input_{name}", f"staging_input_{name}"):
            op.drop_index(f"ix_{table}_partition", table_name=table)
            op.drop_table(table)
