"""spm_ingest_kesehatan run for real (dag.test) against the simulated FHIR hub."""

import json

import pytest
import sqlalchemy as sa

from spm.simulator import SimulatorConfig, SimulatorServers
from spm.warehouse.db import get_engine, upgrade
from spm.warehouse.tables import etl_batch, fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien
from tests.warehouses import with_wilayah

pytestmark = pytest.mark.airflow
KODE = "32.71"
CONF = {"kode_wilayah": [KODE], "dari": "2024-01-01", "sampai": "2027-07-01"}  # every record: references resolve
EXTRA = {"backoff_seconds": 0.01, "page_size": 250}
TABLES = {"fact_pasien": fact_pasien, "fact_kunjungan": fact_kunjungan, "fact_observasi": fact_observasi,
          "fact_kondisi": fact_kondisi}


@pytest.fixture(scope="module")
def sim():
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.001, seed=9)) as servers:
        yield servers


def _connection(sim, **changes) -> str:
    return json.dumps({**sim.airflow_connections()["spm_satusehat"], "extra": json.dumps(EXTRA), **changes})


@pytest.fixture
def setup(airflow_db, warehouse_url, sim, monkeypatch, tmp_path):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("SPM_HOME", str(tmp_path))
    # The per-hub connection of 32.71 is preferred over the shared spm_satusehat.
    monkeypatch.setenv("AIRFLOW_CONN_SPM_SATUSEHAT_3271", _connection(sim))
    monkeypatch.setenv("AIRFLOW_CONN_SPM_SATUSEHAT", _connection(sim, host="http://127.0.0.1:9"))
    sim.faults.clear()
    engine = get_engine(warehouse_url)
    upgrade(engine)
    with_wilayah(engine)
    yield engine
    engine.dispose()
    sim.faults.clear()


def _states(run):
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def _counts(engine):
    with engine.connect() as conn:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for name, t in TABLES.items()}


def _validation_parts(engine, run_id) -> dict[str, int]:
    from spm.warehouse.tables_dq import dq_validation_result as v

    with engine.connect() as conn:
        return dict(conn.execute(sa.select(v.c.suite, sa.func.count()).join(
            etl_batch, etl_batch.c.batch_id == v.c.batch_id).where(etl_batch.c.run_id == run_id)
            .group_by(v.c.suite)).all())


def _asset_events(run_id):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (session.query(AssetModel.name, AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(AssetEvent.source_run_id == run_id).all())
    return {name: extra for name, extra in rows}


@pytest.mark.parametrize("chunk", [None, 400], ids=["one-chunk", "several-chunks"])
def test_window_published_equals_the_hub_despite_faults_then_rerun_changes_nothing(dag_of, setup, sim, monkeypatch,
                                                                                    chunk):
    """With small chunks every type is validated and staged in several chunks inside the Airflow task."""
    if chunk:
        monkeypatch.setenv("SPM_HEALTH_VALIDATE_CHUNK_ROWS", str(chunk))
    world = sim.world[KODE].kesehatan
    expected = {"fact_pasien": len(world.patients), "fact_kunjungan": len(world.encounters),
                "fact_observasi": len(world.observations), "fact_kondisi": len(world.conditions)}
    sim.faults.set(token_expiry_after=4, rate_limit_share=0.1, retry_after_seconds=0, error_share=0.1,
                   truncate_share=0.1)
    run = dag_of("spm_ingest_kesehatan").test(run_conf=CONF)
    assert run.state == "success", _states(run)
    assert _counts(setup) == expected
    events = _asset_events(run.run_id)
    assert {name: e["rows_published"] for name, e in events.items()} == expected
    assert events["fact_observasi"]["periode"] == "2023-12-31T17:00:00Z/2027-06-30T17:00:00Z"
    assert all(e["rows_quarantined"] == 0 and e["kode_kab_kota"] == KODE for e in events.values())
    assert sim.counts("satusehat").get("token_expired", 0) > 0
    parts = _validation_parts(setup, run.run_id)  # each chunk stores its own GX result
    # Chunks end on page boundaries: at least a chunk's rows each, except the last.
    assert all(n == 1 for n in parts.values()) if not chunk else \
        1 < parts["satusehat_observasi"] <= -(-expected["fact_observasi"] // chunk), parts
    assert max(expected.values()) > 2 * (chunk or 0)

    sim.faults.clear()
    rerun = dag_of("spm_ingest_kesehatan").test(run_conf=CONF)
    assert rerun.state == "success", _states(rerun)
    assert _states(rerun)[("load_window", 0)] == "skipped"  # nothing new: no Asset event
    assert _asset_events(rerun.run_id) == {}
    assert _counts(setup) == expected


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_rejected_client_secret_fails_at_once_and_publishes_nothing(dag_of, setup, sim, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPM_SATUSEHAT_3271", _connection(sim, password="salah"))
    monkeypatch.setenv("AIRFLOW_VAR_SPM_KODE_WILAYAH", json.dumps([KODE]))  # default of the kode_wilayah param
    run = dag_of("spm_ingest_kesehatan").test()  # default window: the day before the run
    assert run.state == "failed"
    ti = next(t for t in run.get_task_instances() if t.task_id == "load_window")
    assert ti.state == "failed" and ti.try_number == 1  # no retry storm
    with setup.connect() as conn:
        rows = conn.execute(sa.select(etl_batch)).all()
    assert len(rows) == 4 and all(r.status == "failed" and "connection 'spm_satusehat_3271'" in r.message
                                  for r in rows)
    assert set(_counts(setup).values()) == {0}


def test_a_hub_whose_bundle_total_disagrees_with_its_pages_publishes_nothing_and_keeps_the_data(dag_of, setup, sim):
    first = dag_of("spm_ingest_kesehatan").test(run_conf=CONF)
    assert first.state == "success", _states(first)
    published = _counts(setup)
    for offset, said in ((1, "paging incomplete"), (-1, "more than announced")):
        sim.faults.set(announced_total_offset=offset)
        run = dag_of("spm_ingest_kesehatan").test(run_conf=CONF)
        assert run.state == "failed"
        with setup.connect() as conn:
            failed = conn.execute(sa.select(etl_batch).where(etl_batch.c.run_id == run.run_id)).all()
        assert failed and len(failed) % 4 == 0 and {b.status for b in failed} == {"failed"}  # each try: 4 batches
        assert all(said in b.message for b in failed), [b.message for b in failed]
        assert _counts(setup) == published
