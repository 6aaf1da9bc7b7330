"""OPD-entered penerima (the province's health crisis and KLB services) and the index of a
province's own SPM.

`staging_input_penerima` / `fact_input_penerima`: the penerima sheet of an OPD workbook, per
jenis layanan: jumlah_sasaran and terlayani per month (year to date). `mart_indeks_spm` gets
`tingkat_pemerintahan`: in a province's partition the roll-up of its kab/kota SPM and the index of
its own are kept apart (their bidang and daerah means never mix).

Revision ID: 0018_input_penerima
Revises: 0017_provinsi
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_input_penerima"
down_revision = "0017_provinsi"
branch_labels = None
depends_on = None

BULAN = range(1, 13)


def _terlayani():
    return [sa.Column(f"terlayani_{m:02d}", sa.BigInteger, nullable=True) for m in BULAN]


def upgrade() -> None:
    op.create_table(
        "staging_input_penerima",
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("kode_layanan", sa.String(64), nullable=True),
        sa.Column("jumlah_sasaran", sa.BigInteger, nullable=True),
        *_terlayani(),
        sa.Column("keterangan", sa.String(255), nullable=True),
        sa.Column("terlayani", sa.BigInteger, nullable=True),
        sa.Column("bulan_terakhir", sa.Integer, nullable=True),
    )
    op.create_index("ix_staging_input_penerima_partition", "staging_input_penerima",
                    ["kode_kab_kota", "bidang", "periode"])
    op.create_table(
        "fact_input_penerima",
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("kode_layanan", sa.String(32), primary_key=True),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("jumlah_sasaran", sa.BigInteger, nullable=False),
        *_terlayani(),
        sa.Column("terlayani", sa.BigInteger, nullable=False),
        sa.Column("keterangan", sa.String(255), nullable=True),
        sa.Column("baris", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    )
    op.create_index("ix_fact_input_penerima_partition", "fact_input_penerima",
                    ["kode_kab_kota", "bidang", "tahun", "triwulan"])
    with op.batch_alter_table("mart_indeks_spm") as batch:
        batch.add_column(sa.Column("tingkat_pemerintahan", sa.String(20), nullable=False,
                                   server_default="kabupaten_kota"))


def downgrade() -> None:
    with op.batch_alter_table("mart_indeks_spm") as batch:
        batch.drop_column("tingkat_pemerintahan")
    op.drop_index("ix_fact_input_penerima_partition", table_name="fact_input_penerima")
    op.drop_table("fact_input_penerima")
    op.drop_index("ix_staging_input_penerima_partition", table_name="staging_input_penerima")
    op.drop_table("staging_input_penerima")
