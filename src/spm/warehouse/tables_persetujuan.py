"""Approval of a quarter's figures (DESIGN §7, docs/persetujuan.md): dashboard accounts and sessions,
the verification of each bidang by its OPD, the approval by the Bagian Tata Pemerintahan, and the
revisions a re-opened quarter gets.

A quarter (kab/kota x tahun x triwulan) starts as `draf` revision 1. Each bidang's verification
and the approval record the fingerprint (`sidik`) of the figures they looked at; an approved
quarter is locked at that fingerprint until it is re-opened with a reason, which closes the revision
and starts the next one. Nothing is deleted: who did what and when stays for every revision.
Passwords are stored as scrypt hashes, sessions as the sha256 of their token.
"""

from __future__ import annotations

import sqlalchemy as sa

from spm.warehouse.tables import metadata

PERAN = ("pembaca", "verifikator", "penyetuju")  # viewer, verifier of one bidang, approver
STATUS_DRAF, STATUS_DISETUJUI, STATUS_DIBUKA = "draf", "disetujui", "dibuka"

pengguna = sa.Table(
    "pengguna",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("nama", sa.String(255), nullable=False),
    sa.Column("peran", sa.String(16), nullable=False),  # one of PERAN
    sa.Column("kode_wilayah", sa.String(5), nullable=True),  # the daerah the account belongs to; NULL: every one
    sa.Column("bidang", sa.String(32), nullable=True),  # a verifikator's bidang
    sa.Column("kata_sandi_hash", sa.String(255), nullable=False),
    sa.Column("aktif", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("dibuat_at", sa.DateTime(timezone=True), nullable=False),
)

sesi_dasbor = sa.Table(
    "sesi_dasbor",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), sa.ForeignKey("pengguna.username"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("dibuat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kedaluwarsa_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_sesi_dasbor_kedaluwarsa", "kedaluwarsa_at"),
)

def _quarter_revision() -> list[sa.Column]:
    """The key both approval tables start with: a quarter of a kab/kota (or provinsi) and its revision."""
    return [sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
            sa.Column("tahun", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("triwulan", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("revisi", sa.Integer, primary_key=True, autoincrement=False)]


persetujuan_triwulan = sa.Table(
    "persetujuan_triwulan",
    metadata,
    *_quarter_revision(),
    sa.Column("status", sa.String(16), nullable=False),  # draf | disetujui | dibuka (closed by a re-opening)
    sa.Column("sidik", sa.String(64), nullable=True),  # fingerprint of the approved figures
    sa.Column("disetujui_oleh", sa.String(64), nullable=True),
    sa.Column("disetujui_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("dibuka_oleh", sa.String(64), nullable=True),
    sa.Column("dibuka_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("alasan_buka", sa.Text, nullable=True),
    sa.Column("dibuat_at", sa.DateTime(timezone=True), nullable=False),
)

verifikasi_bidang = sa.Table(
    "verifikasi_bidang",
    metadata,
    *_quarter_revision(),
    sa.Column("bidang", sa.String(32), primary_key=True),
    sa.Column("sidik", sa.String(64), nullable=False),  # the bidang's figures as verified
    sa.Column("oleh", sa.String(64), nullable=False),
    sa.Column("pada", sa.DateTime(timezone=True), nullable=False),
)
