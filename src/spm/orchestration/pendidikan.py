"""`spm_ingest_pendidikan`: the DAG params, its builder and the plain functions its tasks call.

One mapped task group per kab/kota × semester partition: extract (schools, then every school's
learner list through a bounded thread pool inside the task: one task sees the whole partition, so it
is published whole or not at all, and thousands of schools do not become thousands of task
instances) → validate (both GX suites) → publish dim_sekolah → publish fact_peserta_didik.
Only `airflow.sdk` and light project modules are imported at module level (DAG parse time).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from spm.errors import InputError
from spm.orchestration import tasks
from spm.orchestration.assets import DIM_SEKOLAH, FACT_PESERTA_DIDIK, emit
from spm.orchestration import params
from spm.orchestration.factory import SpmDagParams, create_dag
from spm.sources.http import SourceAuthError, SourceError, SourceUnavailable
from spm.warehouse.status import BatchStatus


INGEST_PENDIDIKAN = SpmDagParams(
    dag_id="spm_ingest_pendidikan",
    tags=("ingest", "dapodik", "pendidikan"),
    schedule="0 2 * * *",  # nightly; an unchanged semester publishes nothing
    retries=2,
    max_active_tasks=8,
    doc_md="""
### Ingest pendidikan (Dapodik) — learners for the education SPM

For every configured kab/kota (Variable `spm_kode_wilayah`, or the `kode_wilayah` param) loads the
schools (`getSekolah`) and the learner list of every school (`getPesertaDidik`) of Dapodik semester
`semester_id = tahun × 10 + semester` from the `spm_dapodik` web service (DESIGN §3.1) into
`dim_sekolah` and `fact_peserta_didik`. Default semester: the latest one started on or before the
run date (ganjil from 1 July, genap from 1 January).

Learners are pseudonymised as they arrive: `person_key` = HMAC of the NIK (else of the NISN or the
Dapodik id, flagged `nik_valid = false`); NIK, NISN and names never reach the warehouse. A person
listed by two schools (transfer) is kept once: `aktif` before `mutasi`, `lulus`, `keluar`, then the
latest `last_update`, then the lowest `npsn` (`etl_batch.rows_duplicate` counts the merged rows).

Each partition (kab/kota × semester) is published whole or not at all: if the learner list of one
school cannot be fetched, the run fails naming its NPSN and nothing is published. Validation uses
`expectations/dapodik_sekolah.json` and `dapodik_peserta_didik.json`; bad rows go to `quarantine`
without personal data. An unchanged source publishes nothing (publish tasks skipped, no Asset event).
Schools fetched at once: extra `paralel` of the `spm_dapodik` connection (default 8).

Owner of the data: Dinas Pendidikan (Dapodik operators). Run by: the Pemda data team.
""",
    params={
        "kode_wilayah": params.kode_wilayah("kab/kota codes (a province code: all its kab/kota), e.g. [\"32.71\"]; empty = Variable spm_kode_wilayah"),
        "tahun": params.tahun("first calendar year of the school year (2025 for 2025/2026)"),
        "semester": params.pilihan([1, 2], "1 = ganjil (from July), 2 = genap (from January of the next year)"),
    },
)


# --- plain functions behind the tasks ------------------------------------------------------------

@tasks.fail_fast
def resolve_partitions(params: dict[str, Any], run_after) -> list[dict]:
    from spm.ingest.pendidikan import default_semester, partitions

    tahun, semester = params.get("tahun"), params.get("semester")
    if not tahun or not semester:
        default = default_semester(run_after.date())
        tahun, semester = tahun or default[0], semester or default[1]
    return partitions(tasks.kode_wilayah_list(params), int(tahun), int(semester))


@tasks.fail_fast
def extract(partition: dict, run_id: str | None) -> dict:
    from spm.ingest.pendidikan import connect_client, extract as extract_partition

    try:
        with connect_client() as client:
            return extract_partition(tasks.warehouse_engine(), partition, run_id, client)
    except SourceError as exc:
        if isinstance(exc, (SourceUnavailable, SourceAuthError)):
            raise  # unavailable: a later try may succeed; refused token: fail_fast stops at once
        raise InputError(str(exc)) from exc  # the source broke its contract: retrying will not help


@tasks.fail_fast
def validate(extracted: dict) -> dict:
    from spm.ingest.pendidikan import failed_message, validate_partition

    result = validate_partition(tasks.warehouse_engine(), extracted)
    problem = failed_message(result)
    if problem:
        raise InputError(problem)
    return result


def _skip_unless_published(result: dict) -> dict:
    if result["status"] != BatchStatus.PUBLISHED:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{result['entity']} {result['kode_kab_kota']} {result['periode']}: "
                                   f"{result['status']}: {result['message']}")
    return result


def publish_sekolah(validated: dict) -> dict:
    """Publish dim_sekolah, or skip (no Asset event) when the schools did not change."""
    from spm.ingest.pendidikan import publish_sekolah as publish

    return _skip_unless_published(publish(tasks.warehouse_engine(), validated))


def publish_peserta_didik(validated: dict) -> dict:
    """Publish fact_peserta_didik, or skip (no Asset event) when the learners did not change."""
    from spm.ingest.pendidikan import publish_peserta_didik as publish

    return _skip_unless_published(publish(tasks.warehouse_engine(), validated))


def asset_extra(result: dict) -> dict:
    return {**tasks.asset_extra(result), "semester_id": result["semester_id"],
            "rows_duplicate": result.get("rows_duplicate", 0)}


# --- the DAG -------------------------------------------------------------------------------------

def create_ingest_pendidikan_dag() -> DAG:
    from airflow.sdk import task_group

    with create_dag(INGEST_PENDIDIKAN) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task
        def partitions(params=None, dag_run=None) -> list[dict]:
            return resolve_partitions(dict(params), dag_run.run_after)

        @task
        def extract_partition(partition: dict, run_id=None):
            return extract(partition, run_id)

        @task
        def validate_partition(extracted: dict):
            return validate(extracted)

        @task(outlets=[DIM_SEKOLAH])
        def publish_dim_sekolah(validated: dict, outlet_events=None):
            result = publish_sekolah(validated)
            emit(outlet_events, {DIM_SEKOLAH: asset_extra(result)})
            return result

        # none_failed: learners still publish when the school list was unchanged (skipped above).
        @task(outlets=[FACT_PESERTA_DIDIK], trigger_rule="none_failed")
        def publish_fact_peserta_didik(validated: dict, outlet_events=None):
            result = publish_peserta_didik(validated)
            emit(outlet_events, {FACT_PESERTA_DIDIK: asset_extra(result)})
            return result

        @task_group
        def ingest_partition(partition: dict):
            validated = validate_partition(extract_partition(partition))
            publish_dim_sekolah(validated) >> publish_fact_peserta_didik(validated)

        resolved = partitions()
        check_warehouse_schema() >> resolved
        ingest_partition.expand(partition=resolved)
    return dag
