"""spm_ingest_pendidikan run for real (dag.test) against the simulated Dapodik web service."""

import json

import numpy as np
import pytest
import sqlalchemy as sa

from spm.simulator import SimulatorConfig, SimulatorServers
from spm.simulator.determinism import hash_uniform, stream_key
from spm.warehouse.db import get_engine, upgrade
from spm.warehouse.tables import dim_sekolah, etl_batch, fact_peserta_didik
from tests.warehouses import with_wilayah

pytestmark = pytest.mark.airflow
KODE = "32.71"
SEED = 5
CONF = {"kode_wilayah": [KODE], "tahun": 2024, "semester": 2}
SEMESTER = 20242
EXTRA = {"backoff_seconds": 0.01, "max_attempts": 2, "page_size": 200, "paralel": 4}


@pytest.fixture(scope="module")
def sim():
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.002, seed=SEED)) as servers:
        yield servers


def _connection(sim, **changes) -> str:
    return json.dumps({**sim.airflow_connections()["spm_dapodik"], "extra": json.dumps(EXTRA), **changes})


@pytest.fixture
def setup(airflow_db, warehouse_url, sim, monkeypatch, tmp_path):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("SPM_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_CONN_SPM_DAPODIK", _connection(sim))
    sim.faults.clear()
    engine = get_engine(warehouse_url)
    upgrade(engine)
    with_wilayah(engine)
    yield engine
    engine.dispose()
    sim.faults.clear()


def _states(run):
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _asset_events(run_id):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (session.query(AssetModel.name, AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(AssetEvent.source_run_id == run_id).all())
    return {name: extra for name, extra in rows}


def test_publishes_learners_once_each_then_rerun_changes_nothing(dag_of, setup, sim):
    sim.faults.set(transfer_share=0.05, error_share=0.05, truncate_share=0.05)
    run = dag_of("spm_ingest_pendidikan").test(run_conf=CONF)
    assert run.state == "success", _states(run)
    world = sim.world[KODE]
    learners = world.pendidikan.learners(SEMESTER, 0.05)
    persons = len(np.unique(learners.person))
    assert _count(setup, fact_peserta_didik) == persons
    assert _count(setup, dim_sekolah) == len(world.pendidikan.schools.npsn)
    with setup.connect() as conn:
        batch = conn.execute(sa.select(etl_batch).where(etl_batch.c.entity == "peserta_didik")).one()
    assert (batch.rows_received, batch.rows_published, batch.rows_duplicate) == (
        len(learners), persons, len(learners) - persons)
    events = _asset_events(run.run_id)
    assert events["fact_peserta_didik"]["rows_published"] == persons
    assert events["fact_peserta_didik"]["semester_id"] == SEMESTER
    assert events["dim_sekolah"]["rows_published"] == len(world.pendidikan.schools.npsn)

    rerun = dag_of("spm_ingest_pendidikan").test(run_conf=CONF)
    assert rerun.state == "success", _states(rerun)
    states = _states(rerun)
    assert states[("ingest_partition.publish_dim_sekolah", 0)] == "skipped"
    assert states[("ingest_partition.publish_fact_peserta_didik", 0)] == "skipped"  # no new Asset event
    assert _asset_events(rerun.run_id) == {}
    assert _count(setup, fact_peserta_didik) == persons
    with setup.connect() as conn:
        statuses = [r.status for r in conn.execute(sa.select(etl_batch).order_by(etl_batch.c.batch_id))]
    assert statuses == ["published", "published", "unchanged", "unchanged"]


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_rejected_token_fails_at_once_naming_the_connection(dag_of, setup, sim, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPM_DAPODIK", _connection(sim, password="salah"))
    monkeypatch.setenv("AIRFLOW_VAR_SPM_KODE_WILAYAH", json.dumps([KODE]))  # default of the kode_wilayah param
    before = sim.counts("dapodik").get("http_401", 0)
    run = dag_of("spm_ingest_pendidikan").test(run_conf={"tahun": 2024, "semester": 2})
    assert run.state == "failed"
    ti = next(t for t in run.get_task_instances() if t.task_id == "ingest_partition.extract_partition")
    assert ti.state == "failed" and ti.try_number == 1  # no retry storm
    assert sim.counts("dapodik")["http_401"] - before == 1
    with setup.connect() as conn:
        rows = conn.execute(sa.select(etl_batch)).all()
    assert len(rows) == 2 and all(r.status == "failed" and "connection 'spm_dapodik'" in r.message for r in rows)


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_school_whose_list_keeps_failing_fails_the_run_naming_its_npsn(dag_of, setup, sim):
    urls = {n: f"/WebService/getPesertaDidik?npsn={n}&semester_id={SEMESTER}&start=0&limit={EXTRA['page_size']}"
            for n in sim.world[KODE].pendidikan.schools.npsn}
    u = {n: float(hash_uniform(stream_key(SEED, "fault", "errors", url), 0)) for n, url in urls.items()}
    npsn = min(u, key=u.get)
    sim.faults.set(error_share=u[npsn] + 1e-12, failing_attempts=10_000)
    run = dag_of("spm_ingest_pendidikan").test(run_conf=CONF)
    assert run.state == "failed"
    states = _states(run)
    assert states[("ingest_partition.extract_partition", 0)] == "failed"
    assert states[("ingest_partition.publish_fact_peserta_didik", 0)] == "upstream_failed"
    assert _count(setup, fact_peserta_didik) == 0 and _count(setup, dim_sekolah) == 0
    with setup.connect() as conn:
        rows = conn.execute(sa.select(etl_batch).where(etl_batch.c.entity == "peserta_didik")).all()
    assert rows and all(r.status == "failed" and f"npsn {npsn}" in r.message for r in rows)


def test_a_listing_whose_results_disagree_with_its_rows_publishes_nothing_and_keeps_the_data(dag_of, setup, sim):
    first = dag_of("spm_ingest_pendidikan").test(run_conf=CONF)
    assert first.state == "success", _states(first)
    learners, schools = _count(setup, fact_peserta_didik), _count(setup, dim_sekolah)
    for offset in (1, -1):
        sim.faults.set(announced_total_offset=offset)
        run = dag_of("spm_ingest_pendidikan").test(run_conf=CONF)
        assert run.state == "failed"
        with setup.connect() as conn:
            messages = conn.execute(sa.select(etl_batch.c.message).where(
                etl_batch.c.status == "failed", etl_batch.c.run_id == run.run_id)).scalars().all()
        assert messages and all("results" in m or "announced" in m for m in messages), messages
        assert (_count(setup, fact_peserta_didik), _count(setup, dim_sekolah)) == (learners, schools)
    sim.faults.set(announced_total_offset=0)
