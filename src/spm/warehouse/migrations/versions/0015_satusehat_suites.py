"""The health suites are named after their source and entity, like the others (docs/naming.md).

`fhir_patient`, `fhir_encounter`, `fhir_observation` and `fhir_condition` became
`satusehat_pasien`, `satusehat_kunjungan`, `satusehat_observasi` and `satusehat_kondisi`; the
results already stored are renamed with them, so a batch's history reads under one name.

Revision ID: 0015_satusehat_suites
Revises: 0014_dukcapil_staging_text
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_satusehat_suites"
down_revision = "0014_dukcapil_staging_text"
branch_labels = None
depends_on = None

RENAMED = {
    "fhir_patient": "satusehat_pasien",
    "fhir_encounter": "satusehat_kunjungan",
    "fhir_observation": "satusehat_observasi",
    "fhir_condition": "satusehat_kondisi",
}
TABLES = ("dq_result", "dq_validation_result")


def _rename(names: dict[str, str]) -> None:
    for table in TABLES:
        t = sa.table(table, sa.column("suite", sa.String))
        for old, new in names.items():
            op.execute(t.update().where(t.c.suite == old).values(suite=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
