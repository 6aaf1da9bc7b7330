"""FHIR statuses and late-arriving patients (DESIGN §5).

Condition verificationStatus is kept (a refuted or entered-in-error diagnosis never counts).
`rujukan_pasien_tertunda` lists the clinical resources published before their patient.

Revision ID: 0010_fhir_status_rujukan
Revises: 0009_dq_validation_result
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_fhir_status_rujukan"
down_revision = "0009_dq_validation_result"
branch_labels = None
depends_on = None

TABLES = ("staging_kondisi", "fact_kondisi")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("status_verifikasi", sa.String(32), nullable=True))
    op.create_table(
        "rujukan_pasien_tertunda",
        sa.Column("kode_kab_kota", sa.String(5), primary_key=True),
        sa.Column("entitas", sa.String(16), primary_key=True),
        sa.Column("resource_id", sa.String(64), primary_key=True),
        sa.Column("pasien_id", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("sejak", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rujukan_pasien_tertunda_pasien", "rujukan_pasien_tertunda", ["kode_kab_kota", "pasien_id"])


def downgrade() -> None:
    op.drop_table("rujukan_pasien_tertunda")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("status_verifikasi")
