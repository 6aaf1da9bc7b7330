"""spm_ingest_input_opd run for real (dag.test) on workbooks dropped by the simulator."""

from datetime import date

import pytest
import sqlalchemy as sa

from spm.indicators.indeks import mutu_per_layanan
from spm.simulator import SimulatorConfig, World, write_opd_files
from spm.simulator.opd_workbook import expected_anggaran, expected_mutu
from spm.sources.opd_layout import BIDANG
from spm.warehouse.db import get_engine, upgrade
from spm.warehouse.tables import dim_wilayah, etl_batch
from spm.warehouse.tables_opd import fact_input_anggaran

pytestmark = pytest.mark.airflow
KAB = "32.71"
TAHUN, TRIWULAN = 2025, 2


@pytest.fixture(scope="module")
def world():
    return World(SimulatorConfig(kode_wilayah=(KAB,), scale=0.002, seed=7))


@pytest.fixture
def setup(airflow_db, warehouse_url, monkeypatch, tmp_path):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("SPM_HOME", str(tmp_path))
    engine = get_engine(warehouse_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(dim_wilayah).values(kode=KAB, berlaku_mulai=date(2025, 1, 1), nama="Kota Bogor",
                                                   tingkat="kabupaten_kota", kode_induk="32"))
    yield engine, tmp_path / "inbox" / "opd"
    engine.dispose()


def _states(run):
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_simulated_workbooks_load_equal_to_the_simulator_then_rerun_changes_nothing(dag_of, setup, world):
    engine, inbox = setup
    write_opd_files(world, inbox, TAHUN, TRIWULAN)
    run = dag_of("spm_ingest_input_opd").test(run_conf={"kode_wilayah": [KAB]})
    assert run.state == "success", _states(run)
    assert _states(run)["announce_published"] == "success"
    area = world[KAB]
    got = mutu_per_layanan(engine, KAB, TAHUN, TRIWULAN)
    want = {k: v for b in BIDANG for k, v in expected_mutu(area, b, TAHUN, TRIWULAN).items()}
    assert set(got) == set(want) and len(got) == 15
    assert all(got[k] == pytest.approx(want[k]) for k in want)
    with engine.connect() as conn:
        budget = {r.kode_layanan: r for r in conn.execute(sa.select(fact_input_anggaran))}
    want_budget = {k: v for b in BIDANG for k, v in expected_anggaran(area, b, TAHUN, TRIWULAN).items()}
    assert {k: (r.alokasi, r.realisasi) for k, r in budget.items()} == {
        k: (pytest.approx(v["alokasi"]), pytest.approx(v["realisasi"])) for k, v in want_budget.items()}
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [
        "opd_kesehatan_3271_2025_TW2.xlsx", "opd_pendidikan_3271_2025_TW2.xlsx"]

    # The same workbooks dropped again: nothing changes, no Asset event.
    write_opd_files(world, inbox, TAHUN, TRIWULAN)
    rerun = dag_of("spm_ingest_input_opd").test(run_conf={"kode_wilayah": [KAB]})
    assert rerun.state == "success"
    assert _states(rerun)["announce_published"] == "skipped"
    with engine.connect() as conn:
        statuses = sorted(r.status for r in conn.execute(sa.select(etl_batch)))
    assert statuses == ["published", "published", "unchanged", "unchanged"]
    assert mutu_per_layanan(engine, KAB, TAHUN, TRIWULAN) == got


def test_a_broken_workbook_fails_the_run_and_the_good_ones_still_load(dag_of, setup, world):
    engine, inbox = setup
    write_opd_files(world, inbox, TAHUN, TRIWULAN, bidang=("kesehatan",), malformed="unknown_layanan")
    run = dag_of("spm_ingest_input_opd").test(run_conf={})
    assert run.state == "failed"
    states = _states(run)
    assert states["ingest_workbooks"] == "success" and states["announce_published"] == "success"
    assert states["check_rejected_workbooks"] == "failed"
    errors = (inbox / "rejected" / "opd_kesehatan_3271_2025_TW2_rusak.xlsx.errors.txt").read_text()
    assert "lembar anggaran, baris 2, kolom kode_layanan (A)" in errors
    assert len(mutu_per_layanan(engine, KAB, TAHUN, TRIWULAN)) == 12  # the good kesehatan workbook


def test_bad_workbooks_through_the_dag_each_rejected_by_name_and_the_good_data_stay(dag_of, setup, site_config):
    """The OPD classes of bad input (two-way numbers, formula without value, data outside the
    template, overlong text, an oversized file), after a good workbook of the same quarter."""
    from spm.sources.opd_layout import workbook_filename

    from tests.ingest.test_input_opd import ANGGARAN, MUTU, write_workbook

    engine, inbox = setup
    site_config({"kualitas.yaml": {"inbox": {"ukuran_maks_mb": 0.1}}})
    base = workbook_filename("pendidikan", KAB, 2026, 1).removesuffix(".xlsx")
    anggaran = [row[:] for row in ANGGARAN]
    anggaran[0][1] = "1.200.000"
    write_workbook(inbox / f"{base}.xlsx", anggaran=anggaran)

    def variant(suffix, mutu=MUTU, anggaran=ANGGARAN):
        return write_workbook(inbox / f"{base}_{suffix}.xlsx", mutu=mutu, anggaran=anggaran)

    ambigu = [row[:] for row in ANGGARAN]
    ambigu[1][1] = "5,000"
    variant("ambigu", anggaran=ambigu)
    rumus = [row[:] for row in ANGGARAN]
    rumus[1][2] = "=B3/12"
    variant("rumus", anggaran=rumus)
    luar = [row[:] for row in MUTU]
    luar[0] = luar[0] + ["catatan"]
    variant("luar", mutu=luar)
    panjang = [row[:] for row in MUTU]
    panjang[1][2] = "x" * 300
    variant("panjang", mutu=panjang)
    besar = variant("besar")
    besar.write_bytes(besar.read_bytes() + b"\0" * 200_000)

    run = dag_of("spm_ingest_input_opd").test(run_conf={})
    assert run.state == "failed" and _states(run)["check_rejected_workbooks"] == "failed"
    said = {"ambigu": "kolom alokasi (B): '5,000' ambigu", "rumus": "kolom realisasi_01 (C): rumus tanpa nilai",
            "luar": "kolom G: nilai di luar kolom template", "panjang": "kolom uraian (C): teks 300 karakter",
            "besar": "inbox.ukuran_maks_mb"}
    for suffix, reason in said.items():
        errors = (inbox / "rejected" / f"{base}_{suffix}.xlsx.errors.txt").read_text()
        assert reason in errors, (suffix, errors)
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [f"{base}.xlsx"]
    with engine.connect() as conn:
        alokasi = conn.execute(sa.select(fact_input_anggaran.c.alokasi).where(
            fact_input_anggaran.c.kode_layanan == "pend_paud")).scalar_one()
        statuses = conn.execute(sa.select(etl_batch.c.status)).scalars().all()
    assert alokasi == 1_200_000  # the good workbook, as the OPD typed it
    assert statuses.count("published") == 1 and "running" not in statuses
