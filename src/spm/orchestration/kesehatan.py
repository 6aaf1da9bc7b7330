"""`spm_ingest_kesehatan`: the DAG params, its builder and the plain functions its tasks call.

One mapped task per kab/kota (each with its own FHIR hub), `load_window`: the four resource types of
the window streamed into staging and validated chunk by chunk (GX suites), each type judged as soon
as it is staged and merged in the window's one publishing transaction (on PostgreSQL while the next
type streams). One task, because that transaction cannot span tasks; its threads are threads of the
task, never processes. Only `airflow.sdk` and light project modules are imported at module level.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from spm.errors import InputError
from spm.orchestration import tasks
from spm.orchestration.assets import KESEHATAN as ASSETS, emit
from spm.orchestration import params
from spm.orchestration.factory import SpmDagParams, create_dag
from spm.sources.http import SourceAuthError, SourceError, SourceUnavailable


INGEST_KESEHATAN = SpmDagParams(
    dag_id="spm_ingest_kesehatan",
    tags=("ingest", "satusehat", "kesehatan"),
    schedule="0 1 * * *",  # nightly: the calendar day (WIB) before the run
    retries=2,
    max_active_tasks=8,
    doc_md="""
### Ingest kesehatan (SATUSEHAT FHIR) — patients and clinical records for the health SPM

For every configured kab/kota (Variable `spm_kode_wilayah`, or the `kode_wilayah` param) loads the
Patient, Encounter, Observation and Condition resources whose `meta.lastUpdated` lies in the window
`dari` ≤ lastUpdated < `sampai` (DESIGN §3.3) into `fact_pasien`, `fact_kunjungan`,
`fact_observasi` and `fact_kondisi`. Default window: the calendar day (WIB) before the run; give
`dari`/`sampai` (ISO date or date-time; without a zone WIB) to backfill any period, e.g. a year.

Each kab/kota reads its own regional hub: connection `spm_satusehat_<PPKK>` (e.g.
`spm_satusehat_3271` for 32.71) when defined, else `spm_satusehat` (which may then serve one kab/kota
only). Host = base URL, login = client id, password = client secret (OAuth2 client credentials; the
token is reused until it expires and renewed on 401). 5xx, timeouts and cut-short pages are retried
with bounded backoff; 429 waits for `Retry-After`.

A kab/kota × window is published whole or not at all: if one resource type cannot be fetched to the
end, or a batch fails its suite (`expectations/satusehat_*.json`), nothing of the window is published.
Resources are upserted by id: a newer `meta.lastUpdated` replaces the row, an older or equal one
changes nothing, so rerunning a window changes nothing (and publishes no Asset event). Rows failing
warning expectations (unknown status, code outside ICD-10/LOINC, value outside the physiological
bounds of `config/kualitas.yaml`, ...) go to `quarantine`. A resource whose patient is not loaded
yet is published and counts once the patient arrives; it waits in `rujukan_pasien_tertunda` and
Dinkes is alerted when it waits longer than `kesehatan.batas_umur_rujukan_hari`. The Asset events
name the kab/kota where the window's patients live and the service years that may have changed. Patients are pseudonymised at ingest:
`person_key` = HMAC of the NIK; NIK and names never reach the warehouse.

Owner of the data: Dinas Kesehatan (SATUSEHAT hub). Run by: the Pemda data team.
""",
    params={
        "kode_wilayah": params.kode_wilayah("kab/kota codes (a province code: all its kab/kota), e.g. [\"32.71\"]; empty = Variable spm_kode_wilayah"),
        "dari": params.instant("window start (inclusive), ISO date or date-time; empty = the day before the run"),
        "sampai": params.instant("window end (exclusive), ISO date or date-time; empty = the run's date"),
    },
)


# --- plain functions behind the tasks ------------------------------------------------------------

@tasks.fail_fast
def resolve_windows(params: dict[str, Any], run_after) -> list[dict]:
    """One window per kab/kota: the params' `dari`/`sampai`, else the day before the run (never the clock)."""
    from spm.errors import ConfigError
    from spm.ingest.kesehatan import default_window, hub_connections, windows

    dari, sampai = params.get("dari"), params.get("sampai")
    if bool(dari) != bool(sampai):
        raise ConfigError("give both dari and sampai, or neither (default: the day before the run)")
    if not dari:
        dari, sampai = default_window(run_after)
    kode_wilayah = tasks.kode_wilayah_list(params)
    return windows(kode_wilayah, dari, sampai, hub_connections(kode_wilayah))


@tasks.fail_fast
def load(window: dict, run_id: str | None) -> dict:
    """Load the window (extract, validate, publish: spm.ingest.kesehatan.ingest), or skip (no Asset
    events) when it brought nothing new or newer."""
    from spm.ingest.kesehatan import connect_client, ingest

    try:
        with connect_client(window["conn_id"]) as client:
            result = ingest(tasks.warehouse_engine(), window, run_id, client)
    except SourceError as exc:
        if isinstance(exc, (SourceUnavailable, SourceAuthError)):
            raise  # unavailable: a later try may succeed; refused credentials: fail_fast stops at once
        raise InputError(str(exc)) from exc  # the hub broke the contract: retrying will not help
    if not any(r["rows_published"] for r in result["batches"].values()):
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{result['kode_kab_kota']} {result['periode']}: nothing new or newer to publish")
    return result


def asset_extra(result: dict, entity: str) -> dict:
    return {**tasks.asset_extra({**result["batches"][entity], "kode_kab_kota": result["kode_kab_kota"],
                                 "periode": result["periode"]}),
            "dari": result["dari"], "sampai": result["sampai"],
            # The kab/kota (where the window's persons live) and service years whose figures may change.
            "partitions": [{**part, "periode": result["periode"]} for part in result.get("partitions", [])],
            "rows_duplicate": result["batches"][entity].get("rows_duplicate", 0)}


def set_asset_events(outlet_events, result: dict) -> dict:
    emit(outlet_events, {asset: asset_extra(result, entity) for entity, asset in ASSETS.items()})
    return result


# --- the DAG -------------------------------------------------------------------------------------

def create_ingest_kesehatan_dag() -> DAG:

    with create_dag(INGEST_KESEHATAN) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task
        def windows(params=None, dag_run=None) -> list[dict]:
            return resolve_windows(dict(params), dag_run.run_after)

        @task(outlets=list(ASSETS.values()))
        def load_window(window: dict, run_id=None, outlet_events=None):
            return set_asset_events(outlet_events, load(window, run_id))

        resolved = windows()
        check_warehouse_schema() >> resolved
        load_window.expand(window=resolved)
    return dag
