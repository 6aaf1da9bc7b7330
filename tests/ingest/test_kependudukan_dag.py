"""spm_ingest_kependudukan run for real (dag.test) against the simulated Dukcapil server."""

import json

import pytest
import sqlalchemy as sa

from spm.simulator.config import SimulatorConfig
from spm.simulator.expected import expected_births, expected_population_totals
from spm.simulator.servers import SimulatorServers
from spm.warehouse.db import get_engine, upgrade
from spm.warehouse.tables import etl_batch, fact_kelahiran, fact_penduduk
from tests.warehouses import with_wilayah

pytestmark = pytest.mark.airflow
KODE = "32.71"
CONF = {"kode_wilayah": [KODE], "tahun": 2024, "semester": 2}


@pytest.fixture(scope="module")
def sim():
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.002, seed=7)) as servers:
        yield servers


@pytest.fixture
def setup(airflow_db, warehouse_url, sim, monkeypatch, tmp_path):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("SPM_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_CONN_SPM_DUKCAPIL", json.dumps(sim.airflow_connections()["spm_dukcapil"]))
    sim.faults.__init__()  # every test starts without faults
    engine = get_engine(warehouse_url)
    upgrade(engine)
    with_wilayah(engine)
    yield engine
    engine.dispose()


def _states(run):
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def _sums(engine):
    with engine.connect() as conn:
        pop = dict(conn.execute(sa.select(fact_penduduk.c.jenis_kelamin, sa.func.sum(fact_penduduk.c.jumlah))
                                .group_by(fact_penduduk.c.jenis_kelamin)).all())
        births = conn.execute(sa.select(sa.func.sum(fact_kelahiran.c.jumlah))).scalar_one()
    return pop, births


def test_loads_population_and_births_equal_to_the_simulator_then_rerun_changes_nothing(dag_of, setup, sim):
    run = dag_of("spm_ingest_kependudukan").test(run_conf=CONF)
    assert run.state == "success", _states(run)
    world = sim.world[KODE]
    pop, births = _sums(setup)
    want = expected_population_totals(world, 2024, 2)
    assert pop == {"L": want["L"], "P": want["P"]}
    assert births == expected_births(world, 2024)["jumlah"]
    with setup.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(fact_penduduk)).scalar_one()
    assert rows == want["rows"]

    rerun = dag_of("spm_ingest_kependudukan").test(run_conf=CONF)
    assert rerun.state == "success"
    states = _states(rerun)
    assert states[("ingest_penduduk.publish_penduduk", 0)] == "skipped"  # unchanged: no new Asset event
    assert _sums(setup) == (pop, births)
    with setup.connect() as conn:
        statuses = [r.status for r in conn.execute(sa.select(etl_batch).order_by(etl_batch.c.batch_id))]
    assert statuses == ["published", "published", "unchanged", "unchanged"]


def test_wrong_key_fails_at_once_naming_the_connection(dag_of, setup, sim, monkeypatch):
    conn = dict(sim.airflow_connections()["spm_dukcapil"], password="salah")
    monkeypatch.setenv("AIRFLOW_CONN_SPM_DUKCAPIL", json.dumps(conn))
    before = sim.counts("dukcapil").get("http_401", 0)
    run = dag_of("spm_ingest_kependudukan").test(run_conf=CONF)
    assert run.state == "failed"
    ti = next(t for t in run.get_task_instances() if t.task_id == "ingest_penduduk.extract")
    assert ti.state == "failed" and ti.try_number == 1  # no retry storm
    assert sim.counts("dukcapil").get("http_401", 0) - before == 2  # one refused request per partition
    with setup.connect() as c:
        messages = [r.message for r in c.execute(sa.select(etl_batch))]
    assert all("connection 'spm_dukcapil'" in m for m in messages)


def test_5xx_are_retried_and_the_load_completes(dag_of, setup, sim):
    sim.faults.error_share, sim.faults.failing_attempts = 1.0, 2
    run = dag_of("spm_ingest_kependudukan").test(run_conf=CONF)
    assert run.state == "success", _states(run)
    assert sim.counts("dukcapil")["errors"] >= 4
    assert _sums(setup)[1] == expected_births(sim.world[KODE], 2024)["jumlah"]


def test_missing_semester_keeps_previous_data(dag_of, setup, sim):
    assert dag_of("spm_ingest_kependudukan").test(run_conf=CONF).state == "success"
    before = _sums(setup)
    sim.faults.missing_feeds = {"penduduk:2024-2"}
    sim.faults.failing_attempts = 1
    # Force a re-fetch: same semester, source now answers 404.
    run = dag_of("spm_ingest_kependudukan").test(run_conf=CONF)
    assert run.state == "success"
    assert _sums(setup) == before
    with setup.connect() as conn:
        last = conn.execute(sa.select(etl_batch).where(etl_batch.c.entity == "penduduk")
                            .order_by(etl_batch.c.batch_id.desc())).first()
    assert last.status == "missing" and "previous data kept" in last.message
