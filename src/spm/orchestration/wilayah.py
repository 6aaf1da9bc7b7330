"""`spm_muat_wilayah`: the DAG params, its builder and the plain functions its tasks call."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from spm.errors import InputError
from spm.orchestration import tasks
from spm.orchestration.assets import DIM_WILAYAH, emit
from spm.orchestration.factory import SpmDagParams, create_dag

log = logging.getLogger(__name__)

CODE_LIST_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.csv$"  # a file name in the code-list folder, no path


def wilayah_inbox() -> Path:
    """Where operators put a Kemendagri code list for spm_muat_wilayah: the only folder its `file` param reads."""
    from spm.settings import spm_home

    return spm_home() / "inbox" / "wilayah"


def code_list_path(name: str) -> Path:
    """The code list `name` in wilayah_inbox(). A path, a name of another shape, or a link leading out of
    the folder is refused: a run's conf must not make a worker read any other file (the
    pseudonymisation secret, say)."""
    import re

    folder = wilayah_inbox()
    if not isinstance(name, str) or not re.fullmatch(CODE_LIST_NAME, name):
        raise InputError(f"file {name[:80]!r}: give the name of a .csv code list in {folder} (letters, digits, . _ -; "
                         "no folder or path)")
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()) or not path.is_file():
        raise InputError(f"file {name!r}: no such code list in {folder}")
    return path


@tasks.fail_fast
def merge_code_list(params: dict[str, Any]) -> dict[str, Any]:
    """Merge the code list named by the run's params (default: the shipped list) into dim_wilayah."""
    from spm.warehouse.wilayah import current_count, load_wilayah

    file = params.get("file") or None
    berlaku = params.get("berlaku_mulai") or None
    result = load_wilayah(
        tasks.warehouse_engine(),
        code_list_path(file) if file else None,
        date.fromisoformat(berlaku) if berlaku else None,
        params.get("sumber") or None,
    )
    counts = current_count(tasks.warehouse_engine())
    log.info("dim_wilayah: %s opened, %s closed, current %s", result.opened, result.closed, counts)
    return {"opened": result.opened, "closed": result.closed, "berlaku_mulai": result.berlaku_mulai.isoformat(),
            "current": counts}


@tasks.fail_fast
def refresh_dim_layanan() -> int:
    from spm.warehouse.layanan import sync_dim_layanan as sync

    return sync(tasks.warehouse_engine())


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
        "file": Param(None, type=["null", "string"], pattern=CODE_LIST_NAME,
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
            result = merge_code_list(dict(params))
            emit(outlet_events, {DIM_WILAYAH: result})
            return result

        @task
        def sync_dim_layanan() -> int:
            return refresh_dim_layanan()

        check_warehouse_schema() >> [load_dim_wilayah(), sync_dim_layanan()]
    return dag
