"""Run `validate_frame` in a worker process, so GX's CPU work overlaps the loader's.

GX is pure Python: in the loading process it holds the interpreter lock that the download, flatten
and staging work also need, so a large window's validation and loading take turns on one core. A
worker process validates chunk N while the loader stages chunk N-1 and builds chunk N+1, on another
core when there is one. The worker is started (spawn: the loader has threads running) only for a
stream of more than one chunk; small windows, the usual nightly load, validate in process. Either
way the report is the same: `validate_frame` runs on the same frame.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


def _validate(suite: str, frame, parameters: dict[str, Any]):
    """In the worker: the report and the worker's peak resident memory (MB)."""
    import gc

    from spm.quality.gx_runner import validate_frame

    report = validate_frame(suite, frame, parameters)
    del frame
    gc.collect()  # GX leaves reference cycles behind
    return report, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _start() -> None:
    from spm.quality.gx_runner import _context

    _context()


class FrameValidator:
    """Validates frames in this process (`submit` returns a finished future) or, once `use_worker`
    has been called, in one worker process (futures finish in submission order)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self.worker_peak_mb = 0.0

    @property
    def in_worker(self) -> bool:
        return self._pool is not None

    def use_worker(self) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start)
            log.info("GX validation runs in a worker process")

    def submit(self, suite: str, frame, parameters: dict[str, Any]) -> Future:
        if self._pool is not None:
            return self._pool.submit(_validate, suite, frame, parameters)
        from spm.quality.gx_runner import validate_frame

        done: Future = Future()
        try:
            done.set_result((validate_frame(suite, frame, parameters), 0.0))
        except Exception as exc:  # noqa: BLE001 - raised again by result(), as from the worker
            done.set_exception(exc)
        return done

    def result(self, job: Future):
        """The report of a submitted frame (raises what the validation raised)."""
        report, peak = job.result()
        self.worker_peak_mb = max(self.worker_peak_mb, peak)
        return report

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            log.info("GX worker process ended (peak resident set %.0f MB)", self.worker_peak_mb)
