"""DAG definitions; each `dags/*.py` file calls one of these builders."""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from spm.orchestration import tasks
from spm.orchestration.assets import DIM_WILAYAH
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

Params: `file` (CSV `kode,nama,tingkat,kode_induk` readable by the workers), `berlaku_mulai`
(YYYY-MM-DD, needed with `file`), `sumber` (e.g. the decree number).
""",
    params={
        "file": Param(None, type=["null", "string"], description="code list CSV; empty = shipped list"),
        "berlaku_mulai": Param(None, type=["null", "string"], format="date",
                               description="date the list takes effect (needed with file)"),
        "sumber": Param(None, type=["null", "string"], description="source of the list, e.g. decree"),
    },
)


def create_muat_wilayah_dag() -> DAG:
    with create_dag(MUAT_WILAYAH) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task(outlets=[DIM_WILAYAH])
        def load_dim_wilayah(params=None, outlet_events=None) -> dict:
            outlet_events[DIM_WILAYAH].extra = result = tasks.load_dim_wilayah(dict(params))
            return result

        @task
        def sync_dim_layanan() -> int:
            return tasks.sync_dim_layanan()

        check_warehouse_schema() >> [load_dim_wilayah(), sync_dim_layanan()]
    return dag
