"""Publishing a health window (spm.ingest.kesehatan): the four types' merges and the late references,
in one transaction, so that a kab/kota × window is published whole or not at all.

Overlap (PostgreSQL). `WindowPublisher` holds the window's publishing transaction on a connection of
its own, in a thread of the task (never a process): a type is merged as soon as its verdict is in,
while the next type streams, and the transaction commits once every type is merged and the late
references are settled. Until then nothing of the window is visible; a failure rolls it back before
the batches are discarded. Where the window's persons lived before (`rujukan.affected`) is read on
another connection, which sees the published tables as they were before the uncommitted merges.
SQLite has one writer (the staging writes would wait on the open transaction): there the merges run
after the stream, in one transaction, as they always did.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import sqlalchemy as sa

from spm.errors import InputError, RowAccountingError
from spm.ingest import kesehatan_references as rujukan
from spm.ingest.kesehatan_spec import SPECS, Window
from spm.ingest.wap import publish_guard
from spm.warehouse.audit import close_published, now
from spm.warehouse.bulk import refresh_statistics
from spm.warehouse.db import SQLITE_MERGE_CACHE_KIB, sqlite_cache, sqlite_indexes_rebuilt
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.status import REFUSED, BatchStatus
from spm.warehouse.tables import etl_batch

log = logging.getLogger(__name__)
# A merge this large (a backfill) leaves the fact table's statistics stale for the queries after it
# in the same transaction. Smaller ones (nightly windows) do not ANALYZE: its lock would make two
# hubs' publications wait for each other.
ANALYZE_AFTER_ROWS = 50_000


def merge_type(conn: sa.Connection, w: Window, entity: str, r: dict[str, Any]) -> dict[str, Any]:
    """Merge one validated batch into its published table (inside the window's transaction); a
    backfill-sized merge is then to be ANALYZEd (`analyze_after`)."""
    spec = SPECS[entity]
    batch = publish_guard(conn, spec, r["batch_id"])
    if batch.status != BatchStatus.RUNNING:
        raise InputError(f"{entity} {w.label()}: batch {batch.batch_id} is {batch.status}, not ready to "
                         "publish; run the window again")
    passing = conn.execute(sa.select(sa.func.count()).select_from(spec.staging).where(
        spec.staging.c.batch_id == batch.batch_id, spec.staging.c.lolos.is_(True))).scalar_one()
    with sqlite_indexes_rebuilt(conn, spec.fact, passing, {"kode_kab_kota": w.kode_kab_kota}):  # a first backfill
        _, published = run_sql_file(conn, spec.publish_sql, {
            "batch_id": batch.batch_id, "kode_kab_kota": w.kode_kab_kota, "lolos": True})
    # The merge's INSERT wrote every row of this batch (the published ones it replaced were
    # deleted first); counting them back would scan the whole table. A passing row it did not
    # write has a published version as new or newer (the merge's NOT EXISTS).
    unchanged = passing - published
    message = (batch.message + "; " if batch.message else "") + f"{published} new or newer rows merged" + (
        f"; {unchanged} already published as they are" if unchanged else "") + (
        f"; {batch.rows_duplicate} older version(s) within the batch dropped" if batch.rows_duplicate else "")
    close_published(conn, batch.batch_id, published, message, unchanged=unchanged)
    return {**r, "status": BatchStatus.PUBLISHED, "rows_published": published,
            "rows_duplicate": batch.rows_duplicate, "rows_unchanged": unchanged, "message": message}


def settle_references(conn: sa.Connection, w: Window, ids: dict[str, int], out: dict[str, Any],
                      before: dict[str, set[int]], limit_days: float) -> None:
    """After the four merges: the waiting list, its report per batch, and whose figures may change.
    A backfill-sized merge first refreshes its table's statistics, which these queries read (here,
    not at the merge: the ANALYZE lock would be held while the later types stream)."""
    large = [SPECS[e].fact for e, r in out["batches"].items() if r.get("rows_published", 0) >= ANALYZE_AFTER_ROWS]
    if large:
        refresh_statistics(conn, *large)
    published_at = now()
    rujukan.update_pending(conn, w.kode_kab_kota, ids, published_at)
    waiting = rujukan.report(conn, w.kode_kab_kota, ids, published_at, limit_days)
    for entity, observed in waiting.items():
        out["batches"][entity]["rujukan_tertunda"] = observed
    # Whose figures may have changed: where the window's persons live, in which service years.
    out["partitions"] = rujukan.merge_affected(before, rujukan.affected(conn, w.kode_kab_kota, ids))


def fail_unbalanced(engine: sa.Engine, w: Window, ids: dict[str, int], exc: RowAccountingError) -> None:
    """The merge was rolled back; the batches are closed (their staging kept for the audit): a retry
    would find the same rows missing."""
    with engine.begin() as conn:
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id.in_(list(ids.values())),
                                                etl_batch.c.status == BatchStatus.RUNNING)
                     .values(status=BatchStatus.FAILED, finished_at=now(), message=f"{w.label()}: {exc}"[:2000]))


def failed_message(result: dict[str, Any]) -> str | None:
    """One line naming what failed in a validated window, or None."""
    if result.get("message"):
        return f"{result['message']} (see `spm status`)"
    for entity, r in result["batches"].items():
        if r["status"] in REFUSED:
            return f"{entity} {result['kode_kab_kota']} {result['periode']}: {r['message']} (batch {r['batch_id']}, " \
                   "see `spm status`)"
    return None


def merge_all(engine: sa.Engine, w: Window, ids: dict[str, int], out: dict[str, Any], entities,
              limit_days: float) -> None:
    """The window's merges one after another, then the late references, in one transaction. On
    SQLite with a 256 MB page cache: a backfill's merges into indexed tables reread index pages from
    the file with the usual 64 MB (13-18 s against 9 s at scale 0.2)."""
    with engine.begin() as conn, sqlite_cache(conn, SQLITE_MERGE_CACHE_KIB):
        before = rujukan.affected(conn, w.kode_kab_kota, ids)
        for entity in entities:
            out["batches"][entity] = merge_type(conn, w, entity, out["batches"][entity])
        settle_references(conn, w, ids, out, before, limit_days)


def publish_window(engine: sa.Engine, validated: dict[str, Any]) -> dict[str, Any]:
    """Merge the four validated batches into the published tables in one transaction (after
    extract and validate_window; `ingest` does all three, overlapping the merges with the stream)."""
    w = Window.from_dict(validated)
    problem = failed_message(validated)
    if problem:
        raise InputError(problem)
    out = {**validated, "batches": dict(validated["batches"])}
    ids = {e: r["batch_id"] for e, r in validated["batches"].items()}
    limit_days = rujukan.age_limit_days()
    try:
        merge_all(engine, w, ids, out, SPECS, limit_days)
        return out
    except RowAccountingError as exc:
        fail_unbalanced(engine, w, ids, exc)
        raise


class WindowPublisher:
    """The window's publishing transaction, fed one validated type at a time (see the module doc).

    `merge(entity, batch)` hands over a batch whose verdict allows publishing; `commit()` merges
    what is left, settles the late references and commits, returning the window's result; `abort()`
    rolls back (call it before discarding the batches: the open transaction holds their rows) unless
    the commit got through (`committed`), which an interrupted `commit()` may leave behind."""

    def __init__(self, engine: sa.Engine, w: Window, batch_ids: dict[str, int], out: dict[str, Any],
                 limit_days: float) -> None:
        self.engine, self.w, self.ids, self.out, self.limit_days = engine, w, batch_ids, out, limit_days
        self.overlap = engine.dialect.name == "postgresql"
        self.committed = False
        self.error: BaseException | None = None  # what stopped the publishing thread
        self._queued: list[str] = []
        self._jobs: queue.Queue = queue.Queue()
        self._aborted = threading.Event()
        self._thread: threading.Thread | None = None
        if self.overlap:
            self._thread = threading.Thread(target=self._run, name=f"publish-{w.kode_kab_kota}", daemon=True)
            self._thread.start()

    def merge(self, entity: str, batch: dict[str, Any]) -> None:
        self.out["batches"][entity] = batch
        if self.error is not None:
            raise self.error
        if self.overlap:
            self._jobs.put(("merge", entity, None))
        else:
            self._queued.append(entity)

    def commit(self) -> dict[str, Any]:
        if self.overlap:
            with self.engine.connect() as conn:  # sees the tables without the uncommitted merges
                before = rujukan.affected(conn, self.w.kode_kab_kota, self.ids)
            self._jobs.put(("commit", None, before))
            self._thread.join()
            if self.error is not None:
                raise self.error
        else:
            merge_all(self.engine, self.w, self.ids, self.out, self._queued, self.limit_days)
            self.committed = True
        return self.out

    def abort(self) -> None:
        self._aborted.set()  # queued merges are skipped, and a commit not yet made is not made
        if self._thread is not None and self._thread.is_alive():
            self._jobs.put(("abort", None, None))
            self._thread.join()

    def _run(self) -> None:
        try:
            # Staging rows and verdicts committed after this transaction began must be visible to it.
            with self.engine.connect().execution_options(isolation_level="READ COMMITTED") as conn, \
                    conn.begin() as transaction:
                while True:
                    what, entity, before = self._jobs.get()
                    if what == "abort" or self._aborted.is_set():
                        transaction.rollback()
                        return
                    if what == "merge":
                        self.out["batches"][entity] = merge_type(conn, self.w, entity, self.out["batches"][entity])
                        continue
                    settle_references(conn, self.w, self.ids, self.out, before, self.limit_days)
                    if self._aborted.is_set():
                        transaction.rollback()
                        return
                    transaction.commit()
                    self.committed = True
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the loading thread, which fails the window
            log.error("%s: publishing stopped, rolled back: %s: %s", self.w.label(), type(exc).__name__, exc)
            self.error = exc
