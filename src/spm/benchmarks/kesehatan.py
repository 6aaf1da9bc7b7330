"""`spm bench kesehatan`: the health ingest end to end against the simulated FHIR hub, beside two
references that mean something, all measured in the same run.

For one kab/kota's full-year backfill (`_lastUpdated` window of a calendar year, WIB) at the
simulator's full scale (or `--scale`):
- end to end, FHIR resources/second: HTTP pages (OAuth2, paging) -> rows -> GX validation and staging
  chunk by chunk (while the next pages download) -> each type's verdict -> merge into the four fact
  tables (on PostgreSQL while the next type streams), with the DAG task's own function
  (spm.ingest.kesehatan.ingest); `publish` is what is left after the last type is judged. With
  `paralel` searches per type at once (default 1 here: the simulated hub shares this machine's cores
  and answers at once, where a second search only adds work; the connection's default is 2);
  `hub_latency_ms` makes the hub answer each page that much later, as a hub across a network does;
- the source alone: the same pages fetched over HTTP and kept as bytes, written to a file (how fast
  the simulated hub serves; the end to end cannot beat it);
- the physical limit of this machine: those pages read back from the file, decoded and flattened
  to the kept fields with msgspec typed Structs (spm.sources.fhir_typed), and loaded into unindexed
  tables in one transaction: binary COPY on PostgreSQL, executemany on SQLite. No HTTP, no checks.
  It runs `limit_runs` times (default 3) and the fastest counts: on a shared machine a single run
  varied by ±30 % (its temporary tables' disk writes), and noise only ever slows a run down;
- the peer a Python data engineer would pick: FHIR-PYrate (`Pirate.steal_bundles_to_dataframe` with
  FHIRPath columns for the same fields) + `DataFrame.to_sql`, against the same hub. Its session
  carries a token fetched with the hub's OAuth2 client credentials (and fetched again on a 401).
  FHIR-PYrate adds `_sort=_id` to any multi-page search; the hub refuses unknown parameters (400), and
  FHIR-PYrate then logs the error and returns no rows at all, so the harness's session removes `_sort`
  (the hub pages in a stable `_lastUpdated` order). Its row count is checked against the end to end's;
- peak memory of each process, read from /proc (VmHWM, reset before each measurement): this process
  (the ingest and then each reference run here, no child) and the hub. `ru_maxrss` is not used: a
  child inherits its parent's peak through fork;
- CPU seconds of the end to end in the ingest process and the hub: on a small machine their sum,
  not the ingest alone, bounds the end to end (the hub here shares the machine; a real hub does not).
The simulator runs in a spawned child process; its world is generated before the clock starts.
The limit's and the peer's loads are rolled back.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

import sqlalchemy as sa

from spm.benchmarks.harness import current_rss_mb, reset_peak, rss_mb, scratch_warehouse, simulator_process

DEFAULT_KODE = "32.71"
DEFAULT_TAHUN = 2024  # the hub's first year: a backfill starts there (patients are registered from 2024)
SECRET = b"benchmark-secret-not-for-production"


def _serve(kode: str, scale: float, seed: int, latency_s: float, pipe) -> None:
    """Child process: build the world and the hub's sort orders, start the servers, serve until told
    (each page `latency_s` late: a hub across a network)."""
    from spm.simulator import SimulatorConfig, SimulatorServers

    config = SimulatorConfig(kode_wilayah=(kode,), scale=scale, seed=seed, satusehat_kode_wilayah=kode)
    with SimulatorServers(config) as sim:
        sim.faults.set(slow_seconds=latency_s)
        health = sim.world[kode].kesehatan
        health.patients.order()
        for res in health.all_resources.values():
            res.order(False)
        gc.freeze()  # the world lives as long as the hub: the collector need not walk it again (~35 % of rendering)
        pipe.send((sim.satusehat_url, config.satusehat_client_id, config.satusehat_client_secret, os.getpid()))
        while pipe.recv() == "cpu":
            pipe.send(time.process_time())  # all the hub's threads


@dataclass
class Timing:
    resources: dict[str, int] = field(default_factory=dict)
    published: int = 0
    stream_s: float = 0.0  # until the last type is judged (its merges overlap on PostgreSQL)
    publish_s: float = 0.0  # from then to the commit
    source_s: float = 0.0
    limit_runs_s: list[float] = field(default_factory=list)  # each run of the limit; the fastest counts
    peer_s: float | None = None
    peer_rows: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    page_bytes: int = 0
    base_mb: float = 0.0  # this process before the end to end (GX loaded, warehouse open)
    peak_mb: dict[str, tuple[float, float]] = field(default_factory=dict)  # measurement -> (start, peak)
    hub_peak_mb: float = 0.0
    cpu_ingest_s: float = 0.0  # CPU seconds of the end to end: this process (all threads)
    cpu_hub_s: float = 0.0  # ... the simulated hub (serving the pages while the extract ran)

    @property
    def total(self) -> int:
        return sum(self.resources.values())

    @property
    def limit_s(self) -> float:
        return min(self.limit_runs_s)

    @property
    def end_to_end_s(self) -> float:
        return self.stream_s + self.publish_s


def _client(url: str, client_id: str, secret: str, page_size: int, paralel: int = 1):
    from spm.sources.connections import SourceConnection
    from spm.sources.satusehat import SatusehatClient

    return SatusehatClient(SourceConnection("spm_satusehat", url, client_id, secret, extra={"paralel": paralel}),
                           page_size=page_size)


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
                body = client.get_content(url)
                out.write(struct.pack("<B I", list(SPECS).index(entity), len(body)))
                out.write(body)
                pages += 1
                size += len(body)
                url = parse_page(body, kind, typed=True).next_url
    return pages, size


def _bodies(path: str):
    from spm.ingest.kesehatan import SPECS

    entities = list(SPECS)
    with open(path, "rb") as fh:
        while header := fh.read(5):
            index, length = struct.unpack("<B I", header)
            yield entities[index], fh.read(length)


PG_TYPES = ((sa.BigInteger, "int8"), (sa.SmallInteger, "int2"), (sa.Integer, "int4"), (sa.Boolean, "bool"),
            (sa.Float, "float8"), (sa.Date, "date"), (sa.String, "text"), (sa.Text, "text"))


def _pg_type(column: sa.Column) -> str:
    if isinstance(column.type, sa.DateTime):
        return "timestamptz" if column.type.timezone else "timestamp"
    for kind, name in PG_TYPES:
        if isinstance(column.type, kind):
            return name
    raise TypeError(f"no binary COPY type for {column.table.name}.{column.name} ({column.type})")


def _limit(engine: sa.Engine, window, path: str) -> float:
    """Pages from the file -> msgspec typed decode + flatten -> unindexed tables (binary COPY on
    PostgreSQL, executemany on SQLite), one transaction, rolled back."""
    from spm.ingest.kesehatan import SPECS, TYPE_OF
    from spm.ingest.kesehatan_stream import _staging_columns
    from spm.sources.fhir_typed import decode_page, flattener

    flat = {e: flattener(e, SECRET, window.kode_kab_kota) for e in SPECS}
    prefix = (0, window.kode_kab_kota, window.periode)
    counters = dict.fromkeys(SPECS, 0)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        tx = conn.begin()
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()
        statements = {}
        for entity, spec in SPECS.items():
            cols = _staging_columns(spec)
            name = f"limit_{entity}"
            if postgres:
                cur.execute(f"CREATE TEMP TABLE {name} (LIKE {spec.staging.name}) ON COMMIT DROP")
                statements[entity] = (f"COPY {name} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)",
                                      [_pg_type(spec.staging.c[c]) for c in cols])
            else:
                cur.execute(f"DROP TABLE IF EXISTS temp.{name}")  # pysqlite keeps DDL out of the rollback
                cur.execute(f"CREATE TEMP TABLE {name} AS SELECT {', '.join(cols)} FROM {spec.staging.name} WHERE 0")
                statements[entity] = f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})"
        started = time.perf_counter()
        for entity, body in _bodies(path):
            resources = decode_page(body, TYPE_OF[entity])[0]
            f, n = flat[entity], counters[entity]
            rows = [(*prefix, n + i, *f(r)) for i, r in enumerate(resources, start=1)]
            counters[entity] = n + len(rows)
            if postgres:
                statement, types = statements[entity]
                with cur.copy(statement) as copy:
                    copy.set_types(types)
                    for row in rows:
                        copy.write_row(row)
            else:
                cur.executemany(statements[entity], rows)
        elapsed = time.perf_counter() - started
        cur.close()
        tx.rollback()
    return elapsed


# FHIRPath columns for the fields the project keeps (spm.sources.fhir_resources), as a user of
# FHIR-PYrate would write them. The NIK is kept as it comes: the peer does not pseudonymise.
NIK = "https://fhir.kemkes.go.id/id/nik"
VILLAGE = ("address.first().extension.where(url='https://fhir.kemkes.go.id/r4/StructureDefinition/"
           "administrativeCode').extension.where(url='village').valueCode")
PEER_PATHS = {
    "Patient": [("pasien_id", "id"), ("last_updated", "meta.lastUpdated"),
                ("nik", f"identifier.where(system='{NIK}').value"), ("jenis_kelamin", "gender"),
                ("tanggal_lahir", "birthDate"), ("kode_desa", VILLAGE)],
    "Encounter": [("kunjungan_id", "id"), ("last_updated", "meta.lastUpdated"),
                  ("pasien_id", "subject.reference"), ("status", "status"), ("kelas", "class.code"),
                  ("tanggal_mulai", "period.start"), ("fasyankes", "serviceProvider.reference"),
                  ("kode_diagnosis", "reasonCode.coding.where(system='http://hl7.org/fhir/sid/icd-10').code.first()")],
    "Observation": [("observasi_id", "id"), ("last_updated", "meta.lastUpdated"),
                    ("pasien_id", "subject.reference"), ("status", "status"),
                    ("tanggal_efektif", "effectiveDateTime"),
                    ("kode", "code.coding.where(system='http://loinc.org').code.first()"),
                    ("nilai", "valueQuantity.value"), ("satuan", "valueQuantity.code"),
                    ("nilai_sistolik", "component.where(code.coding.code='8480-6').valueQuantity.value"),
                    ("nilai_diastolik", "component.where(code.coding.code='8462-4').valueQuantity.value"),
                    ("nilai_kode", "valueCodeableConcept.coding.code.first()")],
    "Condition": [("kondisi_id", "id"), ("last_updated", "meta.lastUpdated"),
                  ("pasien_id", "subject.reference"), ("status_klinis", "clinicalStatus.coding.code.first()"),
                  ("status_verifikasi", "verificationStatus.coding.code.first()"),
                  ("tanggal_onset", "onsetDateTime"),
                  ("kode_diagnosis", "code.coding.where(system='http://hl7.org/fhir/sid/icd-10').code.first()")],
}


def _peer_session(client):
    """A requests session for FHIR-PYrate: the hub's bearer token (fetched again on a 401), and no
    `_sort` parameter (the hub refuses it, and FHIR-PYrate would then silently return nothing)."""
    import requests

    class Session(requests.Session):
        def request(self, method, url, *args, **kwargs):
            base, _, query = url.partition("?")
            url = base + "?" + "&".join(p for p in query.split("&") if not p.startswith("_sort="))
            self.headers.update(client.auth_headers())
            resp = super().request(method, url, *args, **kwargs)
            if resp.status_code == 401 and client.on_unauthorized():  # expired: fetch another, once
                self.headers.update(client.auth_headers())
                resp = super().request(method, url, *args, **kwargs)
            return resp

    return Session()


def _peer(engine: sa.Engine, client, window, page_size: int) -> tuple[float, dict[str, int]]:
    """FHIR-PYrate + DataFrame.to_sql per type, one transaction, rolled back."""
    import logging
    import warnings

    try:
        from fhir_pyrate import Pirate
    except ImportError:
        raise SystemExit("spm bench kesehatan: FHIR-PYrate is not installed (pip install -r requirements-test.txt), "
                         "or leave the peer out with --no-peer") from None

    from spm.ingest.kesehatan import SPECS, TYPE_OF
    from spm.sources.satusehat import FHIR_PATH, fhir_instant

    logging.getLogger("fhir_pyrate").setLevel(logging.ERROR)
    rows: dict[str, int] = {}
    bounds = [f"ge{quote(fhir_instant(window.dari))}", f"lt{quote(fhir_instant(window.sampai))}"]
    with engine.connect() as conn:
        tx = conn.begin()
        started = time.perf_counter()
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # its "no sorting" warning (see _peer_session); and its progress bars
            pirate = Pirate(base_url=f"{client.conn.base_url}{FHIR_PATH}", auth=_peer_session(client),
                            num_processes=1, silence_fhirpath_warning=True)
            for entity in SPECS:
                kind = TYPE_OF[entity]
                frame = pirate.steal_bundles_to_dataframe(
                    resource_type=kind, request_params={"_lastUpdated": bounds, "_count": page_size},
                    fhir_paths=PEER_PATHS[kind])
                for column in frame.columns:  # FHIRPath numbers are Decimals, which the drivers refuse
                    values = frame[column].dropna()
                    if len(values) and isinstance(values.iloc[0], Decimal):
                        frame[column] = frame[column].astype(float)
                frame.to_sql(f"peer_{entity}", conn, if_exists="replace", index=False)
                rows[entity] = len(frame)
        elapsed = time.perf_counter() - started
        tx.rollback()
    return elapsed, rows


def measure(engine: sa.Engine, hub: tuple, kode: str, tahun: int, page_size: int, tmp: str,
            hub_cpu: Callable[[], float], peer: bool = True, limit_runs: int = 3, paralel: int = 1) -> Timing:
    from spm.ingest import kesehatan as k
    from spm.quality.gx_runner import _context
    from spm.warehouse.wilayah import load_wilayah

    url, client_id, secret, hub_pid = hub
    load_wilayah(engine)
    _context()  # GX's one-off start-up is not part of a window's cost
    window = k.Window.from_dict(k.windows([kode], f"{tahun}-01-01", f"{tahun + 1}-01-01")[0])
    gc.collect()
    reset_peak()
    reset_peak(hub_pid)
    t = Timing(base_mb=current_rss_mb())
    cpu, hub_cpu_before = time.process_time(), hub_cpu()
    timings: dict[str, float] = {}
    with _client(url, client_id, secret, page_size, paralel) as client:
        published = k.ingest(engine, window.to_dict(), "bench", client, SECRET, timings=timings)
    t.stream_s, t.publish_s = timings["stream_s"], timings["commit_s"]
    t.cpu_hub_s = hub_cpu() - hub_cpu_before
    t.hub_peak_mb = rss_mb(hub_pid)
    t.resources = {e: b["rows_received"] for e, b in published["batches"].items()}
    t.cpu_ingest_s = time.process_time() - cpu
    t.peak_mb["end to end"] = (t.base_mb, rss_mb())
    t.published = sum(b["rows_published"] for b in published["batches"].values())
    del published

    path = os.path.join(tmp, "pages.bin")
    with _client(url, client_id, secret, page_size) as client:
        client.auth_headers()  # the token request is not part of serving pages
        started = time.perf_counter()
        t.pages, t.page_bytes = _capture(client, window, path)
        t.source_s = time.perf_counter() - started
        gc.collect()
        reset_peak()
        start = current_rss_mb()
        for _ in range(limit_runs):
            t.limit_runs_s.append(_limit(engine, window, path))
            gc.collect()
        t.peak_mb["limit"] = (start, rss_mb())
        os.remove(path)
        if peer:
            gc.collect()
            reset_peak()
            start = current_rss_mb()
            t.peer_s, t.peer_rows = _peer(engine, client, window, page_size)
            t.peak_mb["FHIR-PYrate"] = (start, rss_mb())
    return t


def run(kode_wilayah: str = DEFAULT_KODE, scale: float = 1.0, seed: int = 20261123, tahun: int = DEFAULT_TAHUN,
        warehouse_url: str | None = None, page_size: int = 1000, peer: bool = True, limit_runs: int = 3,
        paralel: int = 1, hub_latency_ms: float = 0.0) -> int:
    """Run the benchmark and print the figures; the warehouse defaults to a fresh temporary SQLite file."""
    with simulator_process(_serve, kode_wilayah, scale, seed, hub_latency_ms / 1000) as (hub, ask):
        late = f", each page {hub_latency_ms:g} ms late" if hub_latency_ms else ""
        print(f"simulated FHIR hub of {kode_wilayah} at scale {scale}{late}")
        with scratch_warehouse(warehouse_url) as (engine, where), tempfile.TemporaryDirectory() as tmp:
            t = measure(engine, hub, kode_wilayah, tahun, page_size, tmp, lambda: ask("cpu"), peer, limit_runs,
                        paralel)
    n = t.total
    per_type = ", ".join(f"{e} {c:,}" for e, c in t.resources.items())
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"health ingest, {kode_wilayah} lastUpdated {tahun} (full-year backfill): {n:,} FHIR resources "
          f"({per_type}), {t.pages:,} pages of {page_size} ({t.page_bytes / 1e6:,.0f} MB), warehouse {where}; "
          f"{os.cpu_count()} cores, load average {load} at the end")
    e2e, limit = n / t.end_to_end_s, n / t.limit_s
    print(f"  end to end     {e2e:>10,.0f} resources/s ({t.end_to_end_s:.1f}s: stream and judge {t.stream_s:.1f}s, "
          f"then publish {t.publish_s:.1f}s; {t.published:,} rows published; {paralel} search(es) per type at once)")
    print(f"  source only    {n / t.source_s:>10,.0f} resources/s (the hub serving the same pages over HTTP, one at a "
          "time, bytes kept)")
    runs = sorted(n / s for s in t.limit_runs_s)
    spread = ""
    if len(runs) > 1:
        spread = f"; the fastest of {len(runs)} runs, which ranged {runs[0]:,.0f}-{runs[-1]:,.0f}/s"
    print(f"  limit          {limit:>10,.0f} resources/s (those pages from disk: msgspec typed decode + flatten + "
          f"{'binary COPY' if engine.dialect.name == 'postgresql' else 'executemany'} into unindexed tables{spread})")
    ratios = f"end to end = {e2e / limit:.2f} x limit"
    if t.peer_s is not None:
        peer_rate = n / t.peer_s
        same = t.peer_rows == t.resources
        print(f"  FHIR-PYrate    {peer_rate:>10,.0f} resources/s (Pirate + FHIRPath columns + DataFrame.to_sql, over HTTP"
              f"{'' if same else f'; ROWS DIFFER: {t.peer_rows}'})")
        ratios += f", {e2e / peer_rate:.1f} x FHIR-PYrate; limit = {limit / peer_rate:.0f} x FHIR-PYrate"
    print(f"  ratios         {ratios}")
    peaks = ", ".join(f"{name} {peak:,.0f} MB (+{peak - start:,.0f})" for name, (start, peak) in t.peak_mb.items())
    print(f"  peak memory    this process (VmHWM reset before each; + over its resident set then): {peaks}; "
          f"the hub {t.hub_peak_mb:,.0f} MB")
    busy = t.cpu_ingest_s + t.cpu_hub_s
    print(f"  CPU            end to end: ingest {t.cpu_ingest_s:.1f}s + hub "
          f"{t.cpu_hub_s:.1f}s = {busy:.1f}s in {t.end_to_end_s:.1f}s on {os.cpu_count()} cores "
          f"({busy / t.end_to_end_s:.2f} cores busy on average)")
    return 0 if t.peer_s is None or t.peer_rows == t.resources else 1


if __name__ == "__main__":  # python -m spm.benchmarks.kesehatan [scale]
    raise SystemExit(run(scale=float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
