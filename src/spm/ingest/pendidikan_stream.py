"""The learner lists of a partition's schools, streamed into `staging_peserta_didik`.

A thread pool of `client.paralel` workers shares the client's one HTTP session; each worker
pseudonymises its school's pages as they arrive (spm.sources.dapodik_rows) and hands them over a
bounded queue to the stage's one writer (wap.StagingWriter), which appends them to staging in
transactions of `FLUSH_ROWS` rows:
memory stays bounded by a few pages whatever the size of the kab/kota. Row ids are the school's
position × `ROWS_PER_SCHOOL` + the position in its list, so the same source gives the same ids in
whatever order the threads finish. All or nothing: if any school's list cannot be fetched, the
batch's staged rows are deleted and the batch fails naming the NPSN(s); a content (checksum) equal
to the published one closes the batch `unchanged`.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from spm.errors import InputError
from spm.ingest.pendidikan_spec import PESERTA_DIDIK, SOURCE, Partition, semester_start
from spm.ingest.wap import (
    BatchOutcome, RowsChecksum, StagingWriter, discard, open_batch, record_staged, settle_unchanged,
)
from spm.sources.dapodik import DapodikClient
from spm.sources.dapodik_rows import Sekolah, learner_row
from spm.sources.http import SourceAuthError, SourceError, SourceUnavailable
from spm.warehouse.tables import staging_peserta_didik

log = logging.getLogger(__name__)

# Learner row ids are school position × this + position in the school's list: the same source gives
# the same ids whatever order the threads finish in (the dedup's last tie-break uses them).
ROWS_PER_SCHOOL = 50_000
MAX_ROW_ID = 2**31 - 1
FLUSH_ROWS = 20_000  # learner rows written to staging per transaction


class _Cancelled(Exception):
    pass


def stream_learners(engine: sa.Engine, p: Partition, run_id: str | None, client: DapodikClient,
                    schools: list[Sekolah], secret: bytes) -> BatchOutcome:
    """Fetch every school's learner list with `client.paralel` threads and stream it into staging."""
    with engine.begin() as conn:
        batch_id = open_batch(conn, SOURCE, PESERTA_DIDIK.entity, p.kode_kab_kota, p.periode, run_id,
                              (staging_peserta_didik,))
    start = semester_start(p.semester_id)
    pages: queue.Queue = queue.Queue(maxsize=2 * client.paralel)  # bounds memory: a few pages in flight
    cancel = threading.Event()

    def fetch(school: Sekolah) -> None:
        try:
            if cancel.is_set():
                raise _Cancelled()
            base, n = school.posisi * ROWS_PER_SCHOOL, 0
            for page in client.peserta_didik_pages(school.npsn, p.semester_id):
                if cancel.is_set():
                    raise _Cancelled()
                out = []
                for raw in page:
                    n += 1
                    if n >= ROWS_PER_SCHOOL:
                        raise InputError(f"npsn {school.npsn} lists more than {ROWS_PER_SCHOOL - 1} learners")
                    out.append((base + n, learner_row(raw, school, secret, start)))
                pages.put(("rows", school.npsn, out))
            pages.put(("done", school.npsn, n))
        except _Cancelled:
            pages.put(("cancelled", school.npsn, None))
        except Exception as exc:  # noqa: BLE001 - handed to the writer, which fails the partition
            pages.put(("failed", school.npsn, exc))

    checksum = RowsChecksum()
    failures: dict[str, Exception] = {}
    writer = StagingWriter(engine, staging_peserta_didik, PESERTA_DIDIK.columns, batch_id, p.kode_kab_kota,
                           p.periode, FLUSH_ROWS)

    pool = ThreadPoolExecutor(max_workers=client.paralel, thread_name_prefix="dapodik")
    pending = len(schools)
    futures = []
    try:
        futures = [pool.submit(fetch, school) for school in schools]
        while pending:
            kind, npsn, payload = pages.get()
            if kind == "rows":
                if failures:
                    continue  # the partition is lost: drop, keep draining so workers finish
                for _, row in payload:
                    checksum.add(row)
                writer.add((row_id, *row) for row_id, row in payload)
                continue
            pending -= 1
            if kind == "failed":
                failures[npsn] = payload
                writer.drop()
                cancel.set()
        if not failures:
            writer.flush()
    except BaseException as exc:
        cancel.set()
        _drain(pages, pool, futures)
        _discard(engine, batch_id, f"{PESERTA_DIDIK.entity} {p.label()}: load interrupted, nothing published "
                                   f"({type(exc).__name__}: {exc})")
        raise
    pool.shutdown(wait=True)
    if failures:
        message = _failure_message(p, failures, len(schools))
        _discard(engine, batch_id, message)
        first = next(iter(failures.values()))
        if isinstance(first, SourceAuthError):
            raise SourceAuthError(message) from first
        if isinstance(first, (InputError, SourceError)) and not isinstance(first, SourceUnavailable):
            raise InputError(message) from first
        raise SourceUnavailable(message) from first
    return _close_learner_stage(engine, p, batch_id, writer.received, checksum.hexdigest())


def _drain(pages: queue.Queue, pool: ThreadPoolExecutor, futures: list) -> None:
    """Let blocked workers finish after the writer stopped (they check the cancel flag per page)."""
    pool.shutdown(wait=False, cancel_futures=True)
    while not all(f.done() for f in futures):
        try:
            pages.get(timeout=0.1)
        except queue.Empty:
            pass


def _failure_message(p: Partition, failures: dict[str, Exception], n_schools: int) -> str:
    shown = "; ".join(f"npsn {npsn}: {exc}" for npsn, exc in sorted(failures.items())[:10])
    more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
    return (f"{PESERTA_DIDIK.entity} {p.label()}: the learner list of {len(failures)} of {n_schools} school(s) "
            f"could not be fetched, nothing published: {shown}{more}")


def _discard(engine: sa.Engine, batch_id: int, message: str) -> None:
    with engine.begin() as conn:
        discard(conn, {batch_id: (staging_peserta_didik,)}, message)
    log.error("batch %s failed: %s", batch_id, message)


def _close_learner_stage(engine: sa.Engine, p: Partition, batch_id: int, received: int,
                         checksum: str) -> BatchOutcome:
    """wap.stage's end after the stream: unchanged source → drop this batch's rows; else they replace
    the partition's."""
    t = staging_peserta_didik
    with engine.begin() as conn:
        done = settle_unchanged(conn, SOURCE, PESERTA_DIDIK.entity, p.kode_kab_kota, p.periode, batch_id,
                                checksum, received, (t,))
        if done is not None:
            return done
        conn.execute(sa.delete(t).where(t.c.kode_kab_kota == p.kode_kab_kota, t.c.periode == p.periode,
                                        t.c.batch_id != batch_id))
        return record_staged(conn, batch_id, received, checksum)
