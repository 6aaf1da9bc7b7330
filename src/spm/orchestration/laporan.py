"""DAG spm_terbitkan_laporan: the e-SPM workbook, the HTML/PDF report and the CSV per kab/kota and quarter."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, task

from spm.orchestration import tasks
from spm.orchestration.assets import MART_INDEKS_SPM
from spm.orchestration.capaian import capaian_targets, quarter_params
from spm.orchestration.factory import SpmDagParams, create_dag
from spm.reference import is_provinsi

log = logging.getLogger(__name__)

TERBITKAN_LAPORAN = SpmDagParams(
    dag_id="spm_terbitkan_laporan",
    tags=("laporan",),
    # The index is rebuilt right after the capaian of the same quarter: both marts are then current.
    schedule=MART_INDEKS_SPM,
    retries=2,
    doc_md="""
### Terbitkan laporan SPM

For each kab/kota and quarter, from the published tables only (`mart_capaian_spm`,
`mart_terlayani_bulanan`, `mart_indeks_spm`, the OPD inputs, `etl_batch`), writes under
`$SPM_HOME/reports/laporan/<kode>/<tahun>/triwulan-<q>/`:

- the e-SPM workbook (`.xlsx`): one sheet per bidang (A penerima, B mutu, C anggaran), the index sheet
  and the lineage sheet;
- the report in HTML and PDF (index, capaian, target, spread between kecamatan, drill-down per
  kecamatan and desa, data-quality status of every feed);
- the CSV extract of `mart_capaian_spm`, and `manifest.json` (checksums, batches used).

A province with provinsi rows (two or more of its kab/kota computed) gets the same files under its
code (`reports/laporan/32/…`): its own jenis layanan, the kab/kota SPM over the kab/kota loaded
(saying plainly when that is part of the province), and its kab/kota side by side (index, label,
capaian per jenis layanan, the spread between them).

Files are replaced atomically; rerunning a quarter reproduces the same content. Runs when
`mart_indeks_spm` is published (the quarters named by the event, and any quarter whose index is newer
than its report, should an event have reached no run), or by hand with params
`kode_wilayah`, `tahun`, `triwulan` for any past quarter.
""",
    params=quarter_params(),
)


def create_terbitkan_laporan_dag() -> DAG:
    with create_dag(TERBITKAN_LAPORAN) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task
        def resolve_quarters(params=None, dag_run=None, triggering_asset_events=None) -> list[dict[str, Any]]:
            events = triggering_asset_events.get(MART_INDEKS_SPM, []) if triggering_asset_events else []
            return laporan_plan(dict(params), dag_run.run_after, [dict(e.extra or {}) for e in events])

        @task
        def publish_report(quarter: dict):
            return laporan_publish(quarter)

        quarters = resolve_quarters()
        check_warehouse_schema() >> quarters
        publish_report.expand(quarter=quarters)
    return dag


# --- the plain functions its tasks call ----------------------------------------

@tasks.fail_fast
def laporan_quarters(params: dict[str, Any], run_after, extras: list[dict]) -> list[dict]:
    """The (kab/kota, year, quarter) to publish: the params; else the quarters whose index was just
    rebuilt (the triggering Asset events); else every quarter of the run's year so far."""
    if not (params.get("tahun") or params.get("kode_wilayah") or params.get("triwulan")) and extras:
        quarters = set()
        for extra in extras:
            periodes = extra.get("periode")
            for periode in periodes if isinstance(periodes, list) else [periodes]:
                if extra.get("kode_kab_kota") and "-T" in str(periode or ""):
                    tahun, triwulan = (int(x) for x in str(periode).split("-T"))
                    quarters.add((extra["kode_kab_kota"], tahun, triwulan))
        if quarters:
            return [{"kode_kab_kota": k, "tahun": t, "triwulan": q} for k, t, q in sorted(quarters)]
    quarters = [{"kode_kab_kota": t["kode_kab_kota"], "tahun": y, "triwulan": q}
                for t in capaian_targets(params, run_after) for y, q in t["kuartal"]]
    # A province named by hand gets its own report beside its kab/kota's.
    codes = params.get("kode_wilayah") or []
    for prov in [c for c in ([codes] if isinstance(codes, str) else codes) if is_provinsi(c)]:
        kuartal = sorted({(q["tahun"], q["triwulan"]) for q in quarters if q["kode_kab_kota"].startswith(prov + ".")})
        quarters += [{"kode_kab_kota": prov, "tahun": y, "triwulan": q} for y, q in kuartal]
    return quarters


@tasks.fail_fast
def laporan_plan(params: dict[str, Any], run_after, extras: list[dict]) -> list[dict]:
    """laporan_quarters, and on Asset events also every quarter whose index was published after its
    report was written (or that has none). Airflow queues one wake-up per (Asset, DAG): when two
    kab/kota publish their index moments apart, the second event can land after a report run is
    triggered yet before its queue row is cleared, so no run is given it. Its index is committed
    before its event, hence before this run reads the warehouse: this run catches such a quarter up."""
    quarters = laporan_quarters(params, run_after, extras)
    if params.get("tahun") or params.get("kode_wilayah") or params.get("triwulan") or not extras:
        return quarters
    from spm.reporting.publish import stale_quarters

    named = {(q["kode_kab_kota"], q["tahun"], q["triwulan"]) for q in quarters}
    late = [q for q in stale_quarters(tasks.warehouse_engine()) if (q["kode_kab_kota"], q["tahun"], q["triwulan"]) not in named]
    for q in late:
        log.info("laporan %s %s triwulan %s: its index is newer than its report (an event no run received)",
                 q["kode_kab_kota"], q["tahun"], q["triwulan"])
    return sorted(quarters + late, key=lambda q: (q["kode_kab_kota"], q["tahun"], q["triwulan"]))


@tasks.fail_fast
def laporan_publish(quarter: dict) -> dict:
    from spm.reporting.publish import publish_laporan

    engine = tasks.warehouse_engine()
    if not capaian_exists(engine, quarter["kode_kab_kota"], int(quarter["tahun"]), int(quarter["triwulan"])):
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{quarter['kode_kab_kota']} {quarter['tahun']} triwulan {quarter['triwulan']}: "
                                   "no capaian computed for this quarter (see spm_hitung_capaian): no report")
    result = publish_laporan(engine, quarter["kode_kab_kota"], int(quarter["tahun"]), int(quarter["triwulan"]))
    log.info("laporan %s %s triwulan %s: %s", result["kode_kab_kota"], result["tahun"], result["triwulan"],
             result["folder"])
    return result


def capaian_exists(engine, kode: str, tahun: int, triwulan: int) -> bool:
    import sqlalchemy as sa

    from spm.warehouse.tables_marts import mart_capaian_spm as m

    with engine.connect() as conn:
        return conn.execute(sa.select(m.c.kode_wilayah).where(
            m.c.kode_kab_kota == kode, m.c.kode_wilayah == kode, m.c.tahun == tahun,
            m.c.triwulan == triwulan).limit(1)).first() is not None
