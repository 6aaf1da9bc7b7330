"""The stream of one resource type of a health window: pages downloaded by one thread per part of
the window (the hub's `paralel` searches at once) and flattened ahead by another (bounded queues:
memory stays at a few pages plus two chunks whatever the window size),
gathered in chunks that are validated, then staged (COPY on PostgreSQL) with their quarantined rows
in one short transaction by a third thread while the next chunk is validated and the next pages
download. No process is started (Celery's prefork
pool forbids children; Airflow 3's task supervisor gives them a blocked metadata URL)."""

from __future__ import annotations

import gc
import hashlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import repeat
from typing import Any

import sqlalchemy as sa

from spm.ingest.kesehatan_spec import (
    FLUSH_ROWS, PARSED_PAGES, PASIEN, PREFETCH_PAGES, SPECS, TYPE_OF, Window, validate_chunk_rows,
)
from spm.ingest.kesehatan_validation import (
    QUARANTINE_COLUMNS, BatchResults, add_derived, frame_of, per_row_columns, quarantine_rows,
)
from spm.ingest.seen_ids import SeenIds
from spm.ingest.wap import STAGED_PREFIX, EntitySpec, StagingWriter
from spm.quality.gx_runner import SuiteRunner
from spm.sources.http import SourceError, SourceUnavailable
from spm.sources.satusehat import Page, SatusehatClient, gc_paused
from spm.warehouse.bulk import insert_rows
from spm.warehouse.tables import quarantine

log = logging.getLogger(__name__)

MIN_PART_SECONDS = 86_400  # parts of a window are at least a day long (window_parts)
MAYBE_AGAIN_MAX = 200_000  # ids to look up in staging at the end; past it the whole batch is checked

@contextmanager
def gc_frozen():
    """Move every object alive now out of the collector's sight until the block ends (gc.freeze)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Stop(Exception):
    pass


def _staging_columns(spec: EntitySpec) -> tuple[str, ...]:
    return (*STAGED_PREFIX, *spec.columns)


class StreamValidation:
    """Validates one type's rows chunk by chunk while the next pages download, before they are staged.

    Same checks and the same results as validating the staged batch afterwards (validate_batch):
    a chunk keeps one row per resource id (the newest meta.lastUpdated, then the last received) and
    only those rows are validated; a patient's desa is resolved against the same table the
    staged-batch query joins (current desa of dim_wilayah); rows failing warning expectations go to quarantine in the
    transaction that stages the chunk, and every row is staged with its `lolos` already decided
    (_validate_and_stage).
    An id met again in a later chunk (rare: a resource updated while the window was paged) is found
    when the stream ends: then this validation is undone and the batch is validated whole by
    validate_batch, as before. The verdict on the batch (dq_result, critical, quarantine limit) is
    written by validate_window."""

    def __init__(self, engine: sa.Engine, spec: EntitySpec, w: Window, batch_id: int, parameters: dict[str, Any],
                 known_desa: frozenset[str] | None) -> None:
        self.engine, self.spec, self.w, self.batch_id = engine, spec, w, batch_id
        self.parameters = parameters
        self.known_desa = known_desa
        self.results = BatchResults(spec, parameters, keep_gx=False)  # each chunk stores its own GX result
        self.duplicates = 0
        self.chunks = 0
        # Ids a later chunk may repeat from an earlier one (a Bloom filter's alarms; checked in staging
        # at the end). Past MAYBE_AGAIN_MAX alarms the whole batch is checked instead.
        self._seen = SeenIds()
        self._maybe_again: list[str] | None = []
        # One thread stages a validated chunk (its COPY runs in the database) while this one validates
        # the next: at most one chunk waits, so memory stays bounded. A thread, never a process.
        self._stager = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"stage-{spec.entity}")
        self._staging: Future | None = None
        self._suite = SuiteRunner(spec.suite)  # one GX validation definition for every chunk

    def expect(self, total: int | None) -> None:
        """The stream announced `total` resources (logged; the chunks are validated in this process)."""
        if total is not None:
            log.info("%s %s: %d resources announced, validated in chunks of %d", self.spec.entity, self.w.label(),
                     total, validate_chunk_rows())

    def _dedup(self, rows: list[tuple]) -> list[tuple]:
        """One row per id within the chunk (dedup_batch's rule); ids are column 1, lastUpdated column 2."""
        newest: dict[str, int] = {}
        dropped: list[int] = []
        for pos, row in enumerate(rows):
            rid = row[1]
            if rid is None:
                continue
            prev = newest.setdefault(rid, pos)
            if prev == pos:
                continue
            older, newer = rows[prev][2], row[2]
            if older is not None and (newer is None or older > newer):
                dropped.append(pos)  # the one kept is newer: this later arrival loses
            else:
                dropped.append(prev)
                newest[rid] = pos
        if not dropped:
            return rows
        self.duplicates += len(dropped)
        gone = set(dropped)
        return [row for pos, row in enumerate(rows) if pos not in gone]

    def _derived(self, frame) -> None:
        add_derived(self.spec, frame)
        if self.spec is PASIEN:
            known = self.known_desa
            frame["desa_dikenal"] = [code in known for code in frame["kode_desa"].tolist()]

    def chunk(self, rows: list[tuple]) -> None:
        """Validate `rows` ((row_id, *spec.columns) tuples), then stage them and quarantine the bad
        ones (_validate_and_stage)."""
        rows = self._dedup(rows)
        if not rows:
            return
        self.chunks += 1
        if self._maybe_again is not None:
            self._maybe_again.extend(self._seen.add([row[1] for row in rows if row[1] is not None]))
            if len(self._maybe_again) > MAYBE_AGAIN_MAX:
                self._maybe_again = self._seen = None
        frame = frame_of(rows, ["row_id", *self.spec.columns], per_row_columns(self.spec))
        del rows
        self._derived(frame)
        w = self.w
        report = self._suite.validate(frame, self.parameters)
        self.results.add(report, frame)
        self.drain()  # the chunk before is staged: its errors surface here, and only one chunk waits
        self._staging = self._stager.submit(
            _stage, self.engine, self.spec.entity, frame, report, (self.batch_id, w.kode_kab_kota, w.periode),
            self.results.checked_at, self.chunks - 1)
        # GX leaves reference cycles behind, and the stream runs with the collector paused: collect
        # them once per chunk, or every chunk's garbage would stay until the window ends. extract
        # froze what existed before the stream (modules, GX, Airflow), so this walks only newer objects.
        del frame, report
        gc.collect()

    def drain(self) -> None:
        """Wait until every validated chunk is staged; a failed staging raises here."""
        staging, self._staging = self._staging, None
        if staging is not None:
            staging.result()

    def close(self) -> None:
        """Stop staging (a chunk being written finishes first, so the caller may then discard the batch)."""
        self._stager.shutdown(wait=True, cancel_futures=True)

    def finish(self) -> dict[str, Any] | None:
        """The chunks' results (JSON), or None after undoing them when an id recurs across chunks
        (`duplicates` then says how many older versions the chunks left out)."""
        self.drain()
        self._seen = None  # its 16 MB
        t = self.spec.staging
        id_col = t.c[self.spec.natural_key[0]]
        again = None
        if self.chunks > 1:
            recurs = sa.select(id_col).where(t.c.batch_id == self.batch_id, id_col.is_not(None)).group_by(
                id_col).having(sa.func.count() > 1).limit(1)
            with self.engine.connect() as conn:
                if self._maybe_again is None:
                    again = conn.execute(recurs).first()
                for i in range(0, len(self._maybe_again or ()), 1000):
                    again = conn.execute(recurs.where(id_col.in_(self._maybe_again[i:i + 1000]))).first()
                    if again is not None:
                        break
        if again is not None:
            with self.engine.begin() as conn:
                conn.execute(sa.delete(quarantine).where(quarantine.c.batch_id == self.batch_id))
                conn.execute(sa.update(t).where(t.c.batch_id == self.batch_id).values(lolos=None))
            log.info("%s %s: a resource recurs across chunks; the batch is validated whole after the download",
                     self.spec.entity, self.w.label())
            return None
        return {**self.results.to_dict(), "duplicates": self.duplicates}


def _stage(engine: sa.Engine, entity: str, frame, report, prefix: tuple, checked_at: datetime, bagian: int) -> None:
    """One validated chunk: stage every row with its `lolos` and quarantine the rows failing warning
    expectations, in one transaction, with GX's own result of the chunk (the GX Data Docs)."""
    from spm.warehouse.dq_results import store_gx_chunk

    spec = SPECS[entity]
    bad = report.rows_to_quarantine()
    with engine.begin() as conn:
        insert_rows(conn, spec.staging, (*_staging_columns(spec), "lolos"),
                    _staged_rows(frame, spec, prefix, bad, conn.dialect.name))
        if bad:
            insert_rows(conn, quarantine, QUARANTINE_COLUMNS, quarantine_rows(spec, prefix[0], frame, bad, checked_at))
        store_gx_chunk(conn, prefix[0], spec.suite, bagian, report.gx_result, checked_at)


def _staged_rows(frame, spec: EntitySpec, prefix: tuple, bad: dict[int, list[str]], dialect: str) -> Iterable[tuple]:
    """The staging rows of a chunk's frame: (*prefix, row_id, *spec.columns, lolos), with the values
    the flattened rows held (None for missing). Column by column, as arrays: per-value conversion of
    the timestamps was a third of the cost of staging a chunk."""
    columns = [_staged_values(frame[c], spec.staging.c[c].type, dialect) for c in ("row_id", *spec.columns)]
    lolos = [rid not in bad for rid in columns[0]]
    return zip(*(repeat(v, len(lolos)) for v in prefix), *columns, lolos)


def _staged_values(s, column_type, dialect: str) -> list:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if s.dt.tz is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        values = s.to_numpy(dtype="datetime64[us]")
        if isinstance(column_type, sa.DateTime):
            text = np.datetime_as_string(values, unit="us").tolist()  # YYYY-MM-DDTHH:MM:SS.ffffff, UTC
            # SQLite: SQLAlchemy's storage format (naive UTC, a space); PostgreSQL parses ISO 8601.
            out = [t[:10] + " " + t[11:] for t in text] if dialect == "sqlite" else [t + "+00:00" for t in text]
        else:
            out = np.datetime_as_string(values, unit="D").tolist()
        for i in np.flatnonzero(np.isnat(values)).tolist():
            out[i] = None
        return out
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype):
        return s.tolist()
    return s.astype(object).where(s.notna(), None).tolist()


def window_parts(dari: datetime, sampai: datetime, n: int) -> list[tuple[datetime, datetime]]:
    """[dari, sampai) cut into `n` consecutive parts of equal length, whole seconds (FHIR search
    bounds are whole seconds); a window shorter than two days is searched whole (a nightly
    window is small: one search per type)."""
    seconds = int((sampai - dari).total_seconds())
    n = max(1, min(n, seconds // MIN_PART_SECONDS))
    cuts = [dari + timedelta(seconds=seconds * i // n) for i in range(n)] + [sampai]
    return list(zip(cuts, cuts[1:]))


class PageProducer:
    """The pages of one type in the window, downloaded and flattened ahead of the loader.

    One download thread per part of the window (window_parts, `client.paralel` of them: a hub
    across a network takes longer to answer a page than this process takes to validate it), each
    asking for its next page as soon as one is parsed, so the hub renders it while this process flattens and
    validates the ones before; one flatten thread takes the parts' pages in turn (page 1 of each
    part, then page 2, ...: the same pages come in the same order on every run). Items on `pages`:
    ("announced", the Bundle.total of every part summed, or None where a part gives none) once
    each part's first page is in, ("page", rows `(row_id, *fields)`, the Page without its
    resources), then ("done", None, None), or ("error", exception, None)."""

    def __init__(self, client: SatusehatClient, w: Window, entity: str, flatten: Callable[[Page], list[tuple]]) -> None:
        self.client, self.w, self.kind, self.flatten = client, w, TYPE_OF[entity], flatten
        self.parts = window_parts(w.dari, w.sampai, getattr(client, "paralel", 1))
        self.parsed = [queue.Queue(maxsize=PARSED_PAGES) for _ in self.parts]
        self.pages: queue.Queue = queue.Queue(maxsize=PREFETCH_PAGES)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._guarded(lambda i=i: self._download(i), self.parsed[i]),
                                         daemon=True, name=f"fhir-{self.kind}-{i}") for i in range(len(self.parts))]
        self.threads.append(threading.Thread(target=self._guarded(self._flatten, self.pages), daemon=True,
                                             name=f"fhir-{self.kind}-flatten"))

    def start(self) -> "PageProducer":
        for thread in self.threads:
            thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            if thread.ident is not None:
                thread.join()

    def _put(self, q: queue.Queue, item) -> None:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stop()

    def _get(self, q: queue.Queue):
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.2)
            except queue.Empty:
                continue
        raise _Stop()

    def _guarded(self, target: Callable[[], None], q: queue.Queue) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except _Stop:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed on to the loader, which fails the window
                try:
                    self._put(q, ("error", exc, None))
                except _Stop:
                    pass
        return run

    def _download(self, part: int) -> None:
        dari, sampai = self.parts[part]
        for page in self.client.pages(self.kind, dari, sampai):
            self._put(self.parsed[part], ("page", None, page))
        self._put(self.parsed[part], ("done", None, None))

    def _flatten(self) -> None:
        flatten = self.flatten
        received = 0
        active = list(range(len(self.parts)))
        totals: list[int | None] = []  # of each part's first page
        first = set(active)
        while active:
            for part in list(active):
                what, payload, page = self._get(self.parsed[part])
                if what == "done":
                    active.remove(part)
                    continue
                if what != "page":
                    self._put(self.pages, (what, payload, page))
                    return
                if part in first:
                    first.discard(part)
                    totals.append(page.total)
                    if not first:
                        announced = None if None in totals else sum(totals)
                        self._put(self.pages, ("announced", announced, None))
                # Rows `(row_id, *fields)`, numbered by their position in the type's stream. The page
                # goes on without its resources, so that they are freed here: freeing a page's
                # thousand decoded resources was a second of the loading thread's time.
                rows = [(received + i, *row) for i, row in enumerate(flatten(page), start=1)]
                received += len(rows)
                self._put(self.pages, ("page", rows, replace(page, resources=[])))
                del page
        self._put(self.pages, ("done", None, None))


def stream_type(engine: sa.Engine, w: Window, entity: str, batch_id: int, client: SatusehatClient,
                flatten: Callable[[dict], tuple], validation: StreamValidation | None = None,
                producer: PageProducer | None = None, on_downloaded: Callable[[], None] | None = None,
                ) -> tuple[int, str, dict[str, Any] | None]:
    """Fetch every page of one type in the window into staging; (rows received, checksum of the
    pages, the stream validation's results or None when the batch is still to be validated).

    `producer` (already started) may be given by the caller; `on_downloaded` is called once the last
    page has arrived, before the last chunk is validated (extract starts the next type's download there).
    """
    spec = SPECS[entity]
    kind = TYPE_OF[entity]
    digest = hashlib.sha256()
    total = None
    writer = StagingWriter(engine, spec.staging, spec.columns, batch_id, w.kode_kab_kota, w.periode,
                           validate_chunk_rows() if validation is not None else FLUSH_ROWS,
                           validation.chunk if validation is not None else None)

    # The collector stays paused for the whole stream (all threads): parsed pages hold no cycles and
    # are freed by reference counting; re-enabling it per page would make it walk every live page.
    with gc_paused():
        producer = producer or PageProducer(client, w, entity, flatten).start()
        try:
            while True:
                what, payload, page = producer.pages.get()
                if what == "error":
                    raise payload
                if what == "done":
                    break
                if what == "announced":
                    total = payload
                    if validation is not None:
                        validation.expect(total)
                    continue
                digest.update(page.sha256.encode())
                writer.add(payload)  # (row_id, *fields): PageProducer numbered them
            producer.close()
            if on_downloaded is not None:
                on_downloaded()
            writer.flush()
            if validation is not None:
                validation.drain()
        finally:
            producer.close()
            if validation is not None:
                validation.close()
    # Bundle.total, where the hub gives it, must match both ways: fewer is a page lost in paging, more
    # is paging that repeated or reached past the announced set (either way the window is not the
    # hub's answer, and is not published).
    received = writer.received
    if total is not None and received < total:
        raise SourceUnavailable(f"{client.conn.conn_id}: {kind} search announced {total} resources but its pages "
                                f"held {received}; paging incomplete")
    if total is not None and received > total:
        raise SourceError(f"{client.conn.conn_id}: {kind} search announced {total} resources but its pages "
                          f"held {received}, more than announced; paging inconsistent, window not published")
    return received, digest.hexdigest(), validation.finish() if validation is not None else None
