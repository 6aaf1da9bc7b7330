"""`spm bench kesehatan`: the health ingest end to end against the simulated FHIR hub.

For one kab/kota's full-year backfill (`_lastUpdated` window of a calendar year, WIB) at the
simulator's full scale (or `--scale`), measures in the same run:
- end to end, FHIR resources/second: HTTP pages (OAuth2, paging) → parsed and flattened rows → GX
  validation and staging chunk by chunk (while the next pages download) → the window's verdict → upsert into the four fact tables, with the real connector and
  warehouse code (the DAG's three steps: spm.ingest.kesehatan.extract, validate_window, publish_window);
- the source alone: the same pages fetched over HTTP and kept as bytes (how fast the simulated hub
  can serve; the end to end cannot beat it);
- the parse + bulk-load ceiling: those page bytes parsed with orjson (collector paused), flattened
  and bulk-loaded into staging with insert_rows (COPY on PostgreSQL), no HTTP, no validation;
- a naive baseline on the same bytes: stdlib `json.loads`, the same flattening, `DataFrame.to_sql`
  per page;
- peak memory of the ingest process (resident set) before, after extract and at the end;
- CPU seconds of the end to end in the ingest process and the hub: on a small machine
  their sum, not the ingest alone, bounds the end to end (the hub here shares the machine; a real
  hub does not).
The simulator runs in a child process (its JSON rendering must not share this process's GIL or
memory); its world is generated before the clock starts. Ceiling and naive loads are rolled back.
"""

from __future__ import annotations

import gc
import json
import os
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from spm.benchmarks.harness import rss_mb, scratch_warehouse, simulator_process

DEFAULT_KODE = "32.71"
DEFAULT_TAHUN = 2024  # the hub's first year: a backfill starts there (patients are registered from 2024)
SECRET = b"benchmark-secret-not-for-production"


def _serve(kode: str, scale: float, seed: int, pipe) -> None:
    """Child process: build the world and the hub's sort orders, start the servers, serve until told."""
    from spm.simulator import SimulatorConfig, SimulatorServers

    config = SimulatorConfig(kode_wilayah=(kode,), scale=scale, seed=seed, fhir_kode_wilayah=kode)
    with SimulatorServers(config) as sim:
        health = sim.world[kode].kesehatan
        health.patients.order()
        for res in health.all_resources.values():
            res.order(False)
        gc.freeze()  # the world lives as long as the hub: the collector need not walk it again (~35 % of rendering)
        pipe.send((sim.fhir_url, config.fhir_client_id, config.fhir_client_secret))
        while pipe.recv() == "cpu":
            pipe.send(time.process_time())  # all the hub's threads


@dataclass
class Timing:
    resources: dict[str, int] = field(default_factory=dict)
    published: int = 0
    extract_s: float = 0.0
    validate_s: float = 0.0
    publish_s: float = 0.0
    source_s: float = 0.0
    ceiling_s: float = 0.0
    naive_s: float = 0.0
    pages: int = 0
    page_bytes: int = 0
    rss_start_mb: float = 0.0
    rss_extract_mb: float = 0.0
    rss_end_mb: float = 0.0
    cpu_ingest_s: float = 0.0  # CPU seconds of the end to end: this process (all threads)
    cpu_hub_s: float = 0.0  # ... the simulated hub (serving the pages while the extract ran)

    @property
    def total(self) -> int:
        return sum(self.resources.values())

    @property
    def end_to_end_s(self) -> float:
        return self.extract_s + self.validate_s + self.publish_s


def _client(url: str, client_id: str, secret: str, page_size: int):
    from spm.sources.connections import SourceConnection
    from spm.sources.satusehat import SatusehatClient

    return SatusehatClient(SourceConnection("spm_satusehat", url, client_id, secret), page_size=page_size)


def _capture(client, window, path: str) -> tuple[int, int]:
    """Fetch every page of the window (HTTP only) into a file of length-prefixed bodies per type."""
    from spm.ingest.kesehatan import SPECS, TYPE_OF
    from spm.sources.satusehat import parse_page

    pages = size = 0
    with open(path, "wb") as out:
        for entity in SPECS:
            kind = TYPE_OF[entity]
            url = client.search_url(kind, window.dari, window.sampai)
            while url:
                body = client.get(url).content
                out.write(struct.pack("<B I", list(SPECS).index(entity), len(body)))
                out.write(body)
                pages += 1
                size += len(body)
                url = parse_page(body, kind).next_url
    return pages, size


def _bodies(path: str):
    from spm.ingest.kesehatan import SPECS

    entities = list(SPECS)
    with open(path, "rb") as fh:
        while header := fh.read(5):
            index, length = struct.unpack("<B I", header)
            yield entities[index], fh.read(length)


def _ceiling(engine: sa.Engine, window, path: str) -> float:
    """orjson + flatten + insert_rows into staging, one transaction, rolled back."""
    from spm.ingest.kesehatan import FLUSH_ROWS, SOURCE, SPECS, TYPE_OF, flattener
    from spm.sources.satusehat import gc_paused, parse_page
    from spm.warehouse.audit import start_batch
    from spm.warehouse.bulk import insert_rows

    with engine.connect() as conn:
        tx = conn.begin()
        batch_id = start_batch(conn, SOURCE, "ceiling", window.kode_kab_kota, window.periode, "bench")
        started = time.perf_counter()
        buffers: dict[str, list] = {e: [] for e in SPECS}
        counters = dict.fromkeys(SPECS, 0)
        prefix = (batch_id, window.kode_kab_kota, window.periode)
        flat = {e: flattener(e, SECRET, window.kode_kab_kota) for e in SPECS}

        def flush(entity: str) -> None:
            spec = SPECS[entity]
            insert_rows(conn, spec.staging, ("batch_id", "kode_kab_kota", "periode", "row_id", *spec.columns),
                        buffers[entity])
            buffers[entity].clear()

        with gc_paused():  # as the ingest does: paused for the whole stream
            for entity, body in _bodies(path):
                page = parse_page(body, TYPE_OF[entity])
                rows = [flat[entity](r) for r in page.resources]
                n = counters[entity]
                buffers[entity].extend((*prefix, n + i, *row) for i, row in enumerate(rows, start=1))
                counters[entity] = n + len(rows)
                if len(buffers[entity]) >= FLUSH_ROWS:
                    flush(entity)
            for entity in SPECS:
                flush(entity)
        elapsed = time.perf_counter() - started
        tx.rollback()
    return elapsed


def _naive(engine: sa.Engine, window, path: str) -> float:
    """stdlib json + the same flattening + DataFrame.to_sql per page, one transaction, rolled back."""
    import pandas as pd

    from spm.ingest.kesehatan import SOURCE, SPECS, flattener
    from spm.warehouse.audit import start_batch

    flat = {e: flattener(e, SECRET, window.kode_kab_kota) for e in SPECS}
    counters = dict.fromkeys(SPECS, 0)
    with engine.connect() as conn:
        tx = conn.begin()
        batch_id = start_batch(conn, SOURCE, "naive", window.kode_kab_kota, window.periode, "bench")
        started = time.perf_counter()
        for entity, body in _bodies(path):
            spec = SPECS[entity]
            bundle = json.loads(body)
            rows = [flat[entity](e["resource"]) for e in bundle.get("entry") or ()]
            if not rows:
                continue
            frame = pd.DataFrame(rows, columns=list(spec.columns))
            frame.insert(0, "row_id", range(counters[entity] + 1, counters[entity] + len(rows) + 1))
            frame.insert(0, "periode", window.periode)
            frame.insert(0, "kode_kab_kota", window.kode_kab_kota)
            frame.insert(0, "batch_id", batch_id)
            counters[entity] += len(rows)
            frame.to_sql(spec.staging.name, conn, if_exists="append", index=False)
        elapsed = time.perf_counter() - started
        tx.rollback()
    return elapsed


def measure(engine: sa.Engine, url: str, client_id: str, secret: str, kode: str, tahun: int, page_size: int,
            tmp: str, hub_cpu: Callable[[], float]) -> Timing:
    from spm.ingest import kesehatan as k
    from spm.quality.gx_runner import _context
    from spm.warehouse.wilayah import load_wilayah

    load_wilayah(engine)
    _context()  # GX's one-off start-up is not part of a window's cost
    window = k.Window.of(k.windows([kode], f"{tahun}-01-01", f"{tahun + 1}-01-01")[0])
    t = Timing(rss_start_mb=rss_mb())
    cpu, hub = time.process_time(), hub_cpu()
    with _client(url, client_id, secret, page_size) as client:
        started = time.perf_counter()
        extracted = k.extract(engine, window.as_dict(), "bench", client, SECRET)
        t.extract_s = time.perf_counter() - started
    t.cpu_hub_s = hub_cpu() - hub
    t.rss_extract_mb = rss_mb()
    t.resources = {e: b["rows_received"] for e, b in extracted["batches"].items()}
    started = time.perf_counter()
    validated = k.validate_window(engine, extracted)
    t.validate_s = time.perf_counter() - started
    problem = k.failed_message(validated)
    if problem:
        raise RuntimeError(problem)
    started = time.perf_counter()
    published = k.publish_window(engine, validated)
    t.publish_s = time.perf_counter() - started
    t.rss_end_mb = rss_mb()
    t.cpu_ingest_s = time.process_time() - cpu
    t.published = sum(b["rows_published"] for b in published["batches"].values())

    path = os.path.join(tmp, "pages.bin")
    with _client(url, client_id, secret, page_size) as client:
        client.auth_headers()  # the token request is not part of serving pages
        started = time.perf_counter()
        t.pages, t.page_bytes = _capture(client, window, path)
        t.source_s = time.perf_counter() - started
    t.ceiling_s = _ceiling(engine, window, path)
    t.naive_s = _naive(engine, window, path)
    os.remove(path)
    return t


def run(kode_wilayah: str = DEFAULT_KODE, scale: float = 1.0, seed: int = 20261123, tahun: int = DEFAULT_TAHUN,
        warehouse_url: str | None = None, page_size: int = 1000) -> int:
    """Run the benchmark and print the figures; the warehouse defaults to a fresh temporary SQLite file."""
    with simulator_process(_serve, kode_wilayah, scale, seed) as ((url, client_id, secret), ask):
        print(f"simulated FHIR hub of {kode_wilayah} at scale {scale}")
        with scratch_warehouse(warehouse_url) as (engine, where), tempfile.TemporaryDirectory() as tmp:
            t = measure(engine, url, client_id, secret, kode_wilayah, tahun, page_size, tmp, lambda: ask("cpu"))
    n = t.total
    per_type = ", ".join(f"{e} {c:,}" for e, c in t.resources.items())
    print(f"health ingest, {kode_wilayah} lastUpdated {tahun} (full-year backfill): {n:,} FHIR resources "
          f"({per_type}), {t.pages:,} pages of {page_size} ({t.page_bytes / 1e6:,.0f} MB), warehouse {where}")
    e2e = n / t.end_to_end_s
    ceiling = n / t.ceiling_s
    naive = n / t.naive_s
    print(f"  end to end     {e2e:>10,.0f} resources/s ({t.end_to_end_s:.1f}s: extract {t.extract_s:.1f}s, "
          f"validate {t.validate_s:.1f}s, publish {t.publish_s:.1f}s; {t.published:,} rows published)")
    print(f"  extract only   {n / t.extract_s:>10,.0f} resources/s (HTTP -> validated rows in staging)")
    print(f"  source only    {n / t.source_s:>10,.0f} resources/s (the hub serving the same pages, bytes kept)")
    print(f"  ceiling        {ceiling:>10,.0f} resources/s (orjson + flatten + bulk load of those bytes)")
    print(f"  naive          {naive:>10,.0f} resources/s (json + flatten + DataFrame.to_sql of those bytes)")
    print(f"  ratios         end to end = {e2e / ceiling:.2f} x ceiling, {e2e / naive:.1f} x naive; "
          f"ceiling = {ceiling / naive:.1f} x naive")
    print(f"  peak memory    {t.rss_start_mb:.0f} MB before, {t.rss_extract_mb:.0f} MB after extract, "
          f"{t.rss_end_mb:.0f} MB at the end (resident set)")
    busy = t.cpu_ingest_s + t.cpu_hub_s
    print(f"  CPU            end to end: ingest {t.cpu_ingest_s:.1f}s + hub "
          f"{t.cpu_hub_s:.1f}s = {busy:.1f}s in {t.end_to_end_s:.1f}s on {os.cpu_count()} cores "
          f"({busy / t.end_to_end_s:.2f} cores busy on average)")
    return 0


if __name__ == "__main__":  # python -m spm.benchmarks.kesehatan [scale]
    raise SystemExit(run(scale=float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
