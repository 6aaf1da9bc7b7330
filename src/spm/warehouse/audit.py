"""The audit trail: one `etl_batch` row per loaded partition, with its counts and status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from spm.errors import RowAccountingError
from spm.warehouse.tables import BATCH_STATUSES, dq_result, etl_batch, quarantine
from spm.warehouse.status import BatchStatus, SETTLED


WIB = timezone(timedelta(hours=7))  # Western Indonesia Time: what OPD staff and Disdukcapil read


def now() -> datetime:
    return datetime.now(timezone.utc)


def aware(t: datetime | None) -> datetime | None:
    """A timestamp read back from the warehouse, zone-aware: SQLite gives naive datetimes, and
    everything stored is UTC."""
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def start_batch(
    conn: sa.Connection, source: str, entity: str, kode_wilayah: str, periode: str, run_id: str | None
) -> int:
    result = conn.execute(
        sa.insert(etl_batch).values(
            source=source, entity=entity, kode_wilayah=kode_wilayah, periode=periode, run_id=run_id,
            status=BatchStatus.RUNNING, started_at=now(),
        ).returning(etl_batch.c.batch_id)
    )
    return result.scalar_one()


def finish_batch(conn: sa.Connection, batch_id: int, status: str, **fields) -> None:
    if status not in BATCH_STATUSES:
        raise ValueError(f"unknown batch status {status!r}")
    conn.execute(
        sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id)
        .values(status=status, finished_at=now(), **fields)
    )


@dataclass(frozen=True)
class RowAccount:
    """Where every received row of a batch went. Published only when they add up."""
    received: int
    published: int
    quarantined: int
    duplicate: int  # merged into another row of the same record (same person, older FHIR version)
    unchanged: int = 0  # its published version was already as new

    def problem(self) -> str | None:
        accounted = self.published + self.quarantined + self.duplicate + self.unchanged
        if accounted == self.received:
            return None
        return (f"rows do not add up: {self.received} received, but {self.published} published + "
                f"{self.quarantined} quarantined + {self.duplicate} merged duplicates + {self.unchanged} "
                f"already published = {accounted}; nothing published")


def close_published(conn: sa.Connection, batch_id: int, published: int, message: str, *,
                    unchanged: int = 0) -> RowAccount:
    """Close a batch as published, inside its publishing transaction, once its rows add up (DESIGN §7:
    rows received / published / quarantined). Raises RowAccountingError otherwise, so the caller's
    transaction, and with it the publication, is rolled back: a row that vanished between the source
    and the published table stops the batch instead of shrinking a figure unnoticed. The quarantine
    count is checked against the quarantine table itself."""
    batch = conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == batch_id)).one()
    held = conn.execute(sa.select(sa.func.count()).select_from(quarantine)
                        .where(quarantine.c.batch_id == batch_id)).scalar_one()
    where = f"batch {batch_id} ({batch.source}/{batch.entity} {batch.kode_wilayah} {batch.periode})"
    if held != batch.rows_quarantined:
        raise RowAccountingError(f"{where}: {batch.rows_quarantined} rows counted as quarantined but the "
                                 f"quarantine holds {held}; nothing published")
    account = RowAccount(batch.rows_received, published, batch.rows_quarantined, batch.rows_duplicate, unchanged)
    problem = account.problem()
    if problem:
        raise RowAccountingError(f"{where}: {problem}")
    finish_batch(conn, batch_id, BatchStatus.PUBLISHED, rows_published=published, rows_unchanged=unchanged, message=message)
    return account


def last_published_checksum(
    conn: sa.Connection, source: str, entity: str, kode_wilayah: str, periode: str
) -> str | None:
    """The checksum of the partition as currently published (for 'unchanged source' detection)."""
    return conn.execute(
        sa.select(etl_batch.c.checksum)
        .where(
            etl_batch.c.source == source, etl_batch.c.entity == entity,
            etl_batch.c.kode_wilayah == kode_wilayah, etl_batch.c.periode == periode,
            etl_batch.c.status.in_(SETTLED),
        )
        .order_by(etl_batch.c.batch_id.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class BatchSummary:
    batch_id: int
    source: str
    entity: str
    kode_wilayah: str
    periode: str
    status: str
    rows_received: int
    rows_published: int
    rows_quarantined: int
    failed_expectations: int
    started_at: datetime
    finished_at: datetime | None
    message: str | None


def recent_batches(engine: sa.Engine, limit: int = 20) -> list[BatchSummary]:
    failed = (
        sa.select(dq_result.c.batch_id, sa.func.count().label("n"))
        .where(dq_result.c.success.is_(False))
        .group_by(dq_result.c.batch_id)
        .subquery()
    )
    query = (
        sa.select(
            etl_batch.c.batch_id, etl_batch.c.source, etl_batch.c.entity, etl_batch.c.kode_wilayah,
            etl_batch.c.periode, etl_batch.c.status, etl_batch.c.rows_received, etl_batch.c.rows_published,
            etl_batch.c.rows_quarantined, sa.func.coalesce(failed.c.n, 0), etl_batch.c.started_at,
            etl_batch.c.finished_at, etl_batch.c.message,
        )
        .select_from(etl_batch.outerjoin(failed, failed.c.batch_id == etl_batch.c.batch_id))
        .order_by(etl_batch.c.batch_id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [BatchSummary(*row) for row in conn.execute(query)]


def quarantined_count(engine: sa.Engine, batch_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(quarantine).where(quarantine.c.batch_id == batch_id)
        ).scalar_one()
