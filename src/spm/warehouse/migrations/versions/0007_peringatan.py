"""Alerts: problem state with fingerprints (grouping, reminders, resolution), delivery log, scan watermark.

Revision ID: 0007_peringatan
Revises: 0006_input_opd
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_peringatan"
down_revision = "0006_input_opd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peringatan",
        sa.Column("fingerprint", sa.String(255), primary_key=True),
        sa.Column("jenis", sa.String(32), nullable=False),
        sa.Column("pemilik", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=True),
        sa.Column("entity", sa.String(64), nullable=True),
        sa.Column("kode_wilayah", sa.String(13), nullable=True),
        sa.Column("periode", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("isi_hash", sa.String(64), nullable=False),
        sa.Column("ringkasan", sa.Text, nullable=False),
        sa.Column("detail", sa.JSON, nullable=True),
        sa.Column("batch_id", sa.Integer, nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("jumlah_terlihat", sa.Integer, nullable=False, server_default="1"),
        sa.Column("jumlah_kirim", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_peringatan_status_pemilik", "peringatan", ["status", "pemilik"])
    op.create_index("ix_peringatan_partition", "peringatan", ["source", "entity", "kode_wilayah", "periode"])
    op.create_table(
        "peringatan_kirim",
        sa.Column("kirim_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dikirim_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pemilik", sa.String(32), nullable=False),
        sa.Column("saluran", sa.String(16), nullable=False),
        sa.Column("referensi", sa.String(255), nullable=False),
        sa.Column("jenis_pesan", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(255), nullable=True),
        sa.Column("judul", sa.Text, nullable=False),
        sa.Column("berhasil", sa.Boolean, nullable=False),
        sa.Column("galat", sa.Text, nullable=True),
    )
    op.create_index("ix_peringatan_kirim_waktu", "peringatan_kirim", ["dikirim_at"])
    op.create_table(
        "peringatan_pindai",
        sa.Column("pindai_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("jenis", sa.String(32), nullable=False),
        sa.Column("batch_id_sampai", sa.Integer, nullable=False),
        sa.Column("dipindai_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("peringatan_pindai")
    op.drop_table("peringatan_kirim")
    op.drop_table("peringatan")
