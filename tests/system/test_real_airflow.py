"""The product under a real Airflow: scheduler, dag-processor, triggerer and api-server on a
PostgreSQL metadata DB, with the CeleryExecutor (two workers on the machine's Redis) and with the
LocalExecutor; the warehouse on a fresh PostgreSQL database; the simulator serving two kab/kota of
one province, each with its own FHIR hub, at a size where a health window is validated in several
chunks.

As an operator would: migrate, start the services, unpause, load the region codes, trigger the
ingests with conf, and let the Asset events run spm_hitung_capaian and spm_terbitkan_laporan. Then:
every DAG run succeeded on its first try, mapped tasks ran on both Celery workers, the marts equal
the simulator's own computation, and the reports exist.

Run by hand: `.venv/bin/pytest tests/system -m system` (needs SPM_TEST_POSTGRES_URL and Redis at
127.0.0.1:6379); `SPM_SYSTEM_KEEP=1` keeps the cluster's folder (logs of every process and task).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import postgres_admin_url
from tests.system.cluster import Cluster, drop_database, fresh_database

pytestmark = [pytest.mark.system, pytest.mark.postgres, pytest.mark.timeout(1200)]

KAB_KOTA = ("32.71", "32.72")
SCALE = 0.002
SEED = 20261201
CHUNK_ROWS = 2000  # validation chunk of the health ingest: the backfill below spans several
FHIR_WINDOW = {"dari": "2024-01-01T00:00:00Z", "sampai": "2026-11-22T00:00:00Z"}
REPORT = (2026, 3)
INGESTS = {
    "spm_ingest_kependudukan": {"tahun": 2025, "semester": 2},
    "spm_ingest_pendidikan": {"tahun": 2026, "semester": 1},
    "spm_ingest_kesehatan": FHIR_WINDOW,
}
DAG_IDS = ["spm_muat_wilayah", "spm_ingest_kependudukan", "spm_ingest_pendidikan", "spm_ingest_kesehatan",
           "spm_ingest_input_opd", "spm_hitung_capaian", "spm_terbitkan_laporan", "spm_kirim_peringatan",
           "spm_periksa_kesegaran"]


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def simulators():
    from spm.simulator.config import SimulatorConfig
    from spm.simulator.servers import SimulatorServers

    # Some learners of Kota Bogor moved to Kota Sukabumi, listed by both: the province counts them once.
    config = SimulatorConfig(kode_wilayah=KAB_KOTA, scale=SCALE, seed=SEED, pindah_share=0.02)
    hubs = [SimulatorServers(replace(config, satusehat_kode_wilayah=kode)) for kode in KAB_KOTA]
    for hub in hubs:
        hub.start()
    try:
        yield hubs
    finally:
        for hub in hubs:
            hub.stop()


def _connections(hubs) -> dict[str, str]:
    env = {}
    for conn_id, conn in hubs[0].airflow_connections().items():
        if conn_id != "spm_satusehat":
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    for kode, hub in zip(KAB_KOTA, hubs):
        env[f"AIRFLOW_CONN_SPM_SATUSEHAT_{kode.replace('.', '')}"] = json.dumps(
            hub.airflow_connections()["spm_satusehat"])
    return env


@pytest.fixture(params=["CeleryExecutor", "LocalExecutor"])
def cluster(request, simulators):
    if request.param == "CeleryExecutor" and not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis at 127.0.0.1:6379 is not reachable: CI must run the Celery system test")
        pytest.skip("the Celery system test needs Redis at 127.0.0.1:6379")
    admin = postgres_admin_url()
    tag = f"{request.param[:5].lower()}_{uuid.uuid4().hex[:6]}"
    meta_db, wh_db = f"spm_system_{tag}_meta", f"spm_system_{tag}_wh"
    metadata_url, warehouse_url = fresh_database(admin, meta_db), fresh_database(admin, wh_db)
    home = Path(tempfile.mkdtemp(prefix=f"spm-system-{tag}-"))
    env = {
        "AIRFLOW_CONN_SPM_WAREHOUSE": warehouse_url.replace("postgresql+psycopg://", "postgresql://"),
        "AIRFLOW_VAR_SPM_KODE_WILAYAH": json.dumps(list(KAB_KOTA)),
        "AIRFLOW_VAR_SPM_PSEUDONYM_SECRET": "system-test-secret-0123456789abcdef",
        "SPM_HEALTH_VALIDATE_CHUNK_ROWS": str(CHUNK_ROWS),
        "SPM_RETRY_DELAY_SECONDS": "5",
        **_connections(simulators),
    }
    c = Cluster(request.param, home, metadata_url, env)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        if c.__dict__.get("_metadata") is not None:
            c._metadata.dispose()
        if os.environ.get("SPM_SYSTEM_KEEP"):
            print(f"system test folder kept: {home}; databases {meta_db}, {wh_db}")
        else:
            drop_database(admin, meta_db)
            drop_database(admin, wh_db)
            shutil.rmtree(home, ignore_errors=True)


def test_the_nightly_chain_runs_under_a_real_scheduler(cluster: Cluster, simulators):
    from spm.simulator.inbox import write_opd_files

    started = time.monotonic()
    cluster.spm("db", "upgrade")
    cluster.wait_parsed(DAG_IDS)

    # First deployment, in the order of docs/operations.md: region codes first, then everything else.
    cluster.run("dags", "unpause", "spm_muat_wilayah")
    run = cluster.trigger("spm_muat_wilayah", None, "first-wilayah")
    assert cluster.wait_run("spm_muat_wilayah", run, 300)["state"] == "success", cluster.excerpt()

    write_opd_files(simulators[0].world, cluster.home / "inbox" / "opd", *REPORT)
    for dag_id in DAG_IDS[1:]:
        cluster.run("dags", "unpause", dag_id)
    triggered = {}
    for dag_id, conf in INGESTS.items():
        triggered[dag_id] = cluster.trigger(dag_id, {"kode_wilayah": list(KAB_KOTA), **conf}, f"first-{dag_id}")
    triggered["spm_ingest_input_opd"] = cluster.trigger("spm_ingest_input_opd", {"kode_wilayah": list(KAB_KOTA)},
                                                        "first-input-opd")
    for dag_id, run_id in triggered.items():
        assert cluster.wait_run(dag_id, run_id, 600)["state"] == "success", f"{dag_id}\n{cluster.excerpt()}"
    cluster.wait_quiet(600)
    elapsed = time.monotonic() - started

    runs = cluster.runs()
    tis = cluster.task_instances()
    red = [(r["dag_id"], r["run_id"], r["state"]) for r in runs if r["state"] != "success"]
    assert not red, f"runs not successful: {red}\n{cluster.excerpt()}"
    retried = [(t["dag_id"], t["task_id"], t["map_index"], t["try_number"]) for t in tis if (t["try_number"] or 0) > 1]
    assert not retried, f"tasks needed a retry: {retried}\n{cluster.excerpt()}"
    by_dag = {r["dag_id"] for r in runs}
    assert {"spm_hitung_capaian", "spm_terbitkan_laporan"} <= by_dag, "the Asset-triggered DAGs never ran"
    assert all(r["run_type"] == "asset_triggered" for r in runs if r["dag_id"] == "spm_hitung_capaian"), runs

    if cluster.executor == "CeleryExecutor":
        mapped_hosts = {t["hostname"].split(".")[0] for t in tis if t["map_index"] is not None and t["map_index"] >= 0
                        and t["state"] == "success"}
        assert set(cluster.workers) <= mapped_hosts, f"mapped tasks ran on {mapped_hosts} only"

    _assert_marts_equal_the_simulator(cluster, simulators)
    _assert_reports(cluster)
    print(f"{cluster.executor}: {len(runs)} DAG runs, {len(tis)} task instances, all green in {elapsed:.0f}s")


def _warehouse(cluster: Cluster) -> sa.Engine:
    from spm.settings import normalise_url

    return sa.create_engine(normalise_url(cluster.env["AIRFLOW_CONN_SPM_WAREHOUSE"]))


def _assert_marts_equal_the_simulator(cluster: Cluster, hubs) -> None:
    from spm.simulator.expected import expected_capaian, roll_up
    from spm.simulator.expected_provinsi import expected_capaian_provinsi
    from spm.warehouse.tables_marts import mart_capaian_spm as m

    engine = _warehouse(cluster)
    tahun, triwulan = REPORT
    try:
        with engine.connect() as conn:
            got = {(r.kode_wilayah, r.jenis_kelamin, r.kode_layanan): (r.sasaran, r.terlayani) for r in conn.execute(
                sa.select(m.c.kode_wilayah, m.c.jenis_kelamin, m.c.kode_layanan, m.c.sasaran, m.c.terlayani).where(
                    m.c.tahun == tahun, m.c.triwulan == triwulan))}
    finally:
        engine.dispose()
    checked, services = 0, set()
    worlds = {kode: hubs[0].world[kode] for kode in KAB_KOTA}
    for kode in KAB_KOTA:
        # Both hubs are loaded: a resident served by the other kab/kota's hub counts where they live.
        want = expected_capaian(worlds[kode], tahun, triwulan, visitors=[w for k, w in worlds.items() if k != kode])
        for level in (want, roll_up(want, "kecamatan"), roll_up(want, "kabupaten_kota")):
            for r in level.itertuples():
                key = (r.kode_wilayah, r.jenis_kelamin, r.kode_layanan)
                if r.sasaran == 0 and r.terlayani == 0 and key not in got:
                    continue
                assert key in got, f"no mart row for {key}"
                assert got[key] == (pytest.approx(r.sasaran), r.terlayani), key
                checked += 1
                services.add(r.kode_layanan)
    assert checked > 500 and len(services) >= 13, (checked, sorted(services))
    # Both kab/kota of Jawa Barat configured: the province's rows, over both, after theirs.
    provinsi = expected_capaian_provinsi([worlds[k] for k in KAB_KOTA], tahun, triwulan)
    for r in provinsi.itertuples():
        key = (r.kode_wilayah, r.jenis_kelamin, r.kode_layanan)
        if r.sasaran == 0 and r.terlayani == 0 and key not in got:
            continue
        assert key in got, f"no provinsi row for {key}"
        assert got[key] == (pytest.approx(r.sasaran), r.terlayani), key
    assert len(provinsi) >= 13 * 2 and set(provinsi.kab_kota_dimuat) == {2}
    # The province's own health services: what its Dinas entered in the penerima sheet.
    from spm.simulator.opd_workbook import expected_penerima

    for kode, entered in expected_penerima(hubs[0].world.config.seed, "32", tahun, triwulan).items():
        assert got[("32", "semua", kode)] == (entered["sasaran"], entered["terlayani"]), kode


def _assert_reports(cluster: Cluster) -> None:
    tahun, triwulan = REPORT
    for kode in (*KAB_KOTA, "32"):  # and the province's, published on its own index event
        folder = cluster.home / "reports" / "laporan" / kode / str(tahun) / f"triwulan-{triwulan}"
        names = {p.suffix for p in folder.iterdir()} if folder.exists() else set()
        assert {".xlsx", ".html", ".pdf", ".csv"} <= names, f"{folder}: {sorted(names)}"
