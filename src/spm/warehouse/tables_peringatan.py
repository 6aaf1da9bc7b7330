"""Alert state (issue 9): open data-quality and technical problems, deliveries, and scan watermarks.

A problem is one row of `peringatan`, keyed by a fingerprint that names what is wrong and where
(kind, source, entity, kab/kota, period, expectation or task), so that the same open problem seen
every night is one row, re-alerted only when its content changes or the reminder interval passes,
and announced once when it is resolved. Nothing here holds personal data: summaries and details are
built from counts, expectation names, codes, periods and batch ids only.
"""

from __future__ import annotations

import sqlalchemy as sa

from spm.warehouse.tables import metadata

STATUS_OPEN, STATUS_RESOLVED = "open", "resolved"

peringatan = sa.Table(
    "peringatan",
    metadata,
    sa.Column("fingerprint", sa.String(255), primary_key=True),
    sa.Column("jenis", sa.String(32), nullable=False),  # kritis | karantina | penyebut_hilang | lonjakan_capaian | ...
    sa.Column("pemilik", sa.String(32), nullable=False),  # owner id in config/peringatan.yaml
    sa.Column("source", sa.String(32), nullable=True),
    sa.Column("entity", sa.String(64), nullable=True),
    sa.Column("kode_wilayah", sa.String(13), nullable=True),
    sa.Column("periode", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # open | resolved
    sa.Column("isi_hash", sa.String(64), nullable=False),  # what the problem currently is; a change re-alerts
    sa.Column("ringkasan", sa.Text, nullable=False),
    sa.Column("detail", sa.JSON, nullable=True),
    sa.Column("batch_id", sa.Integer, nullable=True),  # latest batch showing the problem
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_sent", sa.DateTime(timezone=True), nullable=True),  # NULL: not delivered yet
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("jumlah_terlihat", sa.Integer, nullable=False, server_default="1"),
    sa.Column("jumlah_kirim", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_peringatan_status_pemilik", "status", "pemilik"),
    sa.Index("ix_peringatan_partition", "source", "entity", "kode_wilayah", "periode"),
)

# Every delivery attempt, per channel: the audit of who was told what and when (never the address).
peringatan_kirim = sa.Table(
    "peringatan_kirim",
    metadata,
    sa.Column("kirim_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dikirim_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("pemilik", sa.String(32), nullable=False),
    sa.Column("saluran", sa.String(16), nullable=False),  # email | webhook | telegram
    sa.Column("referensi", sa.String(255), nullable=False),  # connection / Variable names used, not their values
    sa.Column("jenis_pesan", sa.String(16), nullable=False),  # baru | berubah | pengingat | selesai | ringkasan
    sa.Column("fingerprint", sa.String(255), nullable=True),
    sa.Column("judul", sa.Text, nullable=False),
    sa.Column("berhasil", sa.Boolean, nullable=False),
    sa.Column("galat", sa.Text, nullable=True),
    sa.Index("ix_peringatan_kirim_waktu", "dikirim_at"),
)

# One row per scan of etl_batch: the next scan re-reads partitions with batches above the watermark.
peringatan_pindai = sa.Table(
    "peringatan_pindai",
    metadata,
    sa.Column("pindai_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("jenis", sa.String(32), nullable=False),  # batch
    sa.Column("batch_id_sampai", sa.Integer, nullable=False),
    sa.Column("dipindai_at", sa.DateTime(timezone=True), nullable=False),
)
