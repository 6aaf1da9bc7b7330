"""What the ingest benchmarks share: the simulator in its own process, a scratch warehouse, peak memory.

The simulator runs in a spawned process so its world (numpy arrays, HTTP threads) neither shares the
benchmark's CPU accounting nor its resident memory.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from spm.warehouse.db import describe, get_engine, upgrade

START_TIMEOUT_S = 1800


def _status_mb(pid: int | str, field: str) -> float | None:
    """A memory line (VmRSS, VmHWM) of /proc/<pid>/status in MB; None where /proc is missing."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def current_rss_mb(pid: int | str = "self") -> float:
    """Resident set of a process now (VmRSS), in MB; NaN where /proc is missing."""
    now = _status_mb(pid, "VmRSS")
    return float("nan") if now is None else now


def rss_mb(pid: int | str = "self") -> float:
    """Peak resident set of a process (this one by default) since it started or since reset_peak, in
    MB: Linux's VmHWM, which belongs to the process's own memory (`ru_maxrss` is inherited through
    fork, so a child would report its parent's peak). Elsewhere: this process's ru_maxrss."""
    peak = _status_mb(pid, "VmHWM")
    if peak is not None:
        return peak
    if pid != "self":
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB on Linux


def reset_peak(pid: int | str = "self") -> None:
    """Start a process's peak (VmHWM) again from its current resident set (Linux; else a no-op)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


@contextmanager
def simulator_process(target: Callable, *args) -> Iterator[Any]:
    """Start `target(*args, pipe)` in a spawned process; yield (what it sends once serving, ask); stop it after.

    `target` builds its world, starts its servers, sends one message (URLs, credentials), then waits
    for a message back: "stop" ends it; a target may answer others (`ask(message)` sends one and
    returns the reply), e.g. "cpu" with its CPU seconds so far.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=target, args=(*args, child), daemon=True)
    generating = time.perf_counter()
    server.start()
    try:
        if not parent.poll(START_TIMEOUT_S):
            raise RuntimeError(f"the simulator did not start within {START_TIMEOUT_S // 60} minutes")
        payload = parent.recv()
        print(f"    (simulated world built and served in {time.perf_counter() - generating:.1f}s)")

        def ask(message: str) -> Any:
            parent.send(message)
            return parent.recv()

        yield payload, ask
    finally:
        if server.is_alive():
            parent.send("stop")
            server.join(10)
        if server.is_alive():
            server.terminate()


@contextmanager
def scratch_warehouse(warehouse_url: str | None) -> Iterator[tuple[sa.Engine, str]]:
    """An empty warehouse, migrated; yields (engine, description). SQLite: a fresh temporary file.
    A server URL: a scratch database created on that server and dropped after, so every run is a
    first load (published tables left by an earlier run would turn the merges into no-ops)."""
    if warehouse_url is None or sa.engine.make_url(warehouse_url).get_backend_name() == "sqlite":
        if warehouse_url is not None:
            raise ValueError(f"{describe_url(warehouse_url)}: give no URL for SQLite (a fresh temporary file is used)")
        with tempfile.TemporaryDirectory() as tmp:
            engine = get_engine(f"sqlite:///{os.path.join(tmp, 'bench.db')}")
            upgrade(engine)
            try:
                yield engine, describe(engine)
            finally:
                engine.dispose()
        return
    server = get_engine(warehouse_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"spm_bench_{os.getpid()}_{int(time.time())}"
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        engine = get_engine(sa.engine.make_url(warehouse_url).set(database=name).render_as_string(hide_password=False))
        try:
            upgrade(engine)
            yield engine, describe(engine) + " (a scratch database, dropped after)"
        finally:
            engine.dispose()
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def describe_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)
