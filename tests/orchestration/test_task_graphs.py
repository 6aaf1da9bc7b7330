"""The task graph of every DAG as the DAG processor parses it: its schedule, its task ids, each task's
direct upstream tasks, which tasks run mapped (once per partition) and the Assets each task publishes.

Parse only, no task runs: a renamed task, a rewired dependency, a mapped group that no longer maps or a
dropped Asset fails here in a second, before any dag.test() run. The tables are the graphs as built
by src/spm/orchestration; change them together with the DAG, on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.conftest import parse_dags


def any_of(*assets: str) -> tuple[str, frozenset[str]]:
    """A schedule on Assets: a run when any of them is published."""
    return ("any", frozenset(assets))


@dataclass(frozen=True)
class Graph:
    # None (by hand only), "cron <expression> <timezone>", or the Asset name(s) a run waits for.
    schedule: object
    # task id -> the task ids directly upstream of it; every task of the DAG, no other.
    upstream: dict[str, tuple[str, ...]]
    # Tasks run once per element of a list resolved at run time (a mapped task, or a task of a mapped
    # task group: each of its task instances has a map index).
    mapped: frozenset[str] = frozenset()
    # task id -> the Assets (warehouse tables) its success publishes; tasks not named publish none.
    outlets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # task id -> the Assets whose events it reads itself (besides those that triggered the run).
    inlets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # task id -> its trigger rule, where it is not all_success.
    trigger_rules: dict[str, str] = field(default_factory=dict)


SCHEMA = "check_warehouse_schema"  # the first task of every warehouse DAG: fails at once on an old schema

GRAPHS = {
    "spm_muat_wilayah": Graph(
        schedule=None,  # run by hand when Kemendagri publishes a new code list
        upstream={
            SCHEMA: (),
            "load_dim_wilayah": (SCHEMA,),
            "sync_dim_layanan": (SCHEMA,),
        },
        outlets={"load_dim_wilayah": ("dim_wilayah",)},
    ),
    "spm_ingest_kependudukan": Graph(
        schedule="cron 0 1 * * * UTC",
        upstream={
            SCHEMA: (),
            "resolve_penduduk_partitions": (SCHEMA,),
            "ingest_penduduk.extract": ("resolve_penduduk_partitions",),
            "ingest_penduduk.validate": ("ingest_penduduk.extract",),
            "ingest_penduduk.publish_penduduk": ("ingest_penduduk.validate",),
            "resolve_kelahiran_partitions": (SCHEMA,),
            "ingest_kelahiran.extract": ("resolve_kelahiran_partitions",),
            "ingest_kelahiran.validate": ("ingest_kelahiran.extract",),
            "ingest_kelahiran.publish_kelahiran": ("ingest_kelahiran.validate",),
            "ingest_inbox": (SCHEMA,),
            "announce_inbox": ("ingest_inbox",),
            "check_rejected_files": ("ingest_inbox",),
        },
        mapped=frozenset({  # one mapped task group per partition (kab/kota × period)
            "ingest_penduduk.extract", "ingest_penduduk.validate", "ingest_penduduk.publish_penduduk",
            "ingest_kelahiran.extract", "ingest_kelahiran.validate", "ingest_kelahiran.publish_kelahiran",
        }),
        outlets={
            "ingest_penduduk.publish_penduduk": ("fact_penduduk",),
            "ingest_kelahiran.publish_kelahiran": ("fact_kelahiran",),
            "announce_inbox": ("fact_penduduk", "fact_kelahiran"),
        },
    ),
    "spm_ingest_pendidikan": Graph(
        schedule="cron 0 2 * * * UTC",
        upstream={
            SCHEMA: (),
            "partitions": (SCHEMA,),
            "ingest_partition.extract_partition": ("partitions",),
            "ingest_partition.validate_partition": ("ingest_partition.extract_partition",),
            "ingest_partition.publish_dim_sekolah": ("ingest_partition.validate_partition",),
            "ingest_partition.publish_fact_peserta_didik": ("ingest_partition.validate_partition",
                                                            "ingest_partition.publish_dim_sekolah"),
        },
        mapped=frozenset({
            "ingest_partition.extract_partition", "ingest_partition.validate_partition",
            "ingest_partition.publish_dim_sekolah", "ingest_partition.publish_fact_peserta_didik",
        }),
        outlets={
            "ingest_partition.publish_dim_sekolah": ("dim_sekolah",),
            "ingest_partition.publish_fact_peserta_didik": ("fact_peserta_didik",),
        },
        # Learners still publish when the school list was unchanged (its publish skipped).
        trigger_rules={"ingest_partition.publish_fact_peserta_didik": "none_failed"},
    ),
    "spm_ingest_kesehatan": Graph(
        schedule="cron 0 1 * * * UTC",
        upstream={
            SCHEMA: (),
            "windows": (SCHEMA,),
            "load_window": ("windows",),
        },
        # One mapped task per kab/kota window (each its own FHIR hub): the window's publishing
        # transaction is open while it streams, and a transaction cannot span tasks.
        mapped=frozenset({"load_window"}),
        outlets={"load_window": ("fact_pasien", "fact_kunjungan", "fact_observasi", "fact_kondisi")},
    ),
    "spm_ingest_input_opd": Graph(
        schedule="cron 0 * * * * UTC",  # @hourly
        upstream={
            SCHEMA: (),
            "ingest_workbooks": (SCHEMA,),
            "announce_published": ("ingest_workbooks",),
            "check_rejected_workbooks": ("ingest_workbooks",),
        },
        outlets={"announce_published": ("fact_input_mutu", "fact_input_anggaran")},
    ),
    "spm_hitung_capaian": Graph(
        schedule=any_of("fact_penduduk", "fact_kelahiran", "fact_peserta_didik", "fact_kunjungan",
                        "fact_observasi", "fact_input_mutu"),
        upstream={
            SCHEMA: (),
            "resolve_targets": (SCHEMA,),
            "kab_kota.compute_capaian": ("resolve_targets",),
            "kab_kota.compute_indeks": ("kab_kota.compute_capaian",),
            # The provinces roll up after every kab/kota of the run.
            "resolve_provinces": ("kab_kota.compute_indeks", "resolve_targets"),
            "compute_provinsi": ("resolve_provinces",),
        },
        # One group per kab/kota, one task per province.
        mapped=frozenset({"kab_kota.compute_capaian", "kab_kota.compute_indeks", "compute_provinsi"}),
        outlets={
            "kab_kota.compute_capaian": ("mart_capaian_spm",),
            "kab_kota.compute_indeks": ("mart_indeks_spm",),
            "compute_provinsi": ("mart_capaian_spm", "mart_indeks_spm"),
        },
        # A kab/kota skipped for lack of population leaves the others' roll-up to go ahead.
        trigger_rules={"resolve_provinces": "none_failed"},
        # Events that landed after the run was triggered (Airflow gives a run none of them).
        inlets={"resolve_targets": ("fact_penduduk", "fact_kelahiran", "fact_peserta_didik", "fact_kunjungan",
                                    "fact_observasi", "fact_input_mutu")},
    ),
    "spm_terbitkan_laporan": Graph(
        schedule="mart_indeks_spm",
        upstream={
            SCHEMA: (),
            "resolve_quarters": (SCHEMA,),
            "publish_report": ("resolve_quarters",),
        },
        mapped=frozenset({"publish_report"}),  # one per kab/kota × quarter
    ),
    "spm_kirim_peringatan": Graph(
        schedule="cron 20 * * * * UTC",
        upstream={
            "kirim": (),
            "halaman_kualitas": ("kirim",),
        },
        trigger_rules={"halaman_kualitas": "all_done"},  # the pages matter most when something went wrong
    ),
    "spm_periksa_kesegaran": Graph(
        schedule="cron 0 7 * * * Asia/Jakarta",  # kesegaran.jadwal and zona_waktu of config/peringatan.yaml
        upstream={"periksa": ()},
    ),
}


@pytest.fixture(scope="module")
def dags():
    bag = parse_dags()
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags


def _condition(encoded: dict):
    kind = encoded["__type"]
    if kind == "asset":
        return encoded["name"]
    if kind in ("asset_any", "asset_all"):
        return (kind.removeprefix("asset_"), frozenset(_condition(o) for o in encoded["objects"]))
    raise AssertionError(f"unexpected asset condition {encoded}")


def schedule_of(dag):
    """The schedule as the scheduler reads it (the serialized timetable), in the notation of GRAPHS."""
    from airflow.serialization.encoders import encode_timetable
    from airflow.serialization.enums import Encoding

    encoded = encode_timetable(dag.timetable)
    kind, var = encoded[Encoding.TYPE].rsplit(".", 1)[-1], encoded[Encoding.VAR]
    if kind == "NullTimetable":
        return None
    if kind == "CronTriggerTimetable":
        assert not var["interval"] and not var["run_immediately"], var
        return f"cron {var['expression']} {var['timezone']}"
    if kind == "AssetTriggeredTimetable":
        return _condition(var["asset_condition"])
    raise AssertionError(f"{dag.dag_id}: unexpected timetable {kind}")


def _is_mapped(task) -> bool:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    return isinstance(task, MappedOperator) or task.get_closest_mapped_task_group() is not None


def test_the_dags_folder_holds_exactly_these_dags(dags):
    assert sorted(dags) == sorted(GRAPHS)


@pytest.mark.parametrize("dag_id", GRAPHS)
def test_schedule(dags, dag_id):
    assert schedule_of(dags[dag_id]) == GRAPHS[dag_id].schedule


@pytest.mark.parametrize("dag_id", GRAPHS)
def test_tasks_and_their_direct_upstream(dags, dag_id):
    got = {t.task_id: sorted(t.upstream_task_ids) for t in dags[dag_id].tasks}
    assert got == {task: sorted(up) for task, up in GRAPHS[dag_id].upstream.items()}


@pytest.mark.parametrize("dag_id", GRAPHS)
def test_mapped_tasks(dags, dag_id):
    assert {t.task_id for t in dags[dag_id].tasks if _is_mapped(t)} == GRAPHS[dag_id].mapped


@pytest.mark.parametrize("dag_id", GRAPHS)
def test_outlets(dags, dag_id):
    got = {t.task_id: sorted(a.name for a in t.outlets) for t in dags[dag_id].tasks if t.outlets}
    assert got == {task: sorted(names) for task, names in GRAPHS[dag_id].outlets.items()}
    # Every outlet is an Asset of a warehouse table (assets.table_asset): the uri names the table.
    assert all(a.uri == f"spm://warehouse/{a.name}" for t in dags[dag_id].tasks for a in t.outlets)


@pytest.mark.parametrize("dag_id", GRAPHS)
def test_inlets(dags, dag_id):
    got = {t.task_id: sorted(a.name for a in t.inlets) for t in dags[dag_id].tasks if t.inlets}
    assert got == {task: sorted(names) for task, names in GRAPHS[dag_id].inlets.items()}


@pytest.mark.parametrize("dag_id", GRAPHS)
def test_trigger_rules(dags, dag_id):
    got = {t.task_id: str(t.trigger_rule.value) for t in dags[dag_id].tasks if t.trigger_rule != "all_success"}
    assert got == GRAPHS[dag_id].trigger_rules


def test_every_asset_a_dag_waits_for_is_published_by_another_dag():
    """Read from the tables above (themselves checked against the DAGs): no schedule waits forever."""
    def waits_for(schedule) -> set[str]:
        if isinstance(schedule, tuple):  # any_of(...)
            return set(schedule[1])
        if isinstance(schedule, str) and not schedule.startswith("cron "):
            return {schedule}
        return set()  # by hand, or a cron

    published = {dag_id: {a for assets in g.outlets.values() for a in assets} for dag_id, g in GRAPHS.items()}
    for dag_id, graph in GRAPHS.items():
        others = set().union(*(p for other, p in published.items() if other != dag_id))
        assert waits_for(graph.schedule) <= others, (dag_id, waits_for(graph.schedule) - others)
