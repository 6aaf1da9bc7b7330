"""Validate and stage a stream's chunks in a worker process, so that work overlaps the loader's.

GX, building the staging rows and the driver's inserts are Python work: in the loading process they
hold the interpreter lock that the download, parse and flatten threads also need, so a large
window's validation, staging and download take turns on one core. A worker process validates and
stages chunk N while the loader builds chunk N+1 and the next pages download, on another core when
there is one. The worker is started (spawn: the loader has threads running) only for a stream of
more than one chunk, and only for a warehouse another process can open (not in-memory SQLite);
small windows, the usual nightly load, run the same job in process. Either way the job is the same
function on the same chunk.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)

_engine: sa.Engine | None = None  # the worker's own engine on the same warehouse


def _start(url: str) -> None:
    """In the worker: GX's context and an engine, once."""
    global _engine
    from spm.quality.gx_runner import _context
    from spm.warehouse.db import get_engine

    _context()
    _engine = get_engine(url)


def _call(job: Callable[..., Any], args: tuple) -> tuple[Any, float]:
    """In the worker: the job's result and the worker's peak resident memory (MB)."""
    import gc

    result = job(_engine, *args)
    del args
    gc.collect()  # GX leaves reference cycles behind
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def shareable(engine: sa.Engine) -> bool:
    """Whether another process can open this warehouse (an in-memory SQLite database it cannot)."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return True
    return bool(url.database) and url.database != ":memory:" and "memory" not in str(url.query.get("mode", ""))


class ChunkWorker:
    """Runs chunk jobs: `job(engine, *args)` for a module-level `job`. In this process (`submit`
    returns a finished future) until `use_worker` starts the worker process; then with the worker's
    own engine on the same warehouse, one job at a time, in submission order."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._pool: ProcessPoolExecutor | None = None
        self.worker_peak_mb = 0.0

    @property
    def in_worker(self) -> bool:
        return self._pool is not None

    def use_worker(self) -> bool:
        """Start the worker (once); False when the warehouse cannot be shared with it."""
        if self._pool is None:
            if not shareable(self.engine):
                return False
            url = self.engine.url.render_as_string(hide_password=False)
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start, initargs=(url,))
            log.info("chunks are validated and staged in a worker process")
        return True

    def submit(self, job: Callable[..., Any], *args) -> Future:
        if self._pool is not None:
            return self._pool.submit(_call, job, args)
        done: Future = Future()
        try:
            done.set_result((job(self.engine, *args), 0.0))
        except Exception as exc:  # noqa: BLE001 - raised again by result(), as from the worker
            done.set_exception(exc)
        return done

    def result(self, future: Future) -> Any:
        """What the job returned (raises what it raised)."""
        value, peak = future.result()
        self.worker_peak_mb = max(self.worker_peak_mb, peak)
        return value

    def close(self) -> None:
        """Wait for the job running, drop those not started, stop the worker."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            log.info("chunk worker process ended (peak resident set %.0f MB)", self.worker_peak_mb)


def validate(_engine: sa.Engine | None, suite: str, frame, parameters: dict[str, Any]):
    """A job: validate_frame (for callers that stage themselves)."""
    from spm.quality.gx_runner import validate_frame

    return validate_frame(suite, frame, parameters)
