"""DAG spm_terbitkan_laporan: the e-SPM workbook, the HTML/PDF report and the CSV per kab/kota and quarter."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from spm.orchestration import tasks
from spm.orchestration.assets import table_asset
from spm.orchestration.capaian import quarter_params
from spm.orchestration.factory import SpmDagParams, create_dag

MART_INDEKS_SPM = table_asset("mart_indeks_spm")

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
            return tasks.laporan_plan(dict(params), dag_run.run_after, [dict(e.extra or {}) for e in events])

        @task
        def publish_report(quarter: dict):
            return tasks.laporan_publish(quarter)

        quarters = resolve_quarters()
        check_warehouse_schema() >> quarters
        publish_report.expand(quarter=quarters)
    return dag
