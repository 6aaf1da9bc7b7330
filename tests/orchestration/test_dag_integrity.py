"""Every DAG file imports cleanly, cheaply, without touching Variables or Connections, and is documented."""

import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
EXPECTED_DAG_IDS = {"spm_muat_wilayah", "spm_ingest_kependudukan", "spm_ingest_pendidikan", "spm_hitung_capaian"}
EXPECTED_DAG_IDS |= {"spm_ingest_input_opd"}
EXPECTED_DAG_IDS |= {"spm_ingest_kesehatan"}
EXPECTED_DAG_IDS |= {"spm_kirim_peringatan", "spm_periksa_kesegaran"}
EXPECTED_DAG_IDS |= {"spm_terbitkan_laporan"}


def _forbidden(*_args, **_kwargs):
    raise AssertionError("Variable/Connection access at DAG parse time")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import Connection, Variable

    with mock.patch.object(Variable, "get", _forbidden), mock.patch.object(Connection, "get", _forbidden):
        yield DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dags_present(dagbag):
    assert EXPECTED_DAG_IDS <= set(dagbag.dag_ids)
    assert len(dagbag.dag_ids) == len(DAG_FILES)


def test_every_dag_has_owner_tags_retries_doc(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md.strip()) > 80, dag_id
        assert "spm" in dag.tags and len(dag.tags) >= 2, dag_id
        assert dag.max_active_runs == 1, dag_id
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", (dag_id, task.task_id)
            assert task.retries >= 1, (dag_id, task.task_id)


def test_ids_follow_the_naming_rule(dagbag):
    for dag_id in dagbag.dag_ids:
        assert dag_id.startswith("spm_") and dag_id.count("_") >= 2


@pytest.mark.slow
@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_nothing_heavy(path):
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "heavy = [m for m in ('pandas', 'great_expectations', 'openpyxl', 'spm.warehouse.db') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1:] in ([], [""]), f"{path.name} imports {proc.stdout.strip()} at parse time"


def test_capaian_is_recomputed_when_any_source_it_reads_publishes(dagbag):
    def names(condition):
        objects = getattr(condition, "objects", None)
        return {condition.name} if objects is None else set().union(*(names(o) for o in objects))

    dag = dagbag.dags["spm_hitung_capaian"]
    assert names(dag.timetable.asset_condition) == {
        "fact_penduduk", "fact_kelahiran", "fact_peserta_didik", "fact_kunjungan", "fact_observasi", "fact_input_mutu"}


def test_no_task_pushes_its_result_key_by_key(dagbag):
    """A `-> dict` annotation makes Airflow push every key as its own XCom beside the whole result."""
    split = [f"{dag.dag_id}.{t.task_id}" for dag in dagbag.dags.values() for t in dag.tasks
             if getattr(t, "multiple_outputs", False)]
    assert split == []


def _refusal(dag, conf: dict) -> str | None:
    """Airflow's verdict on a run conf (as at trigger time): None if accepted, else its message."""
    import copy

    params = copy.deepcopy(dag.params)  # the DAG's own Params keep their defaults for later tests
    try:
        params.update(conf)
        params.validate()
    except Exception as exc:  # noqa: BLE001 - ParamValidationError
        return str(exc)
    return None


BAD_CONFS = [  # (param, value): refused by every DAG that has the param
    ("kode_wilayah", ["32.71", "3271"]), ("kode_wilayah", ["32.71"] * 5000), ("kode_wilayah", "32.71"),
    ("tahun", -1), ("tahun", 25), ("tahun", 20251), ("tahun", "2025"),
    ("semester", 3), ("triwulan", 5), ("dari", "kemarin"), ("sampai", "2025-13-01x"),
    ("file", "/etc/passwd"), ("file", "../secret.csv"), ("sumber", "x" * 300),
]


def test_every_param_has_a_schema_that_refuses_a_bad_conf_by_name(dagbag):
    checked = set()
    for dag_id, dag in dagbag.dags.items():
        for name, value in BAD_CONFS:
            if name in dag.params:
                refusal = _refusal(dag, {name: value})
                assert refusal is not None and f"param {name}" in refusal, (dag_id, name, value)
                checked.add(name)
        assert _refusal(dag, {}) is None, dag_id  # the defaults stand
    assert checked == {name for name, _ in BAD_CONFS}
    good = {"kode_wilayah": ["32.71", "32.72"], "tahun": 2026, "semester": 1, "triwulan": 3,
            "dari": "2024-01-01T00:00:00Z", "sampai": "2026-11-22T00:00:00+07:00", "file": "kode-2026.csv"}
    for dag_id, dag in dagbag.dags.items():
        conf = {k: v for k, v in good.items() if k in dag.params}
        assert _refusal(dag, conf) is None, (dag_id, conf)
