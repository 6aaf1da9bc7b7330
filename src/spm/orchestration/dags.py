"""DAG definitions; each `dags/*.py` file calls one of these builders."""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from spm.orchestration import tasks
from spm.orchestration.assets import DIM_WILAYAH
from spm.orchestration import params
from spm.orchestration.factory import SpmDagParams, create_dag

MUAT_WILAYAH = SpmDagParams(
    dag_id="spm_muat_wilayah",
    tags=("referensi", "wilayah"),
    schedule=None,  # run when Kemendagri publishes a new code list
    retries=1,
    doc_md="""
### Muat kode wilayah (region dimension)

Merges a Kemendagri region code list into `dim_wilayah`, keeping history: codes that vanish or
change are closed on `berlaku_mulai`, new versions are opened, unchanged codes are left alone, so a
rerun with the same list changes nothing. With no params it loads the list shipped with the project
(Kepmendagri 300.2.2-2138 Tahun 2025). Also refreshes `dim_layanan` from the versioned catalog.

Params: `file` (the name of a CSV `kode,nama,tingkat,kode_induk` put in `$SPM_HOME/inbox/wilayah`
on the workers; no other folder is read), `berlaku_mulai` (YYYY-MM-DD, needed with `file`),
`sumber` (e.g. the decree number).
""",
    params={
        "file": Param(None, type=["null", "string"], pattern=tasks.CODE_LIST_NAME,
                      description="name of a code list CSV in $SPM_HOME/inbox/wilayah; empty = shipped list"),
        "berlaku_mulai": Param(None, type=["null", "string"], format="date",
                               description="date the list takes effect (needed with file)"),
        "sumber": Param(None, type=["null", "string"], maxLength=255, description="source of the list, e.g. decree"),
    },
)


def create_muat_wilayah_dag() -> DAG:
    with create_dag(MUAT_WILAYAH) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task(outlets=[DIM_WILAYAH])
        def load_dim_wilayah(params=None, outlet_events=None):
            outlet_events[DIM_WILAYAH].extra = result = tasks.load_dim_wilayah(dict(params))
            return result

        @task
        def sync_dim_layanan() -> int:
            return tasks.sync_dim_layanan()

        check_warehouse_schema() >> [load_dim_wilayah(), sync_dim_layanan()]
    return dag


INGEST_KEPENDUDUKAN = SpmDagParams(
    dag_id="spm_ingest_kependudukan",
    tags=("ingest", "dukcapil", "kependudukan"),
    schedule="0 1 * * *",  # nightly; an unchanged semester publishes nothing
    retries=3,
    max_active_tasks=8,
    doc_md="""
### Ingest kependudukan (Dukcapil) — the SPM denominators

For every configured kab/kota (Variable `spm_kode_wilayah`, or the `kode_wilayah` param) loads the
Dukcapil consolidated aggregates of DESIGN §3.2 from the `spm_dukcapil` API: population by desa ×
sex × single year of age for semester `tahun-semester` into `fact_penduduk`, and registered births
by month of `tahun` into `fact_kelahiran`. Default period: the latest semester ended before the run.
Also loads every new CSV/XLSX file dropped in `$SPM_HOME/inbox/dukcapil` (once per content hash;
moved to `processed/`, or to `rejected/` with a `.errors.txt`).

Each partition (kab/kota × period) is staged, validated with the GX suites
`expectations/dukcapil_penduduk.json` / `dukcapil_kelahiran.json` (critical failures stop the
batch; warning failures quarantine rows), then published in one transaction. A source semester not
available yet is recorded as `missing` and the previous data stay. An unchanged source publishes
nothing (the publish task is skipped, no Asset event).

Owner of the data: Disdukcapil. Run by: the Pemda data team.
""",
    params={
        "kode_wilayah": params.kode_wilayah("kab/kota codes, e.g. [\"32.71\"]; empty = Variable spm_kode_wilayah"),
        "tahun": params.tahun("year of the semester (and of the births)"),
        "semester": params.pilihan([1, 2], "1 = state at 30 June, 2 = state at 31 December"),
    },
)


def create_ingest_kependudukan_dag() -> DAG:
    from airflow.sdk import task_group

    from spm.orchestration.assets import FACT_KELAHIRAN, FACT_PENDUDUK

    with create_dag(INGEST_KEPENDUDUKAN) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task
        def resolve_partitions(entity: str, params=None, dag_run=None) -> list[dict]:
            return tasks.kependudukan_partitions(dict(params), entity, dag_run.run_after)

        @task
        def extract(partition: dict, run_id=None):
            return tasks.kependudukan_extract(partition, run_id)

        @task
        def validate(staged: dict):
            return tasks.kependudukan_validate(staged)

        @task(outlets=[FACT_PENDUDUK])
        def publish_penduduk(validated: dict, outlet_events=None):
            result = tasks.kependudukan_publish(validated)
            outlet_events[FACT_PENDUDUK].extra = tasks.asset_extra(result)
            return result

        @task(outlets=[FACT_KELAHIRAN])
        def publish_kelahiran(validated: dict, outlet_events=None):
            result = tasks.kependudukan_publish(validated)
            outlet_events[FACT_KELAHIRAN].extra = tasks.asset_extra(result)
            return result

        @task_group
        def ingest_penduduk(partition: dict):
            publish_penduduk(validate(extract(partition)))

        @task_group
        def ingest_kelahiran(partition: dict):
            publish_kelahiran(validate(extract(partition)))

        @task
        def ingest_inbox(run_id=None) -> list[dict]:
            return tasks.kependudukan_inbox(run_id)

        @task(outlets=[FACT_PENDUDUK, FACT_KELAHIRAN])
        def announce_inbox(results: list[dict], outlet_events=None):
            return tasks.announce_inbox(results, outlet_events, {"penduduk": FACT_PENDUDUK,
                                                                 "kelahiran": FACT_KELAHIRAN})

        @task
        def check_rejected_files(results: list[dict]) -> None:
            tasks.check_rejected_files(results)

        schema = check_warehouse_schema()
        penduduk = resolve_partitions.override(task_id="resolve_penduduk_partitions")("penduduk")
        kelahiran = resolve_partitions.override(task_id="resolve_kelahiran_partitions")("kelahiran")
        schema >> [penduduk, kelahiran]
        ingest_penduduk.expand(partition=penduduk)
        ingest_kelahiran.expand(partition=kelahiran)
        inbox = ingest_inbox()
        schema >> inbox
        announce_inbox(inbox)
        check_rejected_files(inbox)
    return dag
