"""DAGs spm_kirim_peringatan (data-quality alerts, digest, DQ pages) and spm_periksa_kesegaran (freshness).

Why an hourly scan and not Asset events: a batch stopped by a quality gate publishes nothing, so it
emits no Asset event; the audit tables are the one place where every outcome lands.

Why a freshness DAG and not Airflow 3 Deadline Alerts: a deadline alert fires when a DAG *run* is not
finished in time. A late feed is usually a run that finished on time with nothing new (the source
answered "not yet", or kept failing for one kab/kota while the others loaded), so the question
"does every feed × kab/kota have data by 07:00?" has to be asked of etl_batch, per partition.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from spm.orchestration import tasks
from spm.orchestration import params
from spm.orchestration.factory import SpmDagParams, create_dag


def _kesegaran_schedule():
    """The morning deadline of config/peringatan.yaml as a cron in local time (a config file, read cheaply)."""
    from airflow.timetables.trigger import CronTriggerTimetable

    from spm.config import load_yaml

    cfg = load_yaml("peringatan.yaml")["kesegaran"]
    return CronTriggerTimetable(cfg["jadwal"], timezone=cfg.get("zona_waktu", "UTC"))


KIRIM_PERINGATAN = SpmDagParams(
    dag_id="spm_kirim_peringatan",
    tags=("kualitas", "peringatan"),
    schedule="20 * * * *",  # hourly, after the nightly loads' batches have landed
    retries=2,
    max_active_tasks=2,
    doc_md="""
### Kirim peringatan kualitas data

Reads the audit tables (`etl_batch`, `dq_result`, `quarantine`, `inbox_file`) for batches finished
since the previous scan and tells the owner of the data (routing in `config/peringatan.yaml`:
Disdukcapil, Dinas Pendidikan, Dinas Kesehatan; the data team for unknown sources) by e-mail,
webhook and/or Telegram when a batch failed a critical expectation, was rejected for its quarantined
share, a capaian could not be computed for lack of population, or a capaian jumped beyond the bound.

The same open problem is sent once, again only when it changes or after `pengingat_jam`, and its
resolution (a later batch of the partition published) is announced once; state is kept in the
warehouse table `peringatan`, deliveries in `peringatan_kirim`. The first run at or after
`ringkasan.jam` (local time) sends each owner the daily digest of open problems. Then the
data-quality pages under `$SPM_HOME/reports/kualitas` are rebuilt (alerts link to them), with the
Great Expectations Data Docs of the stored validation results under `gx/` beside them.

Alerts carry only counts, expectation names, batch ids, kab/kota codes, periods and links; never a
NIK, a name or a row. Params: `paksa_ringkasan` sends the digest now. Setup: `docs/peringatan.md`.
""",
    params={
        "paksa_ringkasan": Param(False, type="boolean", description="send the daily digest now"),
    },
)

PERIKSA_KESEGARAN = SpmDagParams(
    dag_id="spm_periksa_kesegaran",
    tags=("kualitas", "peringatan", "kesegaran"),
    schedule=None,  # replaced by the configured morning deadline in create_periksa_kesegaran_dag
    retries=2,
    max_active_tasks=2,
    doc_md="""
### Periksa kesegaran data (morning deadline)

Runs each morning at the deadline of `config/peringatan.yaml` (`kesegaran.jadwal`, local time) and
checks, for every feed listed there and every kab/kota (Variable `spm_kode_wilayah` or the
`kode_wilayah` param), that a load succeeded (published, or unchanged: the source answered with what
is already published) within the feed's `maks_umur_jam` before the run's time. A late feed alerts
its owner once (reminders after `pengingat_jam`); when it is fresh again the resolution is
announced once. Nothing depends on the wall clock: the check is made as of the run's `run_after`.
""",
    params={
        "kode_wilayah": params.kode_wilayah("kab/kota codes (a province code: all its kab/kota); empty = Variable spm_kode_wilayah"),
    },
)


@tasks.fail_fast
def scan_and_alert(params: dict[str, Any]) -> dict:
    from spm.alerts.checks import scan_and_send

    engine = tasks.warehouse_engine()
    from spm.warehouse.db import require_current_schema

    require_current_schema(engine)
    summary = scan_and_send(engine, force_digest=bool(params.get("paksa_ringkasan")))
    if summary["tidak_terkirim"]:
        # State is saved (undelivered problems are retried next run); the failure makes it visible.
        from airflow.sdk.exceptions import AirflowException

        raise AirflowException(f"{summary['tidak_terkirim']} alert(s) could not be delivered on any channel "
                               "(see table peringatan_kirim); they are retried by the next run")
    return summary


@tasks.fail_fast
def write_quality_pages() -> int:
    from spm.reporting.kualitas import write_pages
    from spm.warehouse.db import require_current_schema

    engine = tasks.warehouse_engine()
    require_current_schema(engine)
    return len(write_pages(engine))


@tasks.fail_fast
def check_freshness(params: dict[str, Any], run_after) -> dict:
    from spm.alerts.checks import check_freshness_and_send
    from spm.warehouse.db import require_current_schema

    engine = tasks.warehouse_engine()
    require_current_schema(engine)
    return check_freshness_and_send(engine, tasks.kode_wilayah_list(params), run_after)


def create_kirim_peringatan_dag() -> DAG:
    with create_dag(KIRIM_PERINGATAN) as dag:

        @task
        def kirim(params=None):
            return scan_and_alert(dict(params))

        @task(trigger_rule="all_done")  # the pages matter most when something went wrong
        def halaman_kualitas() -> int:
            return write_quality_pages()

        kirim() >> halaman_kualitas()
    return dag


def create_periksa_kesegaran_dag() -> DAG:
    from dataclasses import replace

    with create_dag(replace(PERIKSA_KESEGARAN, schedule=_kesegaran_schedule())) as dag:

        @task
        def periksa(params=None, dag_run=None):
            return check_freshness(dict(params), dag_run.run_after)

        periksa()
    return dag
