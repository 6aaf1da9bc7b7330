"""`spm bench pendidikan`: the education ingest end to end against the simulated Dapodik.

Measures, for one kab/kota × semester at the simulator's full scale (or `--scale`):
- learners/second end to end: HTTP pages → pseudonymised rows in staging → GX validation → publish
  (deduplicated into fact_peserta_didik), with the real connector, thread pool and warehouse code;
- the bulk-load ceiling in the same run: the same staged rows inserted into staging alone (no HTTP,
  no pseudonymisation, no validation), i.e. the fastest the warehouse could take them;
- peak memory of the ingest process (resident set, `resource.getrusage`) after extract and at the
  end, to show that extract streams (validation reads the batch as one DataFrame, by design of
  spm.ingest.wap).
The simulator runs in a child process so that its JSON rendering does not share this process's GIL
or memory; its world is generated before the clock starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from spm.benchmarks.harness import rss_mb, scratch_warehouse, simulator_process

DEFAULT_KODE = "32.71"
DEFAULT_SEMESTER = 20241
SECRET = b"benchmark-secret-not-for-production"


def _serve(kode: str, scale: float, seed: int, semester_id: int, pipe) -> None:
    """Child process: build the world, start the servers, report the URL, serve until told to stop."""
    from spm.simulator import SimulatorConfig, SimulatorServers

    config = SimulatorConfig(kode_wilayah=(kode,), scale=scale, seed=seed)
    with SimulatorServers(config) as sim:
        world = sim.world[kode]
        world.pendidikan.learners(semester_id)  # generated before the clock starts
        pipe.send((sim.dapodik_url, config.dapodik_token, len(world.pendidikan.schools.npsn)))
        pipe.recv()


@dataclass
class Timing:
    learners: int = 0
    published: int = 0
    duplicates: int = 0
    schools: int = 0
    extract_s: float = 0.0
    validate_s: float = 0.0
    publish_s: float = 0.0
    ceiling_s: float = 0.0
    rss_start_mb: float = 0.0
    rss_extract_mb: float = 0.0
    rss_end_mb: float = 0.0

    @property
    def total_s(self) -> float:
        return self.extract_s + self.validate_s + self.publish_s


def measure(engine: sa.Engine, dapodik_url: str, token: str, kode: str, semester_id: int, paralel: int,
            page_size: int) -> Timing:
    from spm.ingest import pendidikan as pdk
    from spm.quality.gx_runner import _context
    from spm.sources.connections import SourceConnection
    from spm.sources.dapodik import DapodikClient
    from spm.warehouse.bulk import insert_rows
    from spm.warehouse.tables import staging_peserta_didik
    from spm.warehouse.wilayah import load_wilayah

    load_wilayah(engine)
    _context()  # GX's one-off start-up is not part of a batch's cost
    t = Timing(rss_start_mb=rss_mb())
    conn = SourceConnection("spm_dapodik", dapodik_url, password=token,
                            extra={"paralel": paralel, "page_size": page_size})
    partition = {"kode_kab_kota": kode, "semester_id": semester_id}
    with DapodikClient(conn) as client:
        started = time.perf_counter()
        extracted = pdk.extract(engine, partition, "bench", client, SECRET)
        t.extract_s = time.perf_counter() - started
    t.rss_extract_mb = rss_mb()
    started = time.perf_counter()
    validated = pdk.validate_partition(engine, extracted)
    t.validate_s = time.perf_counter() - started
    problem = pdk.failed_message(validated)
    if problem:
        raise RuntimeError(problem)
    started = time.perf_counter()
    pdk.publish_sekolah(engine, validated)
    result = pdk.publish_peserta_didik(engine, validated)
    t.publish_s = time.perf_counter() - started
    t.rss_end_mb = rss_mb()
    t.learners, t.published = result["rows_received"], result["rows_published"]
    t.duplicates = result["rows_duplicate"]
    t.schools = extracted["sekolah"]["rows_received"]

    # Ceiling: the same staged rows, inserted alone (rolled back afterwards).
    batch_id = extracted["peserta_didik"]["batch_id"]
    cols = [c.name for c in staging_peserta_didik.c]
    with engine.connect() as c:
        rows = [tuple(r) for r in c.execute(sa.select(staging_peserta_didik).where(
            staging_peserta_didik.c.batch_id == batch_id))]
    with engine.connect() as c:
        tx = c.begin()
        started = time.perf_counter()
        insert_rows(c, staging_peserta_didik, cols, rows)
        t.ceiling_s = time.perf_counter() - started
        tx.rollback()
    return t


def run(kode_wilayah: str = DEFAULT_KODE, scale: float = 1.0, seed: int = 20261123,
        semester_id: int = DEFAULT_SEMESTER, warehouse_url: str | None = None, paralel: int = 8,
        page_size: int = 1000) -> int:
    """Run the benchmark and print the figures; the warehouse defaults to a fresh temporary SQLite file."""
    with simulator_process(_serve, kode_wilayah, scale, seed, semester_id) as ((url, token, schools), _):
        print(f"simulated {kode_wilayah} at scale {scale} ({schools} schools)")
        with scratch_warehouse(warehouse_url) as (engine, where):
            t = measure(engine, url, token, kode_wilayah, semester_id, paralel, page_size)
    print(f"education ingest, {kode_wilayah} semester {semester_id}, {t.schools} schools, {t.learners:,} learner rows "
          f"-> {t.published:,} persons ({t.duplicates:,} duplicate listings merged), paralel={paralel}, "
          f"page_size={page_size}, warehouse {where}")
    print(f"  end to end     {t.learners / t.total_s:>10,.0f} learners/s   ({t.total_s:.1f}s: extract {t.extract_s:.1f}s, "
          f"validate {t.validate_s:.1f}s, publish {t.publish_s:.1f}s)")
    print(f"  extract only   {t.learners / t.extract_s:>10,.0f} learners/s   (HTTP -> pseudonymised rows in staging)")
    print(f"  bulk ceiling   {t.learners / t.ceiling_s:>10,.0f} rows/s       (the same rows inserted into staging alone)")
    print(f"  peak memory    {t.rss_start_mb:.0f} MB before, {t.rss_extract_mb:.0f} MB after extract, "
          f"{t.rss_end_mb:.0f} MB at the end (resident set)")
    return 0
