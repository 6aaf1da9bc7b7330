"""`spm_ingest_kependudukan`: the DAG params, its builder and the plain functions its tasks call."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from spm.errors import InputError
from spm.orchestration import params, tasks
from spm.orchestration.assets import FACT_KELAHIRAN, FACT_PENDUDUK, KEPENDUDUKAN, emit
from spm.orchestration.factory import SpmDagParams, create_dag
from spm.warehouse.status import BatchStatus, REFUSED, SETTLED

log = logging.getLogger(__name__)


@tasks.fail_fast
def kependudukan_partitions(params: dict[str, Any], entity: str, run_after) -> list[dict]:
    from spm.ingest.kependudukan import default_semester, partitions

    tahun, semester = params.get("tahun"), params.get("semester")
    if not tahun or not semester:
        default = default_semester(run_after.date())
        tahun, semester = tahun or default[0], semester or default[1]
    return [p for p in partitions(tasks.kode_wilayah_list(params), int(tahun), int(semester)) if p["entity"] == entity]


@tasks.fail_fast
def kependudukan_extract(partition: dict, run_id: str) -> dict:
    from spm.ingest.kependudukan import extract_api
    from spm.sources.connections import get_connection
    from spm.sources.dukcapil import CONN_ID, DukcapilClient

    with DukcapilClient(get_connection(CONN_ID)) as client:
        return extract_api(tasks.warehouse_engine(), partition, run_id, client)


@tasks.fail_fast
def kependudukan_validate(staged: dict) -> dict:
    from spm.ingest.kependudukan import validate_partition

    result = validate_partition(tasks.warehouse_engine(), staged)
    if result["status"] in REFUSED:
        raise InputError(f"{result['entity']} {result['kode_kab_kota']} {result['periode']}: {result['message']} "
                         f"(batch {result['batch_id']}, see `spm status`)")
    return result


def kependudukan_publish(validated: dict) -> dict:
    """Publish, or skip (no Asset event) when the source had nothing new."""
    from spm.ingest.kependudukan import publish_partition

    result = publish_partition(tasks.warehouse_engine(), validated)
    if result["status"] != BatchStatus.PUBLISHED:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{result['entity']} {result['kode_kab_kota']} {result['periode']}: "
                                   f"{result['status']}: {result['message']}")
    return result


def dukcapil_inbox() -> Path:
    from spm.settings import spm_home

    return spm_home() / "inbox" / "dukcapil"


@tasks.fail_fast
def kependudukan_inbox(run_id: str) -> list[dict]:
    from spm.ingest.kependudukan import ingest_inbox

    inbox = dukcapil_inbox()
    inbox.mkdir(parents=True, exist_ok=True)
    results = ingest_inbox(tasks.warehouse_engine(), inbox, run_id)
    for r in results:
        log.info("inbox %s: %s %s", r["file"], r["status"], r["message"])
    return results


def inbox_events(results: list[dict], outlet_events, assets: dict) -> dict:
    """An Asset event per entity that an inbox file published, naming its partitions; with nothing
    published (an empty inbox, files seen before) the task is skipped and no event wakes anyone."""
    extras: dict[str, list[dict]] = {}
    for r in results:
        if r["status"] == BatchStatus.PUBLISHED and r.get("entity") in assets:
            extras.setdefault(r["entity"], []).append(tasks.asset_extra(r) | {"file": r["file"]})
    from spm.orchestration.assets import emit

    emit(outlet_events, {assets[entity]: {"partitions": p} for entity, p in extras.items()},
         nothing="no inbox file published in this run: no Asset event")
    return {entity: len(p) for entity, p in extras.items()}


def raise_on_rejected_files(results: list[dict]) -> None:
    rejected = [r for r in results if r["status"] not in (*SETTLED, BatchStatus.DUPLICATE)]
    if rejected:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"{len(rejected)} inbox file(s) rejected, see {dukcapil_inbox() / 'rejected'}: "
            + "; ".join(f"{r['file']}: {r['message']}" for r in rejected))


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
        "kode_wilayah": params.kode_wilayah("kab/kota codes (a province code: all its kab/kota), e.g. [\"32.71\"]; empty = Variable spm_kode_wilayah"),
        "tahun": params.tahun("year of the semester (and of the births)"),
        "semester": params.pilihan([1, 2], "1 = state at 30 June, 2 = state at 31 December"),
    },
)


def create_ingest_kependudukan_dag() -> DAG:
    from airflow.sdk import task_group

    with create_dag(INGEST_KEPENDUDUKAN) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task
        def resolve_partitions(entity: str, params=None, dag_run=None) -> list[dict]:
            return kependudukan_partitions(dict(params), entity, dag_run.run_after)

        @task
        def extract(partition: dict, run_id=None):
            return kependudukan_extract(partition, run_id)

        @task
        def validate(staged: dict):
            return kependudukan_validate(staged)

        @task(outlets=[FACT_PENDUDUK])
        def publish_penduduk(validated: dict, outlet_events=None):
            result = kependudukan_publish(validated)
            emit(outlet_events, {FACT_PENDUDUK: tasks.asset_extra(result)})
            return result

        @task(outlets=[FACT_KELAHIRAN])
        def publish_kelahiran(validated: dict, outlet_events=None):
            result = kependudukan_publish(validated)
            emit(outlet_events, {FACT_KELAHIRAN: tasks.asset_extra(result)})
            return result

        @task_group
        def ingest_penduduk(partition: dict):
            publish_penduduk(validate(extract(partition)))

        @task_group
        def ingest_kelahiran(partition: dict):
            publish_kelahiran(validate(extract(partition)))

        @task
        def ingest_inbox(run_id=None) -> list[dict]:
            return kependudukan_inbox(run_id)

        @task(outlets=[FACT_PENDUDUK, FACT_KELAHIRAN])
        def announce_inbox(results: list[dict], outlet_events=None):
            return inbox_events(results, outlet_events, KEPENDUDUKAN)

        @task
        def check_rejected_files(results: list[dict]) -> None:
            raise_on_rejected_files(results)

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
