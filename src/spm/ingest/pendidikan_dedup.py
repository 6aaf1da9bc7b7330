"""Duplicate listings of an education partition: one row per school, one row per person.

A school listing asked page by page may repeat a school: `dedup_schools` keeps one row per NPSN
before staging. A person may be listed by two schools in one semester (a transfer, or last year's
`lulus` row beside this year's `aktif`): the publish SQL (sql/core/fact_peserta_didik_publish.sql,
rule in spm.ingest.pendidikan) keeps one row per person_key, and `record_duplicates` counts the
merged listings into `etl_batch.rows_duplicate` and the batch message before it runs (received =
published + quarantined + duplicates).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from spm.warehouse.audit import WIB
from spm.warehouse.tables import etl_batch, staging_peserta_didik


def dedup_schools(rows: list[dict]) -> tuple[list[dict], int]:
    """One row per npsn (a listing page asked twice may repeat schools): the latest last_update,
    then the first listed. Rows without npsn stay (the suite quarantines them)."""
    best: dict[str, dict] = {}
    kept: list[dict] = []
    for row in rows:
        npsn = row["npsn"]
        if npsn is None:
            kept.append(row)
            continue
        other = best.get(npsn)
        if other is None or (row["last_update"] or datetime.min.replace(tzinfo=WIB)) > (
                other["last_update"] or datetime.min.replace(tzinfo=WIB)):
            best[npsn] = row
    kept += best.values()
    kept.sort(key=lambda r: r["row_id"])
    return kept, len(rows) - len(kept)


def duplicate_count(conn: sa.Connection, batch_id: int) -> int:
    """Passing learner rows that the publish merges into another row of the same person."""
    t = staging_peserta_didik
    passing = sa.and_(t.c.batch_id == batch_id, t.c.lolos.is_(True))
    rows = conn.execute(sa.select(sa.func.count()).select_from(t).where(passing)).scalar_one()
    persons = conn.execute(sa.select(sa.func.count(sa.distinct(t.c.person_key))).where(passing)).scalar_one()
    return rows - persons


def record_duplicates(engine: sa.Engine, batch_id: int) -> int:
    """Count the learner batch's merged listings into its `rows_duplicate` and message; return them."""
    with engine.begin() as conn:
        duplicates = duplicate_count(conn, batch_id)
        message = conn.execute(sa.select(etl_batch.c.message).where(etl_batch.c.batch_id == batch_id)).scalar_one()
        if duplicates:
            message = (message + "; " if message else "") + f"{duplicates} duplicate listing(s) merged"
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id)
                     .values(rows_duplicate=duplicates, message=message))
    return duplicates
