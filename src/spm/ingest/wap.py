"""The write-audit-publish steps every source shares (DESIGN §2, §9).

1. stage: the batch lands in its `staging_*` table (replacing the partition's previous staging rows)
   with an `etl_batch` row; a batch whose source checksum equals the published one stops here as
   `unchanged`.
2. validate: the staged rows are read back as a DataFrame and checked with the entity's GX suite;
   every expectation gives a `dq_result` row (and GX's own scrubbed result a `dq_validation_result`
   row, for the GX Data Docs), rows failing warning expectations go to `quarantine`, critical
   failures or too many quarantined rows stop the batch.
3. publish: one transaction runs the entity's `sql/core/*_publish.sql` (replace the fact partition
   with the batch's passing rows) and closes the `etl_batch` row.

Between tasks a step hands over a plain dict through XCom: its source's typed partition
(`to_dict()`, read back with `from_dict()`: `kependudukan.Partition`, `pendidikan_spec.Partition`,
`kesehatan_spec.Window`) merged with the step's `BatchOutcome.to_dict()` (status a `BatchStatus`).
The inbox of the file-fed sources is `spm.ingest.inbox`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.warehouse.audit import close_published, finish_batch, last_published_checksum, now, start_batch
from spm.warehouse.bulk import insert_rows, replace_partition
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.dq_results import write_dq_results
from spm.warehouse.tables import etl_batch, quarantine
from spm.warehouse.status import BatchStatus

log = logging.getLogger(__name__)


# The columns every staged row starts with; a source's own columns follow (EntitySpec.columns).
STAGED_PREFIX = ("batch_id", "kode_kab_kota", "periode", "row_id")


@dataclass(frozen=True)
class EntitySpec:
    source: str
    entity: str
    staging: sa.Table
    columns: tuple[str, ...]  # staged columns besides batch_id, kode_kab_kota, periode, row_id
    suite: str
    publish_sql: str  # relative to sql/
    natural_key: tuple[str, ...]
    fact: sa.Table


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: int
    status: BatchStatus
    message: str = ""
    rows_received: int = 0
    rows_published: int = 0
    rows_quarantined: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def quarantine_limit_percent() -> float:
    return float(load_yaml("kualitas.yaml")["batas_karantina_persen"])


def quarantine_min_rows() -> int:
    return int(load_yaml("kualitas.yaml").get("batas_karantina_minimal_baris", 0))


def quarantine_rejection(quarantined: int, received: int) -> str | None:
    """Why a batch with `quarantined` of `received` rows failing warning expectations is not
    published, or None. The share applies only above a minimum count, so that one odd row in a
    small nightly batch does not stop it (its rows are still quarantined and reported)."""
    share = 100.0 * quarantined / received if received else 0.0
    limit, minimum = quarantine_limit_percent(), quarantine_min_rows()
    if share <= limit or quarantined <= minimum:
        return None
    return (f"{quarantined} of {received} rows ({share:.1f} %) failed warning expectations, above the "
            f"{limit:.1f} % limit in kualitas.yaml (applied above {minimum} rows); nothing published")


def verdict(suite: str, outcomes: Sequence, quarantined: int, received: int) -> tuple[BatchStatus, str]:
    """Whether a validated batch may be published: a failed critical expectation stops it, so does a
    quarantined share above the limit; else it is `validated`, with the suite's summary."""
    critical = [o for o in outcomes if o.severity == "critical" and not o.success]
    if critical:
        return BatchStatus.FAILED, "critical expectation failed, nothing published: " + ", ".join(
            f"{o.name} ({o.unexpected_count if o.unexpected_count is not None else 'batch'})" for o in critical)
    rejection = quarantine_rejection(quarantined, received)
    if rejection:
        return BatchStatus.REJECTED, rejection
    from spm.quality.gx_runner import summary

    return BatchStatus.VALIDATED, summary(suite, outcomes)


def record_verdict(conn: sa.Connection, batch_id: int, status: BatchStatus, **values: Any) -> None:
    """Write the verdict on the batch row: a validated batch stays `running` until it is published,
    any other verdict settles it."""
    if status == BatchStatus.VALIDATED:
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id).values(**values))
    else:
        finish_batch(conn, batch_id, status, **values)


def open_batch(conn: sa.Connection, source: str, entity: str, kode_kab_kota: str, periode: str,
               run_id: str | None, staging: Iterable[sa.Table] = ()) -> int:
    """Start the `etl_batch` of a partition's load, the one way every ingest starts one.

    An earlier batch of the partition still `running` (its task gave up, its worker stopped, or
    another load of the partition) can never publish: it is closed as superseded and its rows in
    `staging` are removed."""
    batch_id = start_batch(conn, source, entity, kode_kab_kota, periode, run_id)
    b = etl_batch.c
    stale = list(conn.execute(sa.select(b.batch_id).where(
        b.source == source, b.entity == entity, b.kode_wilayah == kode_kab_kota, b.periode == periode,
        b.status == BatchStatus.RUNNING, b.batch_id != batch_id)).scalars())
    if stale:
        # Only a batch still running when its row is locked: one published meanwhile keeps its status.
        stale = list(conn.execute(sa.update(etl_batch).where(
            b.batch_id.in_(stale), b.status == BatchStatus.RUNNING).values(
            status=BatchStatus.FAILED, finished_at=now(),
            message=f"superseded by batch {batch_id}, a newer load of the partition; its staged rows were "
                    "removed, nothing of it published").returning(b.batch_id)).scalars())
        for table in staging:
            conn.execute(sa.delete(table).where(table.c.batch_id.in_(stale)))
    if stale:
        log.warning("%s %s %s %s: %d unfinished batch(es) superseded by batch %s", source, entity,
                    kode_kab_kota, periode, len(stale), batch_id)
    return batch_id


UNCHANGED_MESSAGE = "source unchanged since the published batch (same checksum); nothing republished"


def settle_unchanged(conn: sa.Connection, spec_source: str, entity: str, kode_kab_kota: str, periode: str,
                     batch_id: int, checksum: str, received: int, staging: Iterable[sa.Table] = (),
                     message: str = UNCHANGED_MESSAGE) -> BatchOutcome | None:
    """A batch whose source checksum equals the published one's stops as `unchanged` (its staged rows,
    if any, removed); None when the content is new."""
    if last_published_checksum(conn, spec_source, entity, kode_kab_kota, periode) != checksum:
        return None
    for table in staging:
        conn.execute(sa.delete(table).where(table.c.batch_id == batch_id))
    finish_batch(conn, batch_id, BatchStatus.UNCHANGED, checksum=checksum, rows_received=received, message=message)
    return BatchOutcome(batch_id, BatchStatus.UNCHANGED, message, received)


def stage(
    engine: sa.Engine, spec: EntitySpec, kode_kab_kota: str, periode: str, rows: Sequence[dict],
    checksum: str, run_id: str | None,
) -> BatchOutcome:
    with engine.begin() as conn:
        batch_id = open_batch(conn, spec.source, spec.entity, kode_kab_kota, periode, run_id, (spec.staging,))
        done = settle_unchanged(conn, spec.source, spec.entity, kode_kab_kota, periode, batch_id, checksum, len(rows))
        if done is not None:
            return done
        cols = (*STAGED_PREFIX, *spec.columns)
        replace_partition(
            conn, spec.staging, {"kode_kab_kota": kode_kab_kota, "periode": periode}, cols,
            ((batch_id, kode_kab_kota, periode, r["row_id"], *(r[c] for c in spec.columns)) for r in rows),
        )
        return record_staged(conn, batch_id, len(rows), checksum)


class StagingWriter:
    """The one writer of a streamed stage: rows `(row_id, *columns)` arrive in pieces (pages, a
    school's list) and are written to the batch's staging table in transactions of `flush_rows`, each
    prefixed with (batch_id, kode_kab_kota, periode), so memory holds at most one chunk whatever the
    partition's size. `write_chunk`, when given, takes each chunk instead of the plain insert (the
    health stream validates a chunk and stages it with its verdict in one transaction).

    The fetching (threads, paging) and the content checksum stay with the source; the batch is
    opened before (open_batch) and closed after (settle_unchanged / record_staged, or discard)."""

    def __init__(self, engine: sa.Engine, table: sa.Table, columns: Sequence[str], batch_id: int,
                 kode_kab_kota: str, periode: str, flush_rows: int,
                 write_chunk: Callable[[list[tuple]], None] | None = None) -> None:
        self.engine, self.table = engine, table
        self.columns = (*STAGED_PREFIX, *columns)
        self.prefix = (batch_id, kode_kab_kota, periode)
        self.flush_rows = flush_rows
        self.write_chunk = write_chunk
        self.received = 0
        self._buffer: list[tuple] = []

    def add(self, rows: Iterable[tuple]) -> None:
        """Append rows `(row_id, *columns)`; a full chunk is written at once."""
        before = len(self._buffer)
        self._buffer.extend(rows)
        self.received += len(self._buffer) - before
        if len(self._buffer) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (nothing when empty)."""
        if not self._buffer:
            return
        chunk, self._buffer = self._buffer, []  # a chunk handler may keep its list
        if self.write_chunk is not None:
            self.write_chunk(chunk)
            return
        prefix = self.prefix
        with self.engine.begin() as conn:
            insert_rows(conn, self.table, self.columns, ((*prefix, *row) for row in chunk))

    def drop(self) -> None:
        """Forget what is buffered (the load is lost; its written rows are discarded by the caller)."""
        self._buffer = []


def record_status(engine: sa.Engine, spec: EntitySpec, kode_kab_kota: str, periode: str, run_id: str | None,
                  status: str, message: str) -> BatchOutcome:
    """A batch that never got data (source missing, refused, unreachable): kept for the audit trail."""
    with engine.begin() as conn:
        batch_id = start_batch(conn, spec.source, spec.entity, kode_kab_kota, periode, run_id)
        finish_batch(conn, batch_id, status, message=message)
    return BatchOutcome(batch_id, status, message)


def record_staged(conn: sa.Connection, batch_id: int, received: int, checksum: str) -> BatchOutcome:
    """The end of a batch's stage, however its rows arrived: what was received and the checksum of
    the source's content are kept on the batch, which waits (`running`) for its verdict."""
    conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id)
                 .values(checksum=checksum, rows_received=received))
    return BatchOutcome(batch_id, BatchStatus.STAGED, rows_received=received)


def discard(conn: sa.Connection, batches: Mapping[int, Iterable[sa.Table]], message: str) -> None:
    """A load that cannot finish: each batch's rows in its staging tables are removed and the batch,
    if still `running`, is failed with `message` (a batch already settled keeps its status)."""
    for batch_id, staging in batches.items():
        for table in staging:
            conn.execute(sa.delete(table).where(table.c.batch_id == batch_id))
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id,
                                                etl_batch.c.status == BatchStatus.RUNNING)
                     .values(status=BatchStatus.FAILED, finished_at=now(), message=message))


# The warehouse connection failed: the task's retry carries on with the same `running` batch (a
# batch left behind by the last retry is failed by the partition's next stage, `superseded`).
TRANSIENT_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError)


@contextmanager
def settled_on_error(engine: sa.Engine, batch_id: int, step: str) -> Iterator[None]:
    """Whatever error stops `step` of a batch, the batch does not stay `running`: it is failed with
    the error named (its staged rows stay for the audit until the partition's next batch), and the
    error goes on to the caller. A lost warehouse connection is left to the task's retry."""
    try:
        yield
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        try:
            with engine.begin() as conn:
                conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id,
                                                        etl_batch.c.status == BatchStatus.RUNNING)
                             .values(status=BatchStatus.FAILED, finished_at=now(),
                                     message=f"{step} stopped: {type(exc).__name__}: {exc}"[:2000]))
        except Exception:  # noqa: BLE001 - the warehouse itself may be what failed; the first error matters
            log.warning("batch %s could not be marked failed after %s stopped", batch_id, step, exc_info=True)
        raise


class RowsChecksum:
    """Order-independent checksum of a multiset of rows, in one pass holding nothing (threads
    deliver pages in any order; a file is checksummed as it is read)."""

    MOD = 2**256

    def __init__(self) -> None:
        self.total = 0
        self.count = 0

    def add(self, row: tuple) -> None:
        self.add_bytes(repr(row).encode())

    def add_bytes(self, line: bytes) -> None:
        self.total = (self.total + int.from_bytes(hashlib.sha256(line).digest(), "big")) % self.MOD
        self.count += 1

    def hexdigest(self) -> str:
        return hashlib.sha256(f"{self.count}:{self.total:064x}".encode()).hexdigest()


def staged_frame(engine: sa.Engine, spec: EntitySpec, batch_id: int):
    import pandas as pd

    cols = ["row_id", *spec.columns]
    with engine.connect() as conn:
        result = conn.execute(
            sa.select(*(spec.staging.c[c] for c in cols)).where(spec.staging.c.batch_id == batch_id)
            .order_by(spec.staging.c.row_id)
        )
        frame = pd.DataFrame(result.all(), columns=cols)
    for c in cols:
        if isinstance(spec.staging.c[c].type, sa.Integer):
            frame[c] = frame[c].astype("Int64")
    return frame


def validate(engine: sa.Engine, spec: EntitySpec, batch_id: int, parameters: dict[str, Any],
             row_data: Callable[[dict], dict] | None = None) -> BatchOutcome:
    """Run the suite, store results and quarantine; decide whether the batch may be published."""
    with settled_on_error(engine, batch_id, f"validation of {spec.entity}"):
        return _validate(engine, spec, batch_id, parameters, row_data)


def _validate(engine: sa.Engine, spec: EntitySpec, batch_id: int, parameters: dict[str, Any],
              row_data: Callable[[dict], dict] | None) -> BatchOutcome:
    from spm.quality.gx_runner import validate_frame

    frame = staged_frame(engine, spec, batch_id)
    report = validate_frame(spec.suite, frame, parameters)
    checked_at = now()
    bad_rows = report.rows_to_quarantine()
    records = frame.set_index("row_id", drop=False)
    with engine.begin() as conn:
        # With GX's own result (scrubbed) for the Data Docs, replaced when the batch is validated again.
        write_dq_results(conn, batch_id, spec.suite, report.outcomes, checked_at, report.gx_result)

        def quarantine_rows() -> Iterable[tuple]:
            for rid, names in sorted(bad_rows.items()):
                rec = {k: _plain(v) for k, v in records.loc[rid].to_dict().items()}
                key = "|".join("" if rec.get(k) is None else str(rec.get(k)) for k in spec.natural_key)
                yield (batch_id, key, ",".join(names), row_data(rec) if row_data else rec, checked_at)

        insert_rows(conn, quarantine,
                    ("batch_id", "natural_key", "failed_expectations", "row_data", "quarantined_at"),
                    quarantine_rows())
        conn.execute(sa.update(spec.staging).where(spec.staging.c.batch_id == batch_id).values(lolos=True))
        bad_ids = list(bad_rows)
        for i in range(0, len(bad_ids), 500):
            conn.execute(sa.update(spec.staging).where(
                spec.staging.c.batch_id == batch_id, spec.staging.c.row_id.in_(bad_ids[i:i + 500])
            ).values(lolos=False))
        received = len(frame)
        status, message = verdict(spec.suite, report.outcomes, len(bad_rows), received)
        record_verdict(conn, batch_id, status, rows_quarantined=len(bad_rows), message=message)
    log.info("batch %s %s: %s", batch_id, status, message)
    return BatchOutcome(batch_id, status, message, received, 0, len(bad_rows))


def publish(engine: sa.Engine, spec: EntitySpec, batch_id: int, sql_params: dict[str, Any]) -> BatchOutcome:
    """Replace the fact partition with the batch's passing rows, in one transaction."""
    with settled_on_error(engine, batch_id, f"publication of {spec.entity}"):
        return _publish(engine, spec, batch_id, sql_params)


def publish_guard(conn: sa.Connection, spec: EntitySpec, batch_id: int):
    """The batch's `etl_batch` row, read in the publishing transaction; a batch still `running` must
    have every staged row judged (`lolos` set) by its validation, or nothing is published. (A source
    judged whole, the OPD workbook, stages no `lolos`: its verdict is the batch's.) The caller
    publishes only a batch still `running`: any other status was settled by someone else."""
    batch = conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == batch_id)).one()
    if batch.status == BatchStatus.RUNNING and "lolos" in spec.staging.c:
        unvalidated = conn.execute(sa.select(sa.func.count()).select_from(spec.staging).where(
            spec.staging.c.batch_id == batch_id, spec.staging.c.lolos.is_(None))).scalar_one()
        if unvalidated:
            raise RuntimeError(f"batch {batch_id} has {unvalidated} staged rows not yet validated; validate first")
    return batch


def _publish(engine: sa.Engine, spec: EntitySpec, batch_id: int, sql_params: dict[str, Any]) -> BatchOutcome:
    with engine.begin() as conn:
        batch = publish_guard(conn, spec, batch_id)
        if batch.status != BatchStatus.RUNNING:
            return BatchOutcome(batch_id, batch.status, batch.message or "", batch.rows_received, 0,
                                batch.rows_quarantined)
        run_sql_file(conn, spec.publish_sql, {**sql_params, "batch_id": batch_id, "lolos": True})
        published = conn.execute(
            sa.select(sa.func.count()).select_from(spec.fact).where(spec.fact.c.batch_id == batch_id)
        ).scalar_one()
        message = f"published {published} rows" + (
            f"; {batch.rows_quarantined} quarantined" if batch.rows_quarantined else "")
        close_published(conn, batch_id, published, (batch.message + "; " if batch.message else "") + message)
        # Older batches' staging rows of this partition were replaced at stage time; this batch's stay
        # for the audit until the next one.
    return BatchOutcome(batch_id, BatchStatus.PUBLISHED, message, batch.rows_received, published, batch.rows_quarantined)


def _plain(value):
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if hasattr(value, "item") else value
