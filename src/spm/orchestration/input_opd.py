"""`spm_ingest_input_opd`: the DAG params, its builder and the plain functions its tasks call.

The OPD inbox holds a handful of small workbooks per quarter, so one task takes them all, in drop
order: a corrected workbook dropped after the first one for the same quarter is the one that stays
published, which parallel tasks could not promise. Only `airflow.sdk` and light project modules
are imported at module level (DAG parse time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from spm.orchestration import tasks
from spm.orchestration.assets import FACT_INPUT_ANGGARAN, FACT_INPUT_MUTU, emit
from spm.orchestration import params
from spm.orchestration.factory import SpmDagParams, create_dag
from spm.warehouse.status import BatchStatus

INGEST_INPUT_OPD = SpmDagParams(
    dag_id="spm_ingest_input_opd",
    tags=("ingest", "opd", "mutu", "anggaran"),
    # Hourly: an OPD that drops a workbook learns within the hour whether it was accepted; an empty
    # inbox costs one directory listing.
    schedule="@hourly",
    retries=2,
    max_active_tasks=4,
    doc_md="""
### Ingest input OPD — mutu and anggaran per jenis layanan

Takes every workbook dropped in `$SPM_HOME/inbox/opd` (one per OPD bidang, kab/kota and quarter,
made from the blank template `templates/opd/input_opd_<bidang>.xlsx`, DESIGN §3.4; and one per bidang
of the province's own Dinas, `input_opd_<bidang>_provinsi.xlsx`, code `32`), in drop order:

1. template checks: sheets `identitas`, `mutu`, `anggaran` (and `penerima` in the province's
   health workbook: sasaran and terlayani per month of the health crisis and KLB services), their
   headers, the identitas row (kab/kota or province, bidang, tahun, triwulan; agreeing with the file
   name), every cell's type;
2. staging and the GX suites `expectations/opd_mutu.json`, `opd_anggaran.json` and `opd_penerima.json`
   (critical: non-negative whole numbers and amounts, kode_layanan of the bidang, no duplicate item,
   no realisasi or terlayani after the quarter, every OPD-entered jenis layanan present; warning:
   more available than needed, realisasi above alokasi, more served than entitled, a jenis layanan
   left out);
3. a workbook with any problem is rejected whole: moved to `rejected/` with `<file>.errors.txt`
   listing sheet, row, column and what is wrong; nothing of it is loaded, and the run fails so that
   someone tells the OPD;
4. a good workbook replaces the kab/kota × bidang × tahun × triwulan partition of `fact_input_mutu`,
   `fact_input_anggaran` (and `fact_input_penerima`) in one transaction (a later workbook for the same quarter replaces the
   earlier one; the same figures again change nothing) and moves to `processed/`.

An Asset event on `fact_input_mutu` / `fact_input_anggaran` is emitted only when a workbook was
published (its partitions name the province's code for the province's own workbook: spm_hitung_capaian
then rolls the province up). Param `kode_wilayah`: only the workbooks of these kab/kota and of their
province (others wait in the inbox); empty = every workbook.

Owner of the data: the OPD (Dinas Pendidikan, Dinas Kesehatan). Run by: the Pemda data team.
""",
    params={
        "kode_wilayah": params.kode_wilayah("kab/kota codes (a province code: all its kab/kota), e.g. [\"32.71\"]; empty = every workbook in the inbox"),
    },
)


# --- plain functions behind the tasks ------------------------------------------------------------

def opd_inbox() -> Path:
    from spm.settings import spm_home

    return spm_home() / "inbox" / "opd"


@tasks.fail_fast
def ingest_inbox(params: dict[str, Any], run_id: str | None) -> list[dict]:
    from spm.ingest.input_opd import ingest_inbox as ingest

    inbox = opd_inbox()
    inbox.mkdir(parents=True, exist_ok=True)
    codes = params.get("kode_wilayah") or None
    if codes:
        codes = tasks.expand_provinces([codes] if isinstance(codes, str) else list(codes))
    return ingest(tasks.warehouse_engine(), inbox, run_id, codes)


def published_event(results: list[dict], outlet_events) -> dict:
    """Set the Asset events' extra to the published workbooks, or skip (no event) when there is none."""
    published = [{k: r.get(k) for k in ("file", "kode_kab_kota", "bidang", "periode", "batch_id", "rows_published")}
                 for r in results if r["status"] == BatchStatus.PUBLISHED]
    extra = {"partitions": published}  # each names kode_kab_kota and periode, as spm_hitung_capaian reads
    emit(outlet_events, {FACT_INPUT_MUTU: extra, FACT_INPUT_ANGGARAN: extra} if published else {},
         nothing="no OPD workbook published in this run: no Asset event")
    return extra


def check_rejected(results: list[dict]) -> None:
    rejected = [r for r in results if r["status"] == BatchStatus.REJECTED]
    if rejected:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"{len(rejected)} OPD workbook(s) rejected whole, see {opd_inbox() / 'rejected'} (*.errors.txt): "
            + "; ".join(f"{r['file']}: {'; '.join(r['problems'][:3])}" for r in rejected))


# --- the DAG ---------------------------------------------------------------------------------------

def create_ingest_input_opd_dag() -> DAG:
    with create_dag(INGEST_INPUT_OPD) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task
        def ingest_workbooks(params=None, run_id=None) -> list[dict]:
            return ingest_inbox(dict(params), run_id)

        @task(outlets=[FACT_INPUT_MUTU, FACT_INPUT_ANGGARAN])
        def announce_published(results: list[dict], outlet_events=None):
            return published_event(results, outlet_events)

        @task
        def check_rejected_workbooks(results: list[dict]) -> None:
            check_rejected(results)

        results = ingest_workbooks()
        check_warehouse_schema() >> results
        announce_published(results)
        check_rejected_workbooks(results)
    return dag
