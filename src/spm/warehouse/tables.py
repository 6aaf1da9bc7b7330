"""Table definitions (SQLAlchemy Core) used by code to read and write the warehouse.

The schema itself is created by the Alembic migrations in `migrations/versions`; a test checks
that migrations and these definitions agree. Column names of published tables are a contract
(DESIGN §7).
"""

from __future__ import annotations

import sqlalchemy as sa
from spm.warehouse.status import STORED

metadata = sa.MetaData()

dim_wilayah = sa.Table(
    "dim_wilayah",
    metadata,
    sa.Column("kode", sa.String(13), primary_key=True),
    sa.Column("berlaku_mulai", sa.Date, primary_key=True),
    sa.Column("nama", sa.String(255), nullable=False),
    sa.Column("tingkat", sa.String(20), nullable=False),
    sa.Column("kode_induk", sa.String(13), nullable=True),
    sa.Column("berlaku_sampai", sa.Date, nullable=True),
    sa.Column("sumber", sa.String(255), nullable=True),
    sa.Index("ix_dim_wilayah_kode_induk", "kode_induk"),
    sa.Index("ix_dim_wilayah_tingkat", "tingkat"),
)

# Loaded with the whole code list in one batch before it is merged into dim_wilayah.
staging_wilayah = sa.Table(
    "staging_wilayah",
    metadata,
    sa.Column("kode", sa.String(13), primary_key=True),
    sa.Column("nama", sa.String(255), nullable=False),
    sa.Column("tingkat", sa.String(20), nullable=False),
    sa.Column("kode_induk", sa.String(13), nullable=True),
)

dim_periode = sa.Table(
    "dim_periode",
    metadata,
    sa.Column("periode_id", sa.Integer, primary_key=True, autoincrement=False),  # YYYYMM
    sa.Column("tahun", sa.Integer, nullable=False),
    sa.Column("semester", sa.Integer, nullable=False),
    sa.Column("triwulan", sa.Integer, nullable=False),
    sa.Column("bulan", sa.Integer, nullable=False),
    sa.Column("nama_bulan", sa.String(16), nullable=False),
    sa.Column("tanggal_mulai", sa.Date, nullable=False),
    sa.Column("tanggal_akhir", sa.Date, nullable=False),
)

dim_layanan = sa.Table(
    "dim_layanan",
    metadata,
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

etl_batch = sa.Table(
    "etl_batch",
    metadata,
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
    # Rows whose published version was already as new (a FHIR merge leaves them as they are).
    sa.Column("rows_unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("checksum", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_etl_batch_partition", "source", "entity", "kode_wilayah", "periode"),
    sa.Index("ix_etl_batch_started_at", "started_at"),
)

dq_result = sa.Table(
    "dq_result",
    metadata,
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
    sa.Index("ix_dq_result_batch", "batch_id"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("quarantine_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("natural_key", sa.Text, nullable=False),
    sa.Column("failed_expectations", sa.Text, nullable=False),
    sa.Column("row_data", sa.JSON, nullable=True),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_quarantine_batch", "batch_id"),
)

BATCH_STATUSES = STORED

# --- Population (Dukcapil DKB aggregates, DESIGN §3.2) -------------------------------------------

staging_penduduk = sa.Table(
    "staging_penduduk",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("periode", sa.String(16), nullable=False),  # requested semester, YYYY-S
    sa.Column("row_id", sa.Integer, nullable=False),  # line in the source file
    sa.Column("semester", sa.Text, nullable=True),
    sa.Column("kode_desa", sa.Text, nullable=True),
    sa.Column("jenis_kelamin", sa.Text, nullable=True),
    sa.Column("umur", sa.Integer, nullable=True),
    sa.Column("jumlah", sa.Integer, nullable=True),
    sa.Column("lolos", sa.Boolean, nullable=True),  # passed validation; NULL until validated
    sa.Index("ix_staging_penduduk_partition", "kode_kab_kota", "periode"),
)

fact_penduduk = sa.Table(
    "fact_penduduk",
    metadata,
    sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("semester", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_desa", sa.String(13), primary_key=True),
    sa.Column("jenis_kelamin", sa.String(1), primary_key=True),
    sa.Column("umur", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("jumlah", sa.Integer, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_fact_penduduk_partition", "kode_kab_kota", "tahun", "semester"),
)

staging_kelahiran = sa.Table(
    "staging_kelahiran",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("periode", sa.String(16), nullable=False),  # requested year, YYYY
    sa.Column("row_id", sa.Integer, nullable=False),
    sa.Column("tahun", sa.Integer, nullable=True),
    sa.Column("bulan", sa.Integer, nullable=True),
    sa.Column("kode_desa", sa.Text, nullable=True),
    sa.Column("jenis_kelamin", sa.Text, nullable=True),
    sa.Column("jumlah", sa.Integer, nullable=True),
    sa.Column("lolos", sa.Boolean, nullable=True),
    sa.Index("ix_staging_kelahiran_partition", "kode_kab_kota", "periode"),
)

fact_kelahiran = sa.Table(
    "fact_kelahiran",
    metadata,
    sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("bulan", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_desa", sa.String(13), primary_key=True),
    sa.Column("jenis_kelamin", sa.String(1), primary_key=True),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("jumlah", sa.Integer, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_fact_kelahiran_partition", "kode_kab_kota", "tahun"),
)

# Files taken from an inbox, by content hash: a file is loaded once, whatever its name.
inbox_file = sa.Table(
    "inbox_file",
    metadata,
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

# --- Education (Dapodik, DESIGN §3.1) -------------------------------------------------------------
# Partition periode = semester_id as text (YYYYS). Staging columns are wide and nullable: bad values
# land there and are judged by the GX suites; published tables are strict.

staging_sekolah = sa.Table(
    "staging_sekolah",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("periode", sa.String(16), nullable=False),
    sa.Column("row_id", sa.Integer, nullable=False),  # position in the getSekolah listing
    sa.Column("sekolah_id", sa.Text, nullable=True),
    sa.Column("npsn", sa.Text, nullable=True),
    sa.Column("nama", sa.Text, nullable=True),  # the school's name (not personal data)
    sa.Column("bentuk_pendidikan", sa.Text, nullable=True),
    sa.Column("status_sekolah", sa.Text, nullable=True),
    sa.Column("kode_wilayah", sa.Text, nullable=True),
    sa.Column("last_update", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lolos", sa.Boolean, nullable=True),
    sa.Index("ix_staging_sekolah_partition", "kode_kab_kota", "periode"),
)

dim_sekolah = sa.Table(
    "dim_sekolah",
    metadata,
    sa.Column("semester_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("npsn", sa.String(8), primary_key=True),
    sa.Column("sekolah_id", sa.String(64), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("nama", sa.String(255), nullable=False),
    sa.Column("bentuk_pendidikan", sa.String(8), nullable=False),
    sa.Column("status_sekolah", sa.String(8), nullable=False),
    sa.Column("kode_wilayah", sa.String(13), nullable=False),  # desa of the school
    sa.Column("last_update", sa.DateTime(timezone=True), nullable=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_dim_sekolah_partition", "kode_kab_kota", "semester_id"),
)

# One row per learner listing (a person listed by two schools gives two rows here).
staging_peserta_didik = sa.Table(
    "staging_peserta_didik",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("kode_kab_kota", sa.String(5), nullable=False),
    sa.Column("periode", sa.String(16), nullable=False),
    sa.Column("row_id", sa.Integer, nullable=False),
    sa.Column("person_key", sa.String(64), nullable=True),  # HMAC; NULL when the row has no identifier
    sa.Column("jenis_id", sa.String(8), nullable=True),  # nik | nisn | pd: what person_key was made from
    sa.Column("nik_valid", sa.Boolean, nullable=False),
    sa.Column("npsn", sa.String(32), nullable=False),  # the school whose list held the row
    sa.Column("bentuk_pendidikan", sa.String(32), nullable=True),  # of that school
    sa.Column("kode_wilayah_sekolah", sa.String(32), nullable=True),  # desa of that school
    sa.Column("jenis_kelamin", sa.Text, nullable=True),
    sa.Column("tahun_lahir", sa.Integer, nullable=True),
    sa.Column("bulan_lahir", sa.Integer, nullable=True),
    sa.Column("umur_awal_semester", sa.Integer, nullable=True),  # NULL: tanggal_lahir not a real date
    sa.Column("tingkat_pendidikan_id", sa.Integer, nullable=True),
    sa.Column("program_kesetaraan", sa.Text, nullable=True),
    sa.Column("kode_wilayah_domisili", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("last_update", sa.DateTime(timezone=True), nullable=True),
    sa.Column("lolos", sa.Boolean, nullable=True),
    sa.Index("ix_staging_peserta_didik_partition", "kode_kab_kota", "periode"),
    sa.Index("ix_staging_peserta_didik_batch", "batch_id", "row_id"),
)

# One row per person × kab/kota × semester after deduplication (spm.ingest.pendidikan).
fact_peserta_didik = sa.Table(
    "fact_peserta_didik",
    metadata,
    sa.Column("semester_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
    sa.Column("person_key", sa.String(64), primary_key=True),
    sa.Column("jenis_id", sa.String(4), nullable=False),
    sa.Column("nik_valid", sa.Boolean, nullable=False),
    sa.Column("npsn", sa.String(8), nullable=False),
    sa.Column("bentuk_pendidikan", sa.String(8), nullable=False),
    sa.Column("tingkat_pendidikan_id", sa.Integer, nullable=True),
    sa.Column("program_kesetaraan", sa.String(8), nullable=True),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("jenis_kelamin", sa.String(1), nullable=False),
    sa.Column("tahun_lahir", sa.Integer, nullable=False),
    sa.Column("bulan_lahir", sa.Integer, nullable=False),
    # The SPM year this semester serves (Y1 → Y, Y2 → Y+1) and the age on 31 December before it,
    # the reference date of DESIGN §5 (= tahun_laporan − 1 − tahun_lahir).
    sa.Column("tahun_laporan", sa.Integer, nullable=False),
    sa.Column("umur_referensi", sa.Integer, nullable=False),
    sa.Column("kode_wilayah_domisili", sa.String(13), nullable=True),
    sa.Column("kode_desa_tinggal", sa.String(13), nullable=False),  # residence: domisili, else school desa
    sa.Column("kode_wilayah_sekolah", sa.String(13), nullable=False),
    sa.Column("last_update", sa.DateTime(timezone=True), nullable=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Index("ix_fact_peserta_didik_partition", "kode_kab_kota", "semester_id"),
    sa.Index("ix_fact_peserta_didik_desa", "semester_id", "kode_desa_tinggal"),
)

# --- Health (SATUSEHAT-style FHIR R4, DESIGN §3.3) ------------------------------------------------
# Partition periode = the `_lastUpdated` window `YYYY-MM-DDTHH:MM:SSZ/YYYY-MM-DDTHH:MM:SSZ` (UTC).
# Published tables are upserted by resource id (spm.ingest.kesehatan): a newer meta.lastUpdated
# replaces the row, an older or equal one changes nothing. No NIK or name is stored anywhere.


def _fhir_staging(name: str, id_column: str, *columns: sa.Column) -> sa.Table:
    """A FHIR type's staging table. Text received is staged whole (TEXT): a value longer than its
    published column is rejected by the suite with its reason, never cut to fit (a cut id merged
    distinct resources)."""
    return sa.Table(
        name,
        metadata,
        # No foreign key: checked per row it cost a third of staging's time; only the ingest writes
        # here, with the batch it opened (migration 0022).
        sa.Column("batch_id", sa.Integer, nullable=False),
        sa.Column("kode_kab_kota", sa.String(5), nullable=False),
        sa.Column("periode", sa.String(64), nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),  # order of arrival in the batch
        sa.Column(id_column, sa.Text, nullable=True),  # the FHIR resource id, whole (the suite checks its length)
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=True),  # meta.lastUpdated
        *columns,
        sa.Column("lolos", sa.Boolean, nullable=True),
        # A batch's rows are read through the first index, in the order they were staged; an id in a
        # batch is found through the second, which leads with the id so that SQLite never scans a
        # batch in the order of its random ids (migration 0025). On PostgreSQL the table is
        # UNLOGGED (migration 0024).
        sa.Index(f"ix_{name}_batch_row", "batch_id", "row_id"),
        sa.Index(f"ix_{name}_id_batch", id_column, "batch_id"),
    )


staging_pasien = _fhir_staging(
    "staging_pasien", "pasien_id",
    sa.Column("person_key", sa.String(64), nullable=True),  # HMAC of the NIK (else of the resource id)
    sa.Column("jenis_id", sa.String(8), nullable=True),  # nik | fhir: what person_key was made from
    sa.Column("nik_valid", sa.Boolean, nullable=True),
    sa.Column("jenis_kelamin", sa.Text, nullable=True),  # L | P from gender male | female
    sa.Column("tanggal_lahir", sa.Date, nullable=True),
    sa.Column("kode_desa", sa.Text, nullable=True),  # village, dotted Kemendagri form
)

fact_pasien = sa.Table(
    "fact_pasien",
    metadata,
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),  # the FHIR hub the patient came from
    sa.Column("pasien_id", sa.String(64), primary_key=True),
    sa.Column("person_key", sa.String(64), nullable=False),
    sa.Column("jenis_id", sa.String(8), nullable=False),
    sa.Column("nik_valid", sa.Boolean, nullable=False),
    sa.Column("jenis_kelamin", sa.String(1), nullable=False),
    sa.Column("tanggal_lahir", sa.Date, nullable=False),  # neonatal windows need the day (kes_bbl)
    sa.Column("kode_desa", sa.String(13), nullable=False),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("batch_id", sa.Integer, nullable=False),  # the batch, checked once per merge (migration 0023)
    sa.Index("ix_fact_pasien_person_key", "person_key"),
    sa.Index("ix_fact_pasien_desa", "kode_desa"),
)

# Clinical resources published before their patient (same hub, `subject` Patient/<id> not loaded
# yet): one row per resource while the reference is unresolved, `sejak` = when it was first
# published so. Deleted when the patient arrives (spm.ingest.kesehatan_references).
rujukan_pasien_tertunda = sa.Table(
    "rujukan_pasien_tertunda",
    metadata,
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),  # the hub
    sa.Column("entitas", sa.String(16), primary_key=True),  # kunjungan | observasi | kondisi
    sa.Column("resource_id", sa.String(64), primary_key=True),
    sa.Column("pasien_id", sa.String(64), nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),  # first published by
    sa.Column("sejak", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_rujukan_pasien_tertunda_pasien", "kode_kab_kota", "pasien_id"),
)

staging_kunjungan = _fhir_staging(
    "staging_kunjungan", "kunjungan_id",
    sa.Column("pasien_id", sa.Text, nullable=True),  # subject Patient/<id>
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("kelas", sa.Text, nullable=True),  # class.code (AMB, IMP, ...)
    sa.Column("tanggal_mulai", sa.DateTime(timezone=True), nullable=True),  # period.start
    sa.Column("organisasi_id", sa.Text, nullable=True),  # serviceProvider Organization/<id>
    sa.Column("kode_alasan", sa.Text, nullable=True),  # reasonCode coding (ICD-10 preferred)
    sa.Column("sistem_alasan", sa.Text, nullable=True),
)

fact_kunjungan = sa.Table(
    "fact_kunjungan",
    metadata,
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
    sa.Column("kunjungan_id", sa.String(64), primary_key=True),
    sa.Column("pasien_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("kelas", sa.String(16), nullable=True),
    sa.Column("tanggal_mulai", sa.DateTime(timezone=True), nullable=False),
    sa.Column("organisasi_id", sa.String(64), nullable=True),
    sa.Column("kode_alasan", sa.String(32), nullable=True),
    sa.Column("sistem_alasan", sa.String(128), nullable=True),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("batch_id", sa.Integer, nullable=False),  # the batch, checked once per merge (migration 0023)
    sa.Index("ix_fact_kunjungan_pasien", "kode_kab_kota", "pasien_id"),
    sa.Index("ix_fact_kunjungan_tanggal", "kode_kab_kota", "tanggal_mulai"),
)

staging_observasi = _fhir_staging(
    "staging_observasi", "observasi_id",
    sa.Column("pasien_id", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    sa.Column("tanggal_efektif", sa.DateTime(timezone=True), nullable=True),  # effectiveDateTime
    sa.Column("kode", sa.Text, nullable=True),  # code.coding (LOINC preferred)
    sa.Column("sistem_kode", sa.Text, nullable=True),
    sa.Column("nilai", sa.Float, nullable=True),  # valueQuantity.value
    sa.Column("satuan", sa.Text, nullable=True),  # valueQuantity.code (UCUM), else .unit
    sa.Column("nilai_sistolik", sa.Float, nullable=True),  # component LOINC 8480-6
    sa.Column("nilai_diastolik", sa.Float, nullable=True),  # component LOINC 8462-4
    sa.Column("nilai_kode", sa.Text, nullable=True),  # valueCodeableConcept (test results)
)

fact_observasi = sa.Table(
    "fact_observasi",
    metadata,
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
    sa.Column("observasi_id", sa.String(64), primary_key=True),
    sa.Column("pasien_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("tanggal_efektif", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kode", sa.String(32), nullable=False),
    sa.Column("sistem_kode", sa.String(128), nullable=False),
    sa.Column("nilai", sa.Float, nullable=True),
    sa.Column("satuan", sa.String(32), nullable=True),
    sa.Column("nilai_sistolik", sa.Float, nullable=True),
    sa.Column("nilai_diastolik", sa.Float, nullable=True),
    sa.Column("nilai_kode", sa.String(32), nullable=True),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("batch_id", sa.Integer, nullable=False),  # the batch, checked once per merge (migration 0023)
    sa.Index("ix_fact_observasi_pasien", "kode_kab_kota", "pasien_id"),
    sa.Index("ix_fact_observasi_tanggal", "kode_kab_kota", "tanggal_efektif"),
)

staging_kondisi = _fhir_staging(
    "staging_kondisi", "kondisi_id",
    sa.Column("pasien_id", sa.Text, nullable=True),
    sa.Column("status_klinis", sa.Text, nullable=True),  # clinicalStatus
    sa.Column("status_verifikasi", sa.Text, nullable=True),  # verificationStatus (absent: NULL)
    sa.Column("tanggal_onset", sa.DateTime(timezone=True), nullable=True),  # onsetDateTime
    sa.Column("kode", sa.Text, nullable=True),  # code.coding (ICD-10 preferred)
    sa.Column("sistem_kode", sa.Text, nullable=True),
)

fact_kondisi = sa.Table(
    "fact_kondisi",
    metadata,
    sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
    sa.Column("kondisi_id", sa.String(64), primary_key=True),
    sa.Column("pasien_id", sa.String(64), nullable=False),
    sa.Column("status_klinis", sa.String(32), nullable=True),
    sa.Column("status_verifikasi", sa.String(32), nullable=True),
    sa.Column("tanggal_onset", sa.DateTime(timezone=True), nullable=True),
    sa.Column("kode", sa.String(32), nullable=False),
    sa.Column("sistem_kode", sa.String(128), nullable=False),
    sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("batch_id", sa.Integer, nullable=False),  # the batch, checked once per merge (migration 0023)
    sa.Index("ix_fact_kondisi_pasien", "kode_kab_kota", "pasien_id"),
)
