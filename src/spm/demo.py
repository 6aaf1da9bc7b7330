"""The main job (`spm demo`): real Airflow DAGs end to end on the embedded default."""

from __future__ import annotations

import time
from datetime import date, timedelta

from spm.airflow_env import airflow_env, dags_test, run_airflow
from spm.settings import spm_home


def _step(title: str):
    print(f"==> {title}", flush=True)
    return time.monotonic()


def _done(started: float, detail: str = "") -> None:
    print(f"    done in {time.monotonic() - started:.1f}s{': ' + detail if detail else ''}", flush=True)


def run_demo(kode_wilayah: str, scale: float, seed: int) -> int:
    from spm.warehouse.audit import recent_batches
    from spm.warehouse.db import describe, get_engine, upgrade
    from spm.warehouse.layanan import sync_dim_layanan
    from spm.warehouse.wilayah import current_count

    home = spm_home()
    log_dir = home / "logs" / "demo"
    env = airflow_env(home, [kode_wilayah])
    run_date = (date.today() - timedelta(days=1)).isoformat()
    print(f"SPM demo: kab/kota {kode_wilayah}, scale {scale}, seed {seed}; state folder {home}")

    t = _step("Airflow metadata DB (SQLite under SPM_HOME)")
    run_airflow(["db", "migrate"], env, log_dir / "airflow_db_migrate.log")
    _done(t)

    engine = get_engine()
    t = _step(f"warehouse schema ({describe(engine)})")
    revision = upgrade(engine)
    sync_dim_layanan(engine)
    _done(t, f"revision {revision}")

    t = _step("DAG spm_muat_wilayah: Kemendagri region codes into dim_wilayah")
    dags_test("spm_muat_wilayah", run_date, None, env, log_dir)
    counts = current_count(engine)
    _done(t, ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))

    print()
    print("Results")
    print(f"  warehouse:      {describe(engine)}")
    print(f"  Airflow home:   {home / 'airflow'} (metadata DB airflow.db)")
    print(f"  DAG run logs:   {log_dir}")
    batches = recent_batches(engine, 10)
    print(f"  batches loaded: {len(batches)} (see `spm status`)")
    return 0
