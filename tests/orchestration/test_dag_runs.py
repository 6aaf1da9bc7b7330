"""Real DAG runs with dag.test() (Airflow's own executor loop, metadata DB under the test home)."""

import pytest
import sqlalchemy as sa

from spm.warehouse.db import get_engine, upgrade
from spm.warehouse.tables import dim_layanan, dim_wilayah

pytestmark = pytest.mark.airflow


def test_muat_wilayah_loads_the_region_dimension(dag_of, airflow_db, warehouse_url, monkeypatch):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    engine = get_engine(warehouse_url)
    upgrade(engine)
    run = dag_of("spm_muat_wilayah").test()
    assert run.state == "success"
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(dim_wilayah)
                         .where(dim_wilayah.c.berlaku_sampai.is_(None))).scalar_one()
        layanan = conn.execute(sa.select(sa.func.count()).select_from(dim_layanan)).scalar_one()
    assert (n, layanan) == (91_599, 19)  # 15 kab/kota jenis layanan, 4 of the province's own
    engine.dispose()


def test_muat_wilayah_fails_at_once_when_schema_is_behind(dag_of, airflow_db, sqlite_url, monkeypatch):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", sqlite_url)  # never upgraded
    run = dag_of("spm_muat_wilayah").test()
    assert run.state == "failed"
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(run_id=run.run_id, task_id="check_warehouse_schema").one()
        assert ti.state == "failed" and ti.try_number == 1  # no retry storm for an error retries cannot fix


def test_muat_wilayah_file_param_names_a_code_list_in_its_folder(dag_of, airflow_db, warehouse_url, monkeypatch,
                                                                 tmp_path):
    """A run conf naming any path is refused at the door, naming the param; a code list put in
    $SPM_HOME/inbox/wilayah is loaded by its name."""
    import shutil

    from spm.orchestration.wilayah import wilayah_inbox
    from spm.reference import KODE_WILAYAH_CSV

    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    engine = get_engine(warehouse_url)
    upgrade(engine)
    secret = tmp_path / "pseudonym.secret"
    secret.write_text("0123456789abcdef0123456789abcdef\n")
    dag = dag_of("spm_muat_wilayah")
    with pytest.raises(Exception, match="file") as info:
        dag.test(run_conf={"file": str(secret), "berlaku_mulai": "2026-01-01"})
    assert "0123456789abcdef" not in str(info.value)
    folder = wilayah_inbox()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(KODE_WILAYAH_CSV, folder / "kepmendagri-2025.csv")
    run = dag.test(run_conf={"file": "kepmendagri-2025.csv", "berlaku_mulai": "2025-04-25", "sumber": "uji"})
    assert run.state == "success"
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(dim_wilayah)
                         .where(dim_wilayah.c.berlaku_sampai.is_(None), dim_wilayah.c.sumber == "uji")).scalar_one()
    assert n == 91_599
    engine.dispose()
