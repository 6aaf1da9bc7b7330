"""GX's own validation results (issue 9, Data Docs), kept beside the batches they judge.

`dq_result` holds one row per expectation per batch (the project's view: names, severity, counts).
`dq_validation_result` holds, per batch and suite, Great Expectations' own
`ExpectationSuiteValidationResult.to_json_dict()` so that GX Data Docs can be rendered from it
(`spm.reporting.gx_docs`). It is privacy-scrubbed before it is written (`spm.quality.gx_scrub`):
counts, percents, statistics, expectation configuration and meta stay; failing values, value
counts, row indexes, free-text exception details and any observed value that could be a raw value
are removed (DESIGN §4). It is written in the same transaction as the batch's `dq_result` rows; a
re-validation of the batch replaces it. `bagian` numbers the parts of a batch validated in chunks
(0 when the batch is validated whole).
"""

from __future__ import annotations

import sqlalchemy as sa

from spm.warehouse.tables import metadata

dq_validation_result = sa.Table(
    "dq_validation_result",
    metadata,
    sa.Column("dq_validation_result_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("etl_batch.batch_id"), nullable=False),
    sa.Column("suite", sa.String(128), nullable=False),
    sa.Column("bagian", sa.Integer, nullable=False, server_default="0"),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("result_json", sa.Text, nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("batch_id", "suite", "bagian", name="uq_dq_validation_result_batch_suite_bagian"),
    sa.Index("ix_dq_validation_result_checked_at", "checked_at"),
)
