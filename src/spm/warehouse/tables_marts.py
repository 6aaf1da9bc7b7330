"""Mart tables (DESIGN §7): what reports, dashboards and outside BI tools read."""

from __future__ import annotations

import sqlalchemy as sa

from spm.warehouse.tables import metadata

# Per desa × sex × jenis layanan, before roll-up: one computation batch at a time.
work_capaian_desa = sa.Table(
    "work_capaian_desa",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("tahun", sa.Integer, nullable=False),
    sa.Column("triwulan", sa.Integer, nullable=False),
    sa.Column("kode_layanan", sa.String(32), nullable=False),
    sa.Column("kode_desa", sa.String(13), nullable=False),
    sa.Column("jenis_kelamin", sa.String(1), nullable=False),
    sa.Column("sasaran", sa.Float, nullable=False),
    sa.Column("terlayani", sa.Integer, nullable=False),
    sa.Index("ix_work_capaian_desa_partition", "kode_kab_kota", "tahun", "triwulan"),
)

mart_capaian_spm = sa.Table(
    "mart_capaian_spm",
    metadata,
    sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_wilayah", sa.String(13), primary_key=True),
    sa.Column("jenis_kelamin", sa.String(5), primary_key=True),
    sa.Column("kode_layanan", sa.String(32), primary_key=True),
    sa.Column("tingkat_wilayah", sa.String(20), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("sasaran", sa.Float, nullable=False),  # unrounded
    sa.Column("terlayani", sa.Integer, nullable=False),
    sa.Column("belum_terlayani", sa.Float, nullable=False),
    sa.Column("capaian", sa.Float, nullable=True),  # raw %, may exceed 100; NULL when sasaran is 0
    sa.Column("capaian_dibatasi", sa.Float, nullable=True),  # capped at 100
    sa.Column("semester_penduduk", sa.String(8), nullable=False),  # population semester used
    sa.Column("batch_ids", sa.Text, nullable=False),  # lineage: source batches, comma-separated
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    # Provinsi rows only: how many of the province's kab/kota the row covers, of how many.
    sa.Column("kab_kota_dimuat", sa.Integer, nullable=True),
    sa.Column("kab_kota_total", sa.Integer, nullable=True),
    sa.Index("ix_mart_capaian_spm_partition", "kode_kab_kota", "tahun", "triwulan"),
)

# Terlayani of a provinsi row per jenis layanan × sex (L, P, semua): distinct persons over the kab/kota
# it covers, counted before the roll-up joins them to the summed sasaran; one computation at a time.
work_capaian_provinsi = sa.Table(
    "work_capaian_provinsi",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_provinsi", sa.String(2), nullable=False),
    sa.Column("tahun", sa.Integer, nullable=False),
    sa.Column("triwulan", sa.Integer, nullable=False),
    sa.Column("kode_layanan", sa.String(32), nullable=False),
    sa.Column("jenis_kelamin", sa.String(5), nullable=False),
    sa.Column("terlayani", sa.Integer, nullable=False),
    # Added to the summed sasaran: a sasaran net of learners (pend_kesetaraan) subtracts in each
    # kab/kota a learner listed in two of them; the province subtracts them once.
    sa.Column("sasaran_koreksi", sa.Float, nullable=True),
    sa.Index("ix_work_capaian_provinsi_partition", "kode_provinsi", "tahun", "triwulan"),
)

# Month of first attainment per desa × sex × jenis layanan, before roll-up (health services).
work_terlayani_bulanan_desa = sa.Table(
    "work_terlayani_bulanan_desa",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("tahun", sa.Integer, nullable=False),
    sa.Column("bulan", sa.Integer, nullable=False),
    sa.Column("kode_layanan", sa.String(32), nullable=False),
    sa.Column("kode_desa", sa.String(13), nullable=False),
    sa.Column("jenis_kelamin", sa.String(1), nullable=False),
    sa.Column("terlayani_baru", sa.Integer, nullable=False),
    sa.Index("ix_work_terlayani_bulanan_desa_partition", "kode_kab_kota", "tahun"),
)

# DESIGN §7: those who first met the standard in the month, so the months add up to the year.
mart_terlayani_bulanan = sa.Table(
    "mart_terlayani_bulanan",
    metadata,
    sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("bulan", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_wilayah", sa.String(13), primary_key=True),
    sa.Column("jenis_kelamin", sa.String(5), primary_key=True),
    sa.Column("kode_layanan", sa.String(32), primary_key=True),
    sa.Column("tingkat_wilayah", sa.String(20), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("terlayani_baru", sa.Integer, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_mart_terlayani_bulanan_partition", "kode_kab_kota", "tahun"),
)
