"""spm_hitung_capaian run for real with dag.test() on hand-made facts."""

import pytest
import sqlalchemy as sa

from spm.warehouse.layanan import sync_dim_layanan
from spm.warehouse.tables_marts import mart_capaian_spm
from tests.indicators.test_capaian_pendidikan import _facts
from tests.warehouses import with_wilayah

pytestmark = pytest.mark.airflow


def test_quarters_of_a_past_year_are_all_computed(dag_of, engine, airflow_db, warehouse_url, monkeypatch):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    sync_dim_layanan(engine)
    with engine.begin() as conn:
        _facts(conn)  # population 2025-2 and Dapodik 20261: quarters 3 and 4 of 2026
    run = dag_of("spm_hitung_capaian").test(run_conf={"kode_wilayah": ["32.71"], "tahun": 2026, "triwulan": 3})
    assert run.state == "success"
    with engine.connect() as conn:
        got = conn.execute(sa.select(mart_capaian_spm.c.sasaran, mart_capaian_spm.c.terlayani).where(
            mart_capaian_spm.c.kode_wilayah == "32.71", mart_capaian_spm.c.jenis_kelamin == "semua",
            mart_capaian_spm.c.kode_layanan == "pend_paud", mart_capaian_spm.c.triwulan == 3)).one()
    assert tuple(got) == (24, 7)


def test_kab_kota_without_population_is_a_skip_with_its_reason_recorded(dag_of, engine, airflow_db, warehouse_url,
                                                                       monkeypatch):
    """No denominator: no capaian, that kab/kota's tasks skipped (not a red run), the batch `missing` for
    the alert scan; another kab/kota of the same run still gets its capaian and its index."""
    from spm.warehouse.tables import etl_batch
    from spm.warehouse.tables_opd import mart_indeks_spm

    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    with_wilayah(engine)
    sync_dim_layanan(engine)
    with engine.begin() as conn:
        _facts(conn)  # 32.71 only; 32.72 has no population
    run = dag_of("spm_hitung_capaian").test(run_conf={"kode_wilayah": ["32.71", "32.72"], "tahun": 2026, "triwulan": 3})
    assert run.state == "success"
    with engine.connect() as conn:
        by_kode = dict(conn.execute(sa.select(etl_batch.c.kode_wilayah, etl_batch.c.status).where(
            etl_batch.c.entity == "mart_capaian_spm")).all())
        message = conn.execute(sa.select(etl_batch.c.message).where(
            etl_batch.c.entity == "mart_capaian_spm", etl_batch.c.status == "missing")).scalar_one()
        indexed = set(conn.execute(sa.select(mart_indeks_spm.c.kode_wilayah).distinct()).scalars())
    states = {(t.task_id, t.map_index): t.state for t in run.get_task_instances()}
    skipped = {k for k, v in states.items() if v == "skipped"}
    done = {k for k, v in states.items() if v == "success" and k[0].startswith("kab_kota.")}
    assert {task for task, _ in skipped} == {"kab_kota.compute_capaian", "kab_kota.compute_indeks"}
    assert {task for task, _ in done} == {"kab_kota.compute_capaian", "kab_kota.compute_indeks"}
    assert len({i for _, i in skipped}) == 1 and len({i for _, i in done}) == 1
    assert by_kode == {"32.71": "published", "32.72": "missing", "32": "published"}, by_kode
    assert "no population of 32.72" in message
    assert indexed == {"32.71", "32"}  # the province's row covers Kota Bogor only, and says so
    with engine.connect() as conn:
        covers = set(conn.execute(sa.select(mart_capaian_spm.c.kab_kota_dimuat, mart_capaian_spm.c.kab_kota_total)
                                  .where(mart_capaian_spm.c.kode_wilayah == "32")).all())
    assert covers == {(1, 27)}


def test_index_follows_the_capaian(dag_of, engine, airflow_db, warehouse_url, monkeypatch):
    from spm.warehouse.tables_opd import mart_indeks_spm

    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    sync_dim_layanan(engine)
    with engine.begin() as conn:
        _facts(conn)
    run = dag_of("spm_hitung_capaian").test(run_conf={"kode_wilayah": ["32.71"], "tahun": 2026, "triwulan": 3})
    assert run.state == "success"
    with engine.connect() as conn:
        paud = conn.execute(sa.select(mart_indeks_spm).where(
            mart_indeks_spm.c.kode_layanan == "pend_paud", mart_indeks_spm.c.triwulan == 3)).one()
    assert paud.capaian_penerima == pytest.approx(700 / 24)
    assert paud.mutu is None and paud.nilai is None and paud.keterangan  # no OPD input: missing, not 0


def test_two_kab_kota_of_a_province_get_the_provinsi_rows(dag_of, engine, airflow_db, warehouse_url, monkeypatch):
    """Configured as the province's kab/kota: both computed, then the province's rows: distinct persons
    over both (hand-worked in test_capaian_provinsi), equal to what the plain function computes."""
    from spm.indicators.provinsi import compute_capaian_provinsi
    from spm.warehouse.tables_opd import mart_indeks_spm
    from tests.indicators import test_capaian_provinsi as provinsi

    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    with_wilayah(engine)
    sync_dim_layanan(engine)
    provinsi._facts(engine)
    run = dag_of("spm_hitung_capaian").test(run_conf={"kode_wilayah": ["32.71", "32.72"], "tahun": 2026, "triwulan": 3})
    assert run.state == "success"
    states = {t.task_id: t.state for t in run.get_task_instances()}
    assert states["compute_provinsi"] == "success"
    got = provinsi._rows(engine, "32")
    assert (got["pend_paud", "semua"].terlayani, got["kes_usia_dikdas", "semua"].terlayani) == (4, 3)
    with engine.connect() as conn:
        indexed = set(conn.execute(sa.select(mart_indeks_spm.c.kode_wilayah).distinct()).scalars())
    assert indexed == {"32.71", "32.72", "32"}
    figures = {k: (r.sasaran, r.terlayani, r.kab_kota_dimuat) for k, r in got.items()}
    compute_capaian_provinsi(engine, "32", 2026, 3, "again")
    assert {k: (r.sasaran, r.terlayani, r.kab_kota_dimuat) for k, r in provinsi._rows(engine, "32").items()} == figures


def test_one_kab_kota_deployment_computes_no_provinsi_row(dag_of, engine, airflow_db, warehouse_url, monkeypatch):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    sync_dim_layanan(engine)
    with engine.begin() as conn:
        _facts(conn)
    run = dag_of("spm_hitung_capaian").test(run_conf={"kode_wilayah": ["32.71"], "tahun": 2026, "triwulan": 3})
    assert run.state == "success"
    states = {t.task_id: t.state for t in run.get_task_instances()}
    assert states["resolve_provinces"] == "skipped"
    with engine.connect() as conn:
        assert not conn.execute(sa.select(mart_capaian_spm).where(mart_capaian_spm.c.tingkat_wilayah == "provinsi")).all()
