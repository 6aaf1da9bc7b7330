"""Measure a first backfill of one kab/kota under the CeleryExecutor with two workers (by hand, not
part of the suite): wall time per DAG run and the peak resident memory of each worker (the Celery
worker with its pool and task processes, sampled every second).

    SPM_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python -m tests.system.backfill --scale 1.0 --kode 32.71 --dari 2024-01-01 --sampai 2025-01-01
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil

from tests.system.cluster import Cluster, drop_database, fresh_database


def _tree_rss_mb(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kode", default="32.71")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--dari", default="2024-01-01")
    parser.add_argument("--sampai", default="2025-01-01")
    args = parser.parse_args()

    from spm.simulator.config import SimulatorConfig
    from spm.simulator.servers import SimulatorServers

    admin = os.environ["SPM_TEST_POSTGRES_URL"]
    tag = uuid.uuid4().hex[:6]
    meta_db, wh_db = f"spm_backfill_{tag}_meta", f"spm_backfill_{tag}_wh"
    home = Path(tempfile.mkdtemp(prefix="spm-backfill-"))
    started = time.monotonic()
    sim = SimulatorServers(SimulatorConfig(kode_wilayah=(args.kode,), scale=args.scale, satusehat_kode_wilayah=args.kode))
    for area in sim.world:
        area.pendidikan
    sim.world.fhir.kesehatan
    sim.start()
    print(f"simulator {args.kode} scale {args.scale}: world built in {time.monotonic() - started:.0f}s", flush=True)
    env = {f"AIRFLOW_CONN_{k.upper()}": json.dumps(v) for k, v in sim.airflow_connections().items()}
    env.update({
        "AIRFLOW_CONN_SPM_WAREHOUSE": fresh_database(admin, wh_db).replace("postgresql+psycopg://", "postgresql://"),
        "AIRFLOW_VAR_SPM_KODE_WILAYAH": json.dumps([args.kode]),
        "AIRFLOW_VAR_SPM_PSEUDONYM_SECRET": "backfill-measure-secret-0123456789",
    })
    cluster = Cluster("CeleryExecutor", home, fresh_database(admin, meta_db), env)
    peaks: dict[str, float] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            for name in cluster.workers:
                proc = cluster.procs.get(name)
                if proc is not None:
                    peaks[name] = max(peaks.get(name, 0.0), _tree_rss_mb(proc.pid))

    try:
        cluster.spm("db", "upgrade")
        cluster.start()
        threading.Thread(target=sample, daemon=True).start()
        cluster.wait_parsed(["spm_muat_wilayah", "spm_ingest_kesehatan"])
        cluster.run("dags", "unpause", "spm_muat_wilayah")
        cluster.wait_run("spm_muat_wilayah", cluster.trigger("spm_muat_wilayah", None, "wilayah"), 600)
        runs = {
            "spm_ingest_kependudukan": {"tahun": 2025, "semester": 2},
            "spm_ingest_pendidikan": {"tahun": 2026, "semester": 1},
            "spm_ingest_kesehatan": {"dari": args.dari, "sampai": args.sampai},
        }
        t0 = time.monotonic()
        for dag_id, conf in runs.items():
            cluster.run("dags", "unpause", dag_id)
            cluster.trigger(dag_id, {"kode_wilayah": [args.kode], **conf}, f"backfill-{dag_id}")
        for dag_id in runs:
            state = cluster.wait_run(dag_id, f"backfill-{dag_id}", 7200)["state"]
            print(f"{dag_id}: {state}", flush=True)
        wall = time.monotonic() - t0
        stop.set()
        for r in cluster.runs():
            if r["start_date"] and r["end_date"]:
                print(f"  {r['dag_id']:<26} {r['run_id']:<40} {r['state']:<8} "
                      f"{(r['end_date'] - r['start_date']).total_seconds():7.0f}s")
        for ti in cluster.task_instances():
            if ti["start_date"] and ti["end_date"] and (ti["end_date"] - ti["start_date"]).total_seconds() > 30:
                print(f"    {ti['dag_id']}.{ti['task_id']}[{ti['map_index']}] on {ti['hostname'].split('.')[0]}: "
                      f"{(ti['end_date'] - ti['start_date']).total_seconds():.0f}s, try {ti['try_number']}")
        print(f"backfill wall time {wall:.0f}s; peak resident memory per worker (pool + task processes): "
              + ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(peaks.items())))
        print(f"load average {os.getloadavg()}")
        print(cluster.excerpt())
    finally:
        stop.set()
        cluster.stop()
        sim.stop()
        drop_database(admin, meta_db)
        drop_database(admin, wh_db)
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
