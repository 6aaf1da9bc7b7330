"""DAG spm_hitung_capaian: rebuild mart_capaian_spm when a source it reads has published."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task, task_group

from spm.orchestration import tasks
from spm.orchestration.assets import FACT_KELAHIRAN, FACT_PENDUDUK, table_asset
from spm.orchestration import params
from spm.orchestration.factory import SpmDagParams, create_dag

FACT_PESERTA_DIDIK = table_asset("fact_peserta_didik")
FACT_INPUT_MUTU = table_asset("fact_input_mutu")
FACT_OBSERVASI = table_asset("fact_observasi")
FACT_KUNJUNGAN = table_asset("fact_kunjungan")
MART_CAPAIAN_SPM = table_asset("mart_capaian_spm")
MART_INDEKS_SPM = table_asset("mart_indeks_spm")

def quarter_params() -> dict[str, Param]:
    """Run conf of the quarterly DAGs (DESIGN §10): kab/kota, year and quarter, any past one included."""
    return {
        "kode_wilayah": params.kode_wilayah("kab/kota codes; empty = Variable spm_kode_wilayah"),
        "tahun": params.tahun("report year"),
        "triwulan": params.pilihan([1, 2, 3, 4], "quarter (year-to-date); empty = every quarter up to the run's"),
    }


HITUNG_CAPAIAN = SpmDagParams(
    dag_id="spm_hitung_capaian",
    tags=("indikator", "capaian"),
    # Any newly published source changes some figure: recompute then (an Asset-triggered run).
    # (A health window publishes all four FHIR tables together; two of them stand for the set.)
    schedule=(FACT_PENDUDUK | FACT_KELAHIRAN | FACT_PESERTA_DIDIK | FACT_KUNJUNGAN | FACT_OBSERVASI
              | FACT_INPUT_MUTU),
    retries=2,
    doc_md="""
### Hitung capaian SPM

Rebuilds `mart_capaian_spm` (sasaran, terlayani, capaian raw and capped, per desa, kecamatan and
kab/kota, for L, P and semua) for every configured kab/kota and quarter (year-to-date), inside the
warehouse, from the rules of the versioned catalog `config/katalog_layanan.yaml` and the factors of
`config/faktor_sasaran.yaml` (DESIGN §5); then `mart_indeks_spm` (nilai = 0.8 × capaian dibatasi +
0.2 × mutu from the OPD inputs, bidang and daerah means, labels; `config/indeks_spm.yaml`).

Runs when `fact_penduduk`, `fact_kelahiran`, `fact_peserta_didik`, the FHIR facts or `fact_input_mutu` is
published, for the kab/kota and quarters the published partitions feed (named in the events), or by
hand with params `kode_wilayah`, `tahun`, `triwulan` (default: every quarter of the run's year up to
the run's quarter). One mapped task group per kab/kota computes its quarters in turn, then its index, so runs never write
the same rows at once. Gates: no population for the reference semester or an earlier one means no
capaian for that quarter (the batch says `missing`, the task is skipped when no quarter has one); a jenis layanan whose source has no data for the period is left out;
a capaian moving more than the bound in `config/kualitas.yaml` is flagged in `dq_result`.
""",
    params=quarter_params(),
)


def asset_event_extras(triggering_asset_events) -> list[tuple[str, dict]]:
    """(asset name, extra) of every event that triggered the run; empty for a run by hand."""
    if not triggering_asset_events:
        return []
    return [(getattr(asset, "name", str(asset)), dict(event.extra or {}))
            for asset, events in triggering_asset_events.items() for event in events]


def create_hitung_capaian_dag() -> DAG:
    with create_dag(HITUNG_CAPAIAN) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task
        def resolve_targets(params=None, dag_run=None, triggering_asset_events=None) -> list[dict[str, Any]]:
            return tasks.capaian_plan(dict(params), dag_run.run_after, asset_event_extras(triggering_asset_events))

        @task(outlets=[MART_CAPAIAN_SPM])
        def compute_capaian(target: dict, run_id=None, outlet_events=None):
            result = tasks.capaian_compute(target, run_id)
            outlet_events[MART_CAPAIAN_SPM].extra = tasks.asset_extra(result)
            return result

        @task(outlets=[MART_INDEKS_SPM])
        def compute_indeks(capaian: dict, run_id=None, outlet_events=None):
            result = tasks.indeks_compute(capaian, run_id)
            outlet_events[MART_INDEKS_SPM].extra = tasks.asset_extra(result)
            return result

        @task_group
        def kab_kota(target: dict):
            # One mapped group per kab/kota: a kab/kota skipped for lack of population skips only
            # its own index, never the others' (a task mapped over all capaian would skip with it).
            compute_indeks(compute_capaian(target))

        targets = resolve_targets()
        check_warehouse_schema() >> targets
        kab_kota.expand(target=targets)
    return dag
