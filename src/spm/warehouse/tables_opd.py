"""OPD inputs (DESIGN §3.4: mutu items and anggaran per jenis layanan) and mart_indeks_spm (§7).

Column names follow the OPD workbook (spm.opd_template) so that a figure can be traced back to the
cell it came from: `baris` is the workbook row. One OPD workbook is one `etl_batch`; its partition is
kab/kota × bidang × tahun × triwulan and it is published whole or not at all.
"""

from __future__ import annotations

import sqlalchemy as sa

from spm.warehouse.tables import metadata

BULAN = tuple(range(1, 13))


def _realisasi_columns() -> list[sa.Column]:
    # Months after the quarter stay NULL: "not reported yet", not "nothing spent".
    return [sa.Column(f"realisasi_{m:02d}", sa.Float, nullable=True) for m in BULAN]


def _terlayani_columns() -> list[sa.Column]:
    return [sa.Column(f"terlayani_{m:02d}", sa.BigInteger, nullable=True) for m in BULAN]


# Staging columns are nullable: a cell that is not a number lands as NULL and is reported with its
# sheet, row and column; published tables are strict.
staging_input_mutu = sa.Table(
    "staging_input_mutu",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("bidang", sa.String(32), nullable=False),
    sa.Column("periode", sa.String(16), nullable=False),  # YYYY-Tq
    sa.Column("row_id", sa.Integer, nullable=False),  # row in the workbook sheet
    sa.Column("kode_layanan", sa.String(64), nullable=True),
    sa.Column("komponen", sa.String(64), nullable=True),
    sa.Column("uraian", sa.String(255), nullable=True),
    sa.Column("satuan", sa.String(64), nullable=True),
    sa.Column("jumlah_dibutuhkan", sa.BigInteger, nullable=True),
    sa.Column("jumlah_tersedia", sa.BigInteger, nullable=True),
    sa.Index("ix_staging_input_mutu_partition", "kode_kab_kota", "bidang", "periode"),
)

staging_input_anggaran = sa.Table(
    "staging_input_anggaran",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("bidang", sa.String(32), nullable=False),
    sa.Column("periode", sa.String(16), nullable=False),
    sa.Column("row_id", sa.Integer, nullable=False),
    sa.Column("kode_layanan", sa.String(64), nullable=True),
    sa.Column("alokasi", sa.Float, nullable=True),
    *_realisasi_columns(),
    sa.Column("realisasi", sa.Float, nullable=True),  # sum of the filled months (year to date)
    sa.Column("bulan_terakhir", sa.Integer, nullable=True),  # last month with a realisasi; NULL: none
    sa.Index("ix_staging_input_anggaran_partition", "kode_kab_kota", "bidang", "periode"),
)

# The penerima sheet (jenis layanan whose sasaran and terlayani only the OPD knows, e.g. the
# province's health crisis and KLB services).
staging_input_penerima = sa.Table(
    "staging_input_penerima",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("bidang", sa.String(32), nullable=False),
    sa.Column("periode", sa.String(16), nullable=False),
    sa.Column("row_id", sa.Integer, nullable=False),
    sa.Column("kode_layanan", sa.String(64), nullable=True),
    sa.Column("jumlah_sasaran", sa.BigInteger, nullable=True),
    *_terlayani_columns(),
    sa.Column("keterangan", sa.String(255), nullable=True),
    sa.Column("terlayani", sa.BigInteger, nullable=True),  # sum of the filled months (year to date)
    sa.Column("bulan_terakhir", sa.Integer, nullable=True),  # last month with a terlayani; NULL: none
    sa.Index("ix_staging_input_penerima_partition", "kode_kab_kota", "bidang", "periode"),
)

fact_input_penerima = sa.Table(
    "fact_input_penerima",
    metadata,
    sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),  # the province's code for its own
    sa.Column("kode_layanan", sa.String(32), primary_key=True),
    sa.Column("bidang", sa.String(32), nullable=False),
    sa.Column("jumlah_sasaran", sa.BigInteger, nullable=False),  # year to date
    *_terlayani_columns(),
    sa.Column("terlayani", sa.BigInteger, nullable=False),  # year to date: sum of the filled months
    sa.Column("keterangan", sa.String(255), nullable=True),
    sa.Column("baris", sa.Integer, nullable=False),  # row of the penerima sheet
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_fact_input_penerima_partition", "kode_kab_kota", "bidang", "tahun", "triwulan"),
)

fact_input_mutu = sa.Table(
    "fact_input_mutu",
    metadata,
    sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
    sa.Column("kode_layanan", sa.String(32), primary_key=True),
    sa.Column("komponen", sa.String(16), primary_key=True),  # barang_jasa | sdm | petunjuk_teknis
    sa.Column("uraian", sa.String(255), primary_key=True),  # the quality item
    sa.Column("bidang", sa.String(32), nullable=False),
    sa.Column("satuan", sa.String(64), nullable=False),
    sa.Column("jumlah_dibutuhkan", sa.BigInteger, nullable=False),
    sa.Column("jumlah_tersedia", sa.BigInteger, nullable=False),  # may exceed jumlah_dibutuhkan
    sa.Column("baris", sa.Integer, nullable=False),  # row of the mutu sheet
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_fact_input_mutu_partition", "kode_kab_kota", "bidang", "tahun", "triwulan"),
)

fact_input_anggaran = sa.Table(
    "fact_input_anggaran",
    metadata,
    sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
    sa.Column("kode_layanan", sa.String(32), primary_key=True),
    sa.Column("bidang", sa.String(32), nullable=False),
    sa.Column("alokasi", sa.Float, nullable=False),  # Rp for the year (whole rupiah are exact in a double)
    *_realisasi_columns(),
    sa.Column("realisasi", sa.Float, nullable=False),  # year to date: sum of the filled months
    sa.Column("baris", sa.Integer, nullable=False),  # row of the anggaran sheet
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_fact_input_anggaran_partition", "kode_kab_kota", "bidang", "tahun", "triwulan"),
)

# What the OPD writes for the report (the narrative sheets): permasalahan and solusi, the status of
# the four tahapan penerapan SPM per jenis layanan, and the rencana aksi.
TAHAPAN = ("pengumpulan_data", "penghitungan_kebutuhan", "rencana_pemenuhan", "pelaksanaan")


def _staging(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("bidang", sa.String(32), nullable=False),
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("kode_layanan", sa.String(64), nullable=True),
        *columns,
        sa.Index(f"ix_{name}_partition", "kode_kab_kota", "bidang", "periode"),
    )


def _fact(name: str, per_row: bool, *columns: sa.Column) -> sa.Table:
    """A narrative fact: keyed by its workbook row where a jenis layanan may have several (`per_row`)."""
    return sa.Table(
        name, metadata,
        sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("bidang", sa.String(32), primary_key=per_row, nullable=False),
        sa.Column("kode_layanan", sa.String(32), primary_key=not per_row, nullable=False),
        *columns,
        sa.Column("baris", sa.Integer, primary_key=per_row, nullable=False, autoincrement=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Index(f"ix_{name}_partition", "kode_kab_kota", "bidang", "tahun", "triwulan"),
    )


staging_input_permasalahan = _staging(
    "staging_input_permasalahan", sa.Column("permasalahan", sa.Text, nullable=True),
    sa.Column("solusi", sa.Text, nullable=True))
fact_input_permasalahan = _fact(
    "fact_input_permasalahan", True, sa.Column("permasalahan", sa.Text, nullable=False),
    sa.Column("solusi", sa.Text, nullable=False))
staging_input_tahapan = _staging(
    "staging_input_tahapan", *(sa.Column(t, sa.String(16), nullable=True) for t in TAHAPAN),
    sa.Column("keterangan", sa.Text, nullable=True))
fact_input_tahapan = _fact(  # one row per jenis layanan; status belum | berjalan | selesai
    "fact_input_tahapan", False, *(sa.Column(t, sa.String(16), nullable=False) for t in TAHAPAN),
    sa.Column("keterangan", sa.Text, nullable=True))
staging_input_rencana_aksi = _staging(
    "staging_input_rencana_aksi", sa.Column("kegiatan", sa.Text, nullable=True),
    sa.Column("keluaran", sa.Text, nullable=True), sa.Column("unit_pelaksana", sa.String(255), nullable=True),
    sa.Column("bulan_selesai", sa.Integer, nullable=True), sa.Column("anggaran", sa.Float, nullable=True))
fact_input_rencana_aksi = _fact(
    "fact_input_rencana_aksi", True, sa.Column("kegiatan", sa.Text, nullable=False),
    sa.Column("keluaran", sa.Text, nullable=False), sa.Column("unit_pelaksana", sa.String(255), nullable=False),
    sa.Column("bulan_selesai", sa.Integer, nullable=False), sa.Column("anggaran", sa.Float, nullable=True))

# One row per jenis layanan (tingkat_indeks `layanan`), per bidang (`bidang`, kode_layanan NULL) and
# for the daerah (`daerah`, bidang `semua`, kode_layanan NULL). A NULL figure always has its reason in
# `keterangan`. No primary key: kode_layanan is NULL on bidang and daerah rows by contract (§7).
mart_indeks_spm = sa.Table(
    "mart_indeks_spm",
    metadata,
    sa.Column("tahun", sa.Integer, nullable=False),
    sa.Column("triwulan", sa.Integer, nullable=False),
    sa.Column("kode_wilayah", sa.String(13), nullable=False),
    sa.Column("bidang", sa.String(32), nullable=False),  # pendidikan | kesehatan | semua
    sa.Column("kode_layanan", sa.String(32), nullable=True),
    sa.Column("tingkat_indeks", sa.String(8), nullable=False),  # layanan | bidang | daerah
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("capaian_penerima", sa.Float, nullable=True),  # capaian_dibatasi (<= 100)
    sa.Column("mutu", sa.Float, nullable=True),  # % of needed quality items available (<= 100)
    sa.Column("nilai", sa.Float, nullable=True),
    sa.Column("label", sa.String(32), nullable=True),
    sa.Column("keterangan", sa.Text, nullable=True),  # why a figure is NULL
    # Whose SPM the row's jenis layanan are (dim_layanan.tingkat_pemerintahan): a province's partition
    # holds the roll-up of its kab/kota SPM (`kabupaten_kota`) and the index of its own (`provinsi`).
    sa.Column("tingkat_pemerintahan", sa.String(20), nullable=False, server_default="kabupaten_kota"),
    sa.Column("urutan", sa.Integer, nullable=False),  # report order
    sa.Column("batch_ids", sa.Text, nullable=False),  # lineage: capaian and OPD input batches
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_mart_indeks_spm_partition", "kode_kab_kota", "tahun", "triwulan"),
)

# Survei Kepuasan Masyarakat results the OPD enters (layout 4): one row per survey of a unit layanan;
# kode_layanan is NULL for a survey of the unit as a whole. Its mutu A-D follows from nilai_ikm
# (spm.sources.opd_layout.mutu_ikm), so it is not stored twice.
staging_input_ikm = _staging(
    "staging_input_ikm", sa.Column("unit_layanan", sa.String(255), nullable=True),
    sa.Column("periode_survei", sa.String(64), nullable=True), sa.Column("jumlah_responden", sa.Integer, nullable=True),
    sa.Column("nilai_ikm", sa.Float, nullable=True))
fact_input_ikm = sa.Table(
    "fact_input_ikm", metadata,
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
    sa.Index("ix_fact_input_ikm_partition", "kode_kab_kota", "bidang", "tahun", "triwulan"),
)
