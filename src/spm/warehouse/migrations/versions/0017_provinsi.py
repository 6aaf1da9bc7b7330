"""Provinsi rows (DESIGN §7): how many of the province's kab/kota a row covers, and the province's
distinct-person counts before they join the sasaran.

`mart_capaian_spm.kab_kota_dimuat` / `kab_kota_total` are set on provinsi rows only (NULL on desa,
kecamatan and kab/kota rows). `work_capaian_provinsi` holds one computation batch's terlayani per
jenis layanan and sex: distinct persons over the kab/kota the row covers.

Revision ID: 0017_provinsi
Revises: 0016_opd_entity_bidang
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_provinsi"
down_revision = "0016_opd_entity_bidang"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mart_capaian_spm") as batch:
        batch.add_column(sa.Column("kab_kota_dimuat", sa.Integer, nullable=True))
        batch.add_column(sa.Column("kab_kota_total", sa.Integer, nullable=True))
    op.create_table(
        "work_capaian_provinsi",
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("kode_provinsi", sa.String(2), nullable=False),
        sa.Column("tahun", sa.Integer, nullable=False),
        sa.Column("triwulan", sa.Integer, nullable=False),
        sa.Column("kode_layanan", sa.String(32), nullable=False),
        sa.Column("jenis_kelamin", sa.String(5), nullable=False),
        sa.Column("terlayani", sa.Integer, nullable=False),
        sa.Column("sasaran_koreksi", sa.Float, nullable=True),
    )
    op.create_index("ix_work_capaian_provinsi_partition", "work_capaian_provinsi",
                    ["kode_provinsi", "tahun", "triwulan"])


def downgrade() -> None:
    op.drop_index("ix_work_capaian_provinsi_partition", table_name="work_capaian_provinsi")
    op.drop_table("work_capaian_provinsi")
    with op.batch_alter_table("mart_capaian_spm") as batch:
        batch.drop_column("kab_kota_total")
        batch.drop_column("kab_kota_dimuat")
