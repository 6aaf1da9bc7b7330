"""OPD inputs (mutu items, anggaran) and the SPM index mart (DESIGN §3.4, §5, §7).

Revision ID: 0006_input_opd
Revises: 0005_indikator
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_input_opd"
down_revision = "0005_indikator"
branch_labels = None
depends_on = None


def _batch_fk():
    return sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False)


def _realisasi():
    return [sa.Column(f"realisasi_{m:02d}", sa.Float, nullable=True) for m in range(1, 13)]


def _staging_partition():
    return [
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "staging_input_mutu",
        _batch_fk(),
        *_staging_partition(),
        sa.Column("kode_layanan", sa.String(64), nullable=True),
        sa.Column("komponen", sa.String(64), nullable=True),
        sa.Column("uraian", sa.String(255), nullable=True),
        sa.Column("satuan", sa.String(64), nullable=True),
        sa.Column("jumlah_dibutuhkan", sa.BigInteger, nullable=True),
        sa.Column("jumlah_tersedia", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_staging_input_mutu_partition", "staging_input_mutu", ["kode_kab_kota", "bidang", "periode"])
    op.create_table(
        "staging_input_anggaran",
        _batch_fk(),
        *_staging_partition(),
        sa.Column("kode_layanan", sa.String(64), nullable=True),
        sa.Column("alokasi", sa.Float, nullable=True),
        *_realisasi(),
        sa.Column("realisasi", sa.Float, nullable=True),
        sa.Column("bulan_terakhir", sa.Integer, nullable=True),
    )
    op.create_index("ix_staging_input_anggaran_partition", "staging_input_anggaran",
                    ["kode_kab_kota", "bidang", "periode"])
    op.create_table(
        "fact_input_mutu",
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("kode_layanan", sa.String(32), primary_key=True),
        sa.Column("komponen", sa.String(16), primary_key=True),
        sa.Column("uraian", sa.String(255), primary_key=True),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("satuan", sa.String(64), nullable=False),
        sa.Column("jumlah_dibutuhkan", sa.BigInteger, nullable=False),
        sa.Column("jumlah_tersedia", sa.BigInteger, nullable=False),
        sa.Column("baris", sa.Integer, nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_fact_input_mutu_partition", "fact_input_mutu", ["kode_kab_kota", "bidang", "tahun", "triwulan"])
    op.create_table(
        "fact_input_anggaran",
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("kode_layanan", sa.String(32), primary_key=True),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("alokasi", sa.Float, nullable=False),
        *_realisasi(),
        sa.Column("realisasi", sa.Float, nullable=False),
        sa.Column("baris", sa.Integer, nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_fact_input_anggaran_partition", "fact_input_anggaran",
                    ["kode_kab_kota", "bidang", "tahun", "triwulan"])
    op.create_table(
        "mart_indeks_spm",
        sa.Column("tahun", sa.Integer, nullable=False),
        sa.Column("triwulan", sa.Integer, nullable=False),
        sa.Column("kode_wilayah", sa.String(13), nullable=False),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("kode_layanan", sa.String(32), nullable=True),
        sa.Column("tingkat_indeks", sa.String(8), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("capaian_penerima", sa.Float, nullable=True),
        sa.Column("mutu", sa.Float, nullable=True),
        sa.Column("nilai", sa.Float, nullable=True),
        sa.Column("label", sa.String(32), nullable=True),
        sa.Column("keterangan", sa.Text, nullable=True),
        sa.Column("urutan", sa.Integer, nullable=False),
        sa.Column("batch_ids", sa.Text, nullable=False),
        _batch_fk(),
    )
    op.create_index("ix_mart_indeks_spm_partition", "mart_indeks_spm", ["kode_kab_kota", "tahun", "triwulan"])


def downgrade() -> None:
    op.drop_table("mart_indeks_spm")
    op.drop_table("fact_input_anggaran")
    op.drop_table("fact_input_mutu")
    op.drop_table("staging_input_anggaran")
    op.drop_table("staging_input_mutu")
