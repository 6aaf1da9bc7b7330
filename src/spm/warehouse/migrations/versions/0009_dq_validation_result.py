"""dq_validation_result: GX's own validation result per batch and suite, privacy-scrubbed, for Data Docs.

Revision ID: 0009_dq_validation_result
Revises: 0008_terlayani_bulanan
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_dq_validation_result"
down_revision = "0008_terlayani_bulanan"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dq_validation_result",
        sa.Column("dq_validation_result_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
        sa.Column("suite", sa.String(128), nullable=False),
        sa.Column("bagian", sa.Integer, nullable=False, server_default="0"),
        sa.Column("success", sa.Boolean, nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("batch_id", "suite", "bagian", name="uq_dq_validation_result_batch_suite_bagian"),
    )
    op.create_index("ix_dq_validation_result_checked_at", "dq_validation_result", ["checked_at"])


def downgrade() -> None:
    op.drop_table("dq_validation_result")
