"""The full pipeline against the simulator: ingest from its servers, compute the marts, and every
education figure equals the simulator's own reference computation (spm.simulator.expected)."""

import pytest
import sqlalchemy as sa

from spm.indicators.capaian import compute_capaian
from spm.ingest import kependudukan, pendidikan
from spm.simulator.config import SimulatorConfig
from spm.simulator.expected import expected_capaian, expected_terlayani_bulanan, roll_up
from spm.simulator.servers import SimulatorServers
from spm.sources.connections import SourceConnection
from spm.sources.dapodik import DapodikClient
from spm.sources.dukcapil import DukcapilClient
from spm.warehouse.layanan import sync_dim_layanan
from spm.warehouse.tables_marts import mart_capaian_spm
from tests.warehouses import with_wilayah

pytestmark = pytest.mark.slow  # builds and checks whole simulated warehouses

KODE = "32.71"
EDUCATION = ("pend_paud", "pend_dasar", "pend_kesetaraan")


@pytest.fixture(scope="module")
def sim():
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.004, seed=11)) as servers:
        yield servers


def _load(engine, sim, tahun_semester, semester_id):
    dukcapil = DukcapilClient(SourceConnection("spm_dukcapil", sim.dukcapil_url, password=sim.credentials["dukcapil_api_key"]))
    for part in kependudukan.partitions([KODE], *tahun_semester):
        staged = kependudukan.extract_api(engine, part, "t", dukcapil)
        kependudukan.publish_partition(engine, kependudukan.validate_partition(engine, staged))
    dapodik = DapodikClient(SourceConnection("spm_dapodik", sim.dapodik_url, password=sim.credentials["dapodik_token"]))
    part = pendidikan.partitions([KODE], semester_id // 10, semester_id % 10)[0]
    pendidikan.ingest(engine, part, "t", dapodik)


@pytest.mark.parametrize("triwulan,semester_id", [(2, 20252), (3, 20261)])
def test_education_marts_equal_the_simulators_expected_figures(engine, sim, triwulan, semester_id):
    with_wilayah(engine)
    sync_dim_layanan(engine)
    _load(engine, sim, (2025, 2), semester_id)
    result = compute_capaian(engine, KODE, 2026, triwulan, "t")
    assert set(EDUCATION) <= set(result["computed"])

    want = expected_capaian(sim.world[KODE], 2026, triwulan)
    want = want[want.kode_layanan.isin(EDUCATION)]
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        got = {(r.kode_wilayah, r.jenis_kelamin, r.kode_layanan): (r.sasaran, r.terlayani) for r in conn.execute(
            sa.select(m.kode_wilayah, m.jenis_kelamin, m.kode_layanan, m.sasaran, m.terlayani).where(
                m.tahun == 2026, m.triwulan == triwulan, m.kode_layanan.in_(EDUCATION)))}
    checked = 0
    for level in (want, roll_up(want, "kecamatan"), roll_up(want, "kabupaten_kota")):
        for r in level.itertuples():
            key = (r.kode_wilayah, r.jenis_kelamin, r.kode_layanan)
            if r.sasaran == 0 and r.terlayani == 0 and key not in got:
                continue  # nobody of that age lives there: no row, as DESIGN §7 allows
            assert got[key] == (pytest.approx(r.sasaran), r.terlayani), key
            checked += 1
    assert checked > 100


def _population_and_fhir_client(engine, servers, kode):
    """Publish population semester 2025-2 of `kode` from the simulator; a client of its FHIR hub."""
    from spm.sources.satusehat import SatusehatClient

    dukcapil = DukcapilClient(SourceConnection("spm_dukcapil", servers.dukcapil_url,
                                               password=servers.credentials["dukcapil_api_key"]))
    for part in kependudukan.partitions([kode], 2025, 2):
        kependudukan.publish_partition(engine, kependudukan.validate_partition(
            engine, kependudukan.extract_api(engine, part, "t", dukcapil)))
    return SatusehatClient(SourceConnection("spm_satusehat", servers.satusehat_url,
                                            login=servers.credentials["satusehat_client_id"],
                                            password=servers.credentials["satusehat_client_secret"]))


HEALTH = ("kes_ibu_hamil", "kes_ibu_bersalin", "kes_bbl", "kes_balita", "kes_usia_dikdas", "kes_usia_produktif",
          "kes_usia_lanjut", "kes_hipertensi", "kes_dm", "kes_odgj_berat", "kes_terduga_tb", "kes_risiko_hiv")


def test_health_marts_equal_the_simulators_expected_figures(engine, sim):
    from spm.ingest import kesehatan
    from spm.warehouse.tables_marts import mart_terlayani_bulanan

    with_wilayah(engine)
    sync_dim_layanan(engine)
    fhir = _population_and_fhir_client(engine, sim, KODE)
    # One window over every record, so every reference resolves within it.
    [window] = kesehatan.windows([KODE], "2023-01-01T00:00:00Z", "2027-07-01T00:00:00Z", {KODE: "spm_satusehat"})
    kesehatan.ingest(engine, window, "t", fhir)
    result = compute_capaian(engine, KODE, 2026, 3, "t")
    assert set(HEALTH) <= set(result["computed"]), result["skipped"]

    want = expected_capaian(sim.world[KODE], 2026, 3)
    want = want[want.kode_layanan.isin(HEALTH)]
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        got = {(r.kode_wilayah, r.jenis_kelamin, r.kode_layanan): (r.sasaran, r.terlayani) for r in conn.execute(
            sa.select(m.kode_wilayah, m.jenis_kelamin, m.kode_layanan, m.sasaran, m.terlayani).where(
                m.tahun == 2026, m.triwulan == 3, m.kode_layanan.in_(HEALTH)))}
    checked = served = 0
    for level in (want, roll_up(want, "kecamatan"), roll_up(want, "kabupaten_kota")):
        for r in level.itertuples():
            key = (r.kode_wilayah, r.jenis_kelamin, r.kode_layanan)
            if r.sasaran == 0 and r.terlayani == 0 and key not in got:
                continue
            assert got[key] == (pytest.approx(r.sasaran), r.terlayani), key
            checked += 1
            served += r.terlayani
    assert checked > 100 and served > 0

    months = expected_terlayani_bulanan(sim.world[KODE], 2026)
    b = mart_terlayani_bulanan.c
    with engine.connect() as conn:
        got_months = {(r.bulan, r.kode_wilayah, r.jenis_kelamin, r.kode_layanan): r.terlayani_baru
                      for r in conn.execute(sa.select(b.bulan, b.kode_wilayah, b.jenis_kelamin, b.kode_layanan,
                                                      b.terlayani_baru).where(b.tahun == 2026,
                                                                              b.tingkat_wilayah == "desa_kelurahan"))}
    want_months = {(r.bulan, r.kode_wilayah, r.jenis_kelamin, r.kode_layanan): r.terlayani_baru
                   for r in months.itertuples()}
    # The simulator lists L and P for services with a sex split; the mart adds their sum as semua.
    no_split = ("kes_ibu_hamil", "kes_ibu_bersalin")
    assert {k: v for k, v in got_months.items() if k[2] != "semua" or k[3] in no_split} == want_months
    assert sum(v for k, v in got_months.items() if k[2] == "semua") == sum(
        v for k, v in want_months.items() if k[2] != "semua" or k[3] in no_split)


@pytest.fixture(scope="module")
def two_hubs():
    from dataclasses import replace

    config = SimulatorConfig(kode_wilayah=("32.71", "32.72"), scale=0.002, seed=5)
    hubs = [SimulatorServers(replace(config, satusehat_kode_wilayah=kode)) for kode in config.kode_wilayah]
    for hub in hubs:
        hub.start()
    try:
        yield hubs
    finally:
        for hub in hubs:
            hub.stop()


def test_two_hubs_loaded_newest_window_first_count_every_resident_where_they_live(engine, two_hubs):
    """Kota Bogor's and Kota Sukabumi's hubs in one warehouse, each loaded one year-window at a
    time from the newest back, so most encounters arrive before their patient: nothing is
    quarantined for it, nothing is rerun, and at the end every figure of both kab/kota equals the
    simulator's, with each hub's outsiders counted where they live and no reference left waiting."""
    from spm.ingest import kesehatan
    from spm.ingest.kesehatan_references import pending_summary

    with_wilayah(engine)
    sync_dim_layanan(engine)
    kodes = [hub.config.satusehat_kode_wilayah for hub in two_hubs]
    for hub, kode in zip(two_hubs, kodes):
        fhir = _population_and_fhir_client(engine, hub, kode)
        waited = 0
        for year in (2027, 2026, 2025, 2024, 2023):
            [window] = kesehatan.windows([kode], f"{year}-01-01T00:00:00Z", f"{year + 1}-01-01T00:00:00Z",
                                         {kode: "spm_satusehat"})
            out = kesehatan.ingest(engine, window, "t", fhir)
            assert not any(b["rows_quarantined"] for b in out["batches"].values()), out["batches"]  # clean data
            waited = max(waited, out["batches"]["kunjungan"]["rujukan_tertunda"]["tertunda"])
        assert waited > 0  # the newest windows did bring encounters before their patients
    with engine.connect() as conn:
        assert pending_summary(conn) == []

    worlds = {kode: two_hubs[0].world[kode] for kode in kodes}
    m = mart_capaian_spm.c
    visiting = 0
    for kode in kodes:
        result = compute_capaian(engine, kode, 2026, 4, "t")
        assert set(HEALTH) <= set(result["computed"]), result["skipped"]
        others = [w for k, w in worlds.items() if k != kode]
        want = expected_capaian(worlds[kode], 2026, 4, visitors=others)
        alone = expected_capaian(worlds[kode], 2026, 4)
        visiting += int(want.terlayani.sum() - alone.terlayani.sum())
        want = roll_up(want[want.kode_layanan.isin(HEALTH)], "kabupaten_kota")
        with engine.connect() as conn:
            got = {(r.jenis_kelamin, r.kode_layanan): r.terlayani for r in conn.execute(
                sa.select(m.jenis_kelamin, m.kode_layanan, m.terlayani).where(
                    m.tahun == 2026, m.triwulan == 4, m.kode_wilayah == kode, m.kode_layanan.in_(HEALTH)))}
        assert got == {(r.jenis_kelamin, r.kode_layanan): r.terlayani for r in want.itertuples()
                       if (r.jenis_kelamin, r.kode_layanan) in got or r.terlayani}, kode
    assert visiting > 0  # Sukabumi's outsiders live in Bogor: they add to Bogor's figures


PROVINSI_KAB_KOTA = ("32.71", "32.72")
PROVINSI_EDUCATION = EDUCATION + ("pend_menengah", "pend_khusus")


@pytest.fixture(scope="module")
def sim_provinsi():
    # Some learners of Kota Bogor moved to Kota Sukabumi and are listed by both (spm.simulator.movers).
    config = SimulatorConfig(kode_wilayah=PROVINSI_KAB_KOTA, scale=0.004, seed=11, pindah_share=0.05)
    with SimulatorServers(config) as servers:
        yield servers


@pytest.mark.airflow
def test_provinsi_rows_of_a_dag_run_equal_the_simulators(dag_of, engine, airflow_db, warehouse_url, monkeypatch,
                                                         sim_provinsi, tmp_path):
    """Two kab/kota of Jawa Barat ingested from the simulator, then spm_hitung_capaian run for real:
    the province's rows (education of the kab/kota SPM and the province's own) and every kab/kota row
    equal the simulator's reference computation, learners who moved between them counted in each
    kab/kota where its rows say they live and once in the province."""
    from spm.simulator.expected import PROVINSI_LAYANAN
    from spm.simulator.movers import movers_into
    from spm.simulator.expected_provinsi import expected_capaian_provinsi

    monkeypatch.setenv("SPM_WAREHOUSE_URL", warehouse_url)
    with_wilayah(engine)
    sync_dim_layanan(engine)
    dukcapil = DukcapilClient(SourceConnection("spm_dukcapil", sim_provinsi.dukcapil_url,
                                               password=sim_provinsi.credentials["dukcapil_api_key"]))
    dapodik = DapodikClient(SourceConnection("spm_dapodik", sim_provinsi.dapodik_url,
                                             password=sim_provinsi.credentials["dapodik_token"]))
    for part in kependudukan.partitions(list(PROVINSI_KAB_KOTA), 2025, 2):
        kependudukan.publish_partition(engine, kependudukan.validate_partition(
            engine, kependudukan.extract_api(engine, part, "t", dukcapil)))
    for part in pendidikan.partitions(list(PROVINSI_KAB_KOTA), 2026, 1):
        pendidikan.ingest(engine, part, "t", dapodik)
    # The OPD workbooks of both kab/kota and of the province's own Dinas (penerima of its health services).
    from spm.ingest.input_opd import ingest_inbox
    from spm.simulator.inbox import write_opd_files

    write_opd_files(sim_provinsi.world, tmp_path / "opd", 2026, 3)
    loaded = ingest_inbox(engine, tmp_path / "opd", "t", list(PROVINSI_KAB_KOTA))
    assert [r["status"] for r in loaded] == ["published"] * 6, [r.get("problems") for r in loaded]
    run = dag_of("spm_hitung_capaian").test(
        run_conf={"kode_wilayah": list(PROVINSI_KAB_KOTA), "tahun": 2026, "triwulan": 3})
    assert run.state == "success"

    worlds = [sim_provinsi.world[k] for k in PROVINSI_KAB_KOTA]
    want = expected_capaian_provinsi(worlds, 2026, 3)
    want = want[want.kode_layanan.isin(PROVINSI_EDUCATION)]
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        got = {(r.kode_wilayah, r.jenis_kelamin, r.kode_layanan): r for r in conn.execute(
            sa.select(mart_capaian_spm).where(m.tahun == 2026, m.triwulan == 3, m.kode_kab_kota == "32"))}
    for r in want.itertuples():
        row = got[("32", r.jenis_kelamin, r.kode_layanan)]
        assert (row.sasaran, row.terlayani) == (pytest.approx(r.sasaran), r.terlayani), (r.jenis_kelamin, r.kode_layanan)
        assert (row.kab_kota_dimuat, row.kab_kota_total) == (2, 27)
    assert set(want.kode_layanan) == set(PROVINSI_EDUCATION) and want.terlayani.sum() > 0
    # Every kab/kota row: the province's own layanan (its partition), the kab/kota SPM (theirs).
    with engine.connect() as conn:
        got.update({(r.kode_wilayah, r.jenis_kelamin, r.kode_layanan): r for r in conn.execute(
            sa.select(mart_capaian_spm).where(m.tahun == 2026, m.triwulan == 3, m.tingkat_wilayah == "kabupaten_kota"))})
    checked, kab_sum = 0, {}
    for world in worlds:
        others = [w for w in worlds if w is not world]
        kab = roll_up(expected_capaian(world, 2026, 3, visitors=others, layanan=EDUCATION + PROVINSI_LAYANAN),
                      "kabupaten_kota")
        for r in kab.itertuples():
            row = got[(r.kode_wilayah, r.jenis_kelamin, r.kode_layanan)]
            assert (row.sasaran, row.terlayani) == (pytest.approx(r.sasaran), r.terlayani), r
            kab_sum[r.jenis_kelamin, r.kode_layanan] = kab_sum.get((r.jenis_kelamin, r.kode_layanan), 0) + r.terlayani
            checked += 1
    assert checked == 2 * 5 * 3
    moved = movers_into(sim_provinsi.world["32.72"], sim_provinsi.world, 20261)
    assert moved is not None and len(moved) > 10
    # The movers are why the province is not the sum of its kab/kota.
    assert sum(kab_sum.values()) > sum(got[("32", sex, k)].terlayani for sex, k in kab_sum)
    # The province's own health services: what its Dinas entered, months included; its own index.
    from spm.simulator.opd_workbook import expected_mutu, expected_penerima
    from spm.warehouse.tables_marts import mart_terlayani_bulanan
    from spm.warehouse.tables_opd import mart_indeks_spm

    entered = expected_penerima(sim_provinsi.config.seed, "32", 2026, 3)
    tb, x = mart_terlayani_bulanan.c, mart_indeks_spm.c
    with engine.connect() as conn:
        months = {(r.kode_layanan, r.bulan): r.terlayani_baru for r in conn.execute(sa.select(tb.kode_layanan, tb.bulan,
                  tb.terlayani_baru).where(tb.kode_wilayah == "32", tb.tahun == 2026, tb.kode_layanan.in_(entered)))}
        indeks = {(r.tingkat_pemerintahan, r.tingkat_indeks, r.kode_layanan or r.bidang): r for r in conn.execute(
            sa.select(mart_indeks_spm).where(x.kode_kab_kota == "32", x.tahun == 2026, x.triwulan == 3))}
    for kode, want_opd in entered.items():
        row = got[("32", "semua", kode)]
        assert (row.sasaran, row.terlayani, row.kab_kota_dimuat) == (want_opd["sasaran"], want_opd["terlayani"], 27)
        assert {b: n for (k, b), n in months.items() if k == kode} == want_opd["bulan"]
    own_mutu = {**expected_mutu(worlds[0], "pendidikan", 2026, 3, provinsi=worlds),
                **expected_mutu(worlds[0], "kesehatan", 2026, 3, provinsi=worlds)}
    assert set(own_mutu) == {"pend_menengah", "pend_khusus", "kes_krisis_bencana", "kes_klb"}
    for kode, mutu in own_mutu.items():
        r = indeks[("provinsi", "layanan", kode)]
        assert r.mutu == pytest.approx(mutu)
        assert r.capaian_penerima == pytest.approx(got[("32", "semua", kode)].capaian_dibatasi)
    assert indeks[("provinsi", "daerah", "semua")].nilai is not None
    # The roll-up of the kab/kota SPM stays apart: its daerah is over the 15 kab/kota layanan only.
    assert ("kabupaten_kota", "daerah", "semua") in indeks
    assert not any(k[0] == "kabupaten_kota" and k[2] in own_mutu for k in indeks)
