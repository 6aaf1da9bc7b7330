"""The main job (`spm demo`): real Airflow DAGs end to end on the embedded default.

It starts the simulated sources on localhost, points the DESIGN §10 connections at them, and runs
each DAG with `airflow dags test` (the metadata DB is SQLite under SPM_HOME, the warehouse the
default SQLite file unless AIRFLOW_CONN_SPM_WAREHOUSE says otherwise).
"""

from __future__ import annotations

import json
import time
from datetime import date

import sqlalchemy as sa

from spm.airflow_env import airflow_env, dags_test, run_airflow
from spm.settings import spm_home

# The demo reports on quarter 3 of 2026, the latest complete quarter before the run date:
# population semester 2 of 2025 and the births of 2025 give the sasaran of 2026; education
# figures of quarters 3-4 come from Dapodik semester 20261.
DEMO_TAHUN_SEMESTER = (2025, 2)
DEMO_LAPORAN = (2026, 3)
DEMO_DAPODIK_SEMESTER = (2026, 1)
# The hub's history up to the run: a first load backfills every record updated since 2024.
DEMO_FHIR_WINDOW = ("2024-01-01T00:00:00Z", "2026-11-22T00:00:00Z")
DEMO_INBOX_SEMESTER = (2025, 1)  # delivered as a file, to show the inbox path
DEMO_RUN_DATE = date(2026, 11, 22)


def _step(title: str):
    print(f"==> {title}", flush=True)
    return time.monotonic()


def _done(started: float, detail: str = "") -> None:
    print(f"    done in {time.monotonic() - started:.1f}s{': ' + detail if detail else ''}", flush=True)


def _declare_scale(scale: float) -> None:
    """The simulated population is `scale` of the real one: say so in the site configuration, so the
    check against the official total (kualitas.yaml kependudukan.skala_total_resmi) compares like with
    like. A site kualitas.yaml the user wrote is left as it is."""
    import yaml

    from spm.config import site_config_dir

    path = site_config_dir() / "kualitas.yaml"
    marker = "# Written by `spm demo`"
    if path.exists() and not path.read_text(encoding="utf-8").startswith(marker):
        print(f"==> site configuration {path} kept as it is (kependudukan.skala_total_resmi should be {scale})")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{marker}: the simulated population is this share of the real one.\n"
                    + yaml.safe_dump({"kependudukan": {"skala_total_resmi": scale}}), encoding="utf-8")


def run_demo(kode_wilayah: str, scale: float, seed: int) -> int:
    from spm.simulator.config import SimulatorConfig
    from spm.simulator.inbox import write_dukcapil_files, write_opd_files
    from spm.simulator.servers import SimulatorServers
    from spm.warehouse.db import describe, get_engine, upgrade
    from spm.warehouse.layanan import sync_dim_layanan
    from spm.warehouse.wilayah import current_count

    home = spm_home()
    log_dir = home / "logs" / "demo"
    env = airflow_env(home, [kode_wilayah])
    run_date = DEMO_RUN_DATE.isoformat()
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
    _done(t, ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) if (counts := current_count(engine)) else "")

    _declare_scale(scale)
    config = SimulatorConfig(kode_wilayah=(kode_wilayah,), scale=scale, seed=seed)
    with SimulatorServers(config) as sim:
        print(f"==> simulated sources on localhost: Dapodik {sim.dapodik_url}, Dukcapil {sim.dukcapil_url}, "
              f"FHIR {sim.satusehat_url}", flush=True)
        for conn_id, conn in sim.airflow_connections().items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        inbox = home / "inbox" / "dukcapil"
        written = write_dukcapil_files(sim.world, inbox, semesters=[DEMO_INBOX_SEMESTER], birth_years=[],
                                       formats=("xlsx",))
        files = ", ".join(path.name for path in written)
        print(f"    Disdukcapil dropped {files} in {inbox}")

        tahun, semester = DEMO_TAHUN_SEMESTER
        t = _step(f"DAG spm_ingest_kependudukan: population {tahun}-{semester} and births {tahun} from the API, "
                  "plus the inbox")
        dags_test("spm_ingest_kependudukan", run_date,
                  {"kode_wilayah": [kode_wilayah], "tahun": tahun, "semester": semester}, env, log_dir)
        _done(t, _population_summary(engine, kode_wilayah))

        d_tahun, d_semester = DEMO_DAPODIK_SEMESTER
        t = _step(f"DAG spm_ingest_pendidikan: schools and learners of Dapodik semester {d_tahun}{d_semester}")
        dags_test("spm_ingest_pendidikan", run_date,
                  {"kode_wilayah": [kode_wilayah], "tahun": d_tahun, "semester": d_semester}, env, log_dir)
        _done(t)

        dari, sampai = DEMO_FHIR_WINDOW
        t = _step(f"DAG spm_ingest_kesehatan: FHIR Patient, Encounter, Observation, Condition updated {dari} .. {sampai}")
        dags_test("spm_ingest_kesehatan", run_date,
                  {"kode_wilayah": [kode_wilayah], "dari": dari, "sampai": sampai}, env, log_dir)
        _done(t)

        tahun, triwulan = DEMO_LAPORAN
        opd_inbox = home / "inbox" / "opd"
        opd_files = write_opd_files(sim.world, opd_inbox, tahun, triwulan)
        t = _step(f"DAG spm_ingest_input_opd: OPD workbooks (mutu, anggaran) {', '.join(p.name for p in opd_files)}")
        dags_test("spm_ingest_input_opd", run_date, {"kode_wilayah": [kode_wilayah]}, env, log_dir)
        _done(t)

    tahun, triwulan = DEMO_LAPORAN
    t = _step(f"DAG spm_hitung_capaian: mart_capaian_spm and mart_indeks_spm {tahun} triwulan {triwulan}")
    dags_test("spm_hitung_capaian", run_date,
              {"kode_wilayah": [kode_wilayah], "tahun": tahun, "triwulan": triwulan}, env, log_dir)
    _done(t)
    _print_capaian(engine, kode_wilayah, tahun, triwulan)
    _print_indeks(engine, kode_wilayah, tahun, triwulan)

    print()
    t = _step(f"DAG spm_terbitkan_laporan: e-SPM workbook, HTML and PDF report {tahun} triwulan {triwulan}")
    dags_test("spm_terbitkan_laporan", run_date,
              {"kode_wilayah": [kode_wilayah], "tahun": tahun, "triwulan": triwulan}, env, log_dir)
    _done(t)

    _print_results(engine, home, log_dir)
    _print_laporan(kode_wilayah, tahun, triwulan)
    return 0


def _print_laporan(kode: str, tahun: int, triwulan: int) -> None:
    from spm.reporting.publish import publication_of

    t = publication_of(kode, tahun, triwulan)
    if not t.is_complete():
        raise RuntimeError(f"spm_terbitkan_laporan did not leave a complete report in {t.folder}")
    print()
    print(f"Laporan SPM {kode}, {tahun} triwulan {triwulan}")
    print(f"  workbook e-SPM: {t.path('xlsx')}")
    print(f"  laporan HTML:   {t.path('html')}")
    print(f"  laporan PDF:    {t.path('pdf')}")
    print(f"  data CSV:       {t.path('csv')}")
    print("  dashboard:      .venv/bin/spm dashboard   then open http://127.0.0.1:8050/")


def _print_capaian(engine: sa.Engine, kode: str, tahun: int, triwulan: int) -> None:
    from spm.warehouse.tables import dim_layanan, etl_batch
    from spm.warehouse.tables_marts import mart_capaian_spm as m

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(dim_layanan.c.nama, m.c.sasaran, m.c.terlayani, m.c.capaian, m.c.semester_penduduk)
            .join(dim_layanan, dim_layanan.c.kode_layanan == m.c.kode_layanan)
            .where(m.c.kode_kab_kota == kode, m.c.kode_wilayah == kode, m.c.jenis_kelamin == "semua", m.c.tahun == tahun,
                   m.c.triwulan == triwulan)
            .order_by(dim_layanan.c.urutan)).all()
        note = conn.execute(sa.select(etl_batch.c.message).where(
            etl_batch.c.entity == "mart_capaian_spm", etl_batch.c.kode_wilayah == kode)
            .order_by(etl_batch.c.batch_id.desc()).limit(1)).scalar_one_or_none()
    print()
    print(f"Capaian SPM {kode}, {tahun} triwulan {triwulan} (year-to-date, kab/kota, L+P)")
    print(f"  {'jenis pelayanan dasar':<40} {'sasaran':>10} {'terlayani':>10} {'capaian':>8}")
    for layanan, sasaran, terlayani, capaian, _sem in rows:
        shown = f"{capaian:7.1f}%" if capaian is not None else "      -"
        print(f"  {layanan[:40]:<40} {sasaran:>10,.0f} {terlayani:>10,} {shown}")
    if rows:
        print(f"  sasaran from population semester {rows[0].semester_penduduk}")
    if note:
        print(f"  {note}")


def _print_indeks(engine: sa.Engine, kode: str, tahun: int, triwulan: int) -> None:
    from spm.warehouse.tables_opd import mart_indeks_spm as i

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(i.c.tingkat_indeks, i.c.bidang, i.c.kode_layanan, i.c.capaian_penerima, i.c.mutu, i.c.nilai,
                      i.c.label).where(i.c.kode_wilayah == kode, i.c.tahun == tahun, i.c.triwulan == triwulan)
            .order_by(i.c.urutan)).all()
    print()
    print(f"Indeks SPM {kode}, {tahun} triwulan {triwulan} (nilai = 0,8 x capaian dibatasi + 0,2 x mutu)")
    print(f"  {'tingkat':<8} {'bidang':<11} {'jenis layanan':<20} {'capaian':>8} {'mutu':>7} {'nilai':>7}  label")

    def fmt(v):
        return f"{v:7.1f}" if v is not None else "      -"

    for tingkat, bidang, layanan, capaian, mutu, nilai, label in rows:
        print(f"  {tingkat:<8} {bidang:<11} {layanan or '':<20} {fmt(capaian):>8} {fmt(mutu)} {fmt(nilai)}  "
              f"{label or '(belum dapat dihitung)'}")


def _population_summary(engine: sa.Engine, kode: str) -> str:
    from spm.warehouse.tables import fact_kelahiran, fact_penduduk

    with engine.connect() as conn:
        pop = conn.execute(
            sa.select(fact_penduduk.c.tahun, fact_penduduk.c.semester, sa.func.sum(fact_penduduk.c.jumlah))
            .where(fact_penduduk.c.kode_kab_kota == kode)
            .group_by(fact_penduduk.c.tahun, fact_penduduk.c.semester).order_by(fact_penduduk.c.tahun,
                                                                              fact_penduduk.c.semester)).all()
        births = conn.execute(
            sa.select(fact_kelahiran.c.tahun, sa.func.sum(fact_kelahiran.c.jumlah))
            .where(fact_kelahiran.c.kode_kab_kota == kode).group_by(fact_kelahiran.c.tahun)).all()
    parts = [f"penduduk {t}-{s}: {n:,}" for t, s, n in pop] + [f"kelahiran {t}: {n:,}" for t, n in births]
    return "; ".join(parts)


def _print_results(engine: sa.Engine, home, log_dir) -> None:
    from spm.warehouse.audit import recent_batches
    from spm.warehouse.db import describe

    print()
    print("Results")
    print(f"  warehouse:      {describe(engine)}")
    print(f"  Airflow home:   {home / 'airflow'} (metadata DB airflow.db)")
    print(f"  DAG run logs:   {log_dir}")
    print(f"  inbox:          {home / 'inbox'} (processed/ and rejected/ beside each source's files)")
    print("  batches:")
    for b in recent_batches(engine, 10):
        print(f"    #{b.batch_id} {b.source}/{b.entity} {b.kode_wilayah} {b.periode}: {b.status}, "
              f"{b.rows_published} rows published, {b.rows_quarantined} quarantined")
    print("  more: `spm status`")
