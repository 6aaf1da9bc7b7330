"""An OPD workbook's batch is recorded under its bidang, like other sources' plain entity nouns.

Entity `input_opd_<bidang>` (the source repeated in the entity) became `<bidang>` (`pendidikan`,
`kesehatan`) in `etl_batch`, `inbox_file` and `peringatan`, and in the alert fingerprints that
name it (`kritis:opd:input_opd_kesehatan:…` → `kritis:opd:kesehatan:…`, also in
`peringatan_kirim`), so an open alert stays the same alert.

Revision ID: 0016_opd_entity_bidang
Revises: 0015_satusehat_suites
Create Date: 2026-12-03
"""

import re

from alembic import op

revision = "0016_opd_entity_bidang"
down_revision = "0015_satusehat_suites"
branch_labels = None
depends_on = None

PREFIX = "input_opd_"
ENTITY_TABLES = ("etl_batch", "inbox_file", "peringatan")


def upgrade() -> None:
    n = len(PREFIX)
    for table in ENTITY_TABLES:
        op.execute(f"UPDATE {table} SET entity = substr(entity, {n + 1}) "
                   f"WHERE source = 'opd' AND substr(entity, 1, {n}) = '{PREFIX}'")
    for table in ("peringatan", "peringatan_kirim"):
        op.execute(f"UPDATE {table} SET fingerprint = replace(fingerprint, ':opd:{PREFIX}', ':opd:') "
                   f"WHERE fingerprint LIKE '%:opd:{PREFIX}%'")


def downgrade() -> None:
    n = len(PREFIX)
    conn = op.get_bind()
    # The bidang named in fingerprints (a refused file's `berkas_ditolak:opd:<hash>` names none).
    bidang = [row[0] for row in conn.exec_driver_sql(
        "SELECT DISTINCT entity FROM peringatan WHERE source = 'opd' AND entity IS NOT NULL "
        f"AND substr(entity, 1, {n}) <> '{PREFIX}'") if re.fullmatch(r"[a-z_]+", row[0])]
    for table in ENTITY_TABLES:
        op.execute(f"UPDATE {table} SET entity = '{PREFIX}' || entity "
                   f"WHERE source = 'opd' AND entity IS NOT NULL AND substr(entity, 1, {n}) <> '{PREFIX}'")
    for name in bidang:
        for table in ("peringatan", "peringatan_kirim"):
            op.execute(f"UPDATE {table} SET fingerprint = replace(fingerprint, ':opd:{name}:', ':opd:{PREFIX}{name}:') "
                       f"WHERE fingerprint LIKE '%:opd:{name}:%'")
