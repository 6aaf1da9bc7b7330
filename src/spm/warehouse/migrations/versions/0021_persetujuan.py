"""Approval before publishing: dashboard accounts and sessions, verification per bidang, approval and
revisions of a quarter (spm.warehouse.tables_persetujuan).

Revision ID: 0021_persetujuan
Revises: 0020_input_ikm
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_persetujuan"
down_revision = "0020_input_ikm"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def _quarter() -> list[sa.Column]:
    return [sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
            sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("revisi", sa.Integer, primary_key=True, autoincrement=False)]


def upgrade() -> None:
    op.create_table(
        "pengguna",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("nama", sa.String(255), nullable=False),
        sa.Column("peran", sa.String(16), nullable=False),
        sa.Column("kode_wilayah", sa.String(5), nullable=True),
        sa.Column("bidang", sa.String(32), nullable=True),
        sa.Column("kata_sandi_hash", sa.String(255), nullable=False),
        sa.Column("aktif", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("dibuat_at", _TZ, nullable=False),
    )
    op.create_table(
        "sesi_dasbor",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), sa.ForeignKey("pengguna.username"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("dibuat_at", _TZ, nullable=False),
        sa.Column("kedaluwarsa_at", _TZ, nullable=False),
    )
    op.create_index("ix_sesi_dasbor_kedaluwarsa", "sesi_dasbor", ["kedaluwarsa_at"])
    op.create_table(
        "persetujuan_triwulan",
        *_quarter(),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sidik", sa.String(64), nullable=True),
        sa.Column("disetujui_oleh", sa.String(64), nullable=True),
        sa.Column("disetujui_at", _TZ, nullable=True),
        sa.Column("dibuka_oleh", sa.String(64), nullable=True),
        sa.Column("dibuka_at", _TZ, nullable=True),
        sa.Column("alasan_buka", sa.Text, nullable=True),
        sa.Column("dibuat_at", _TZ, nullable=False),
    )
    op.create_table(
        "verifikasi_bidang",
        *_quarter(),
        sa.Column("bidang", sa.String(32), primary_key=True),
        sa.Column("sidik", sa.String(64), nullable=False),
        sa.Column("oleh", sa.String(64), nullable=False),
        sa.Column("pada", _TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("verifikasi_bidang")
    op.drop_table("persetujuan_triwulan")
    op.drop_index("ix_sesi_dasbor_kedaluwarsa", table_name="sesi_dasbor")
    op.drop_table("sesi_dasbor")
    op.drop_table("pengguna")
