"""mart_indeks_spm on hand-made capaian and OPD inputs; every figure worked out by hand below.

Members: the catalog reduced to three jenis layanan per bidang. Weights 0.8 / 0.2 and the label
scale of config/indeks_spm.yaml.
"""

import pytest
import sqlalchemy as sa

from spm.errors import ConfigError
from spm.indicators import indeks
from spm.indicators.indeks import compute_indeks, label_for, load_config, mutu_per_layanan
from spm.warehouse.audit import start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.layanan import sync_dim_layanan
from spm.warehouse.tables import dim_layanan
from spm.warehouse.tables_marts import mart_capaian_spm
from spm.warehouse.tables_opd import fact_input_mutu, mart_indeks_spm

KAB = "32.71"
PENDIDIKAN = ("pend_paud", "pend_dasar", "pend_kesetaraan")
KESEHATAN = ("kes_ibu_hamil", "kes_bbl", "kes_balita")


def _capaian(conn, triwulan, figures):
    """figures: kode_layanan -> (raw capaian, capped); kab/kota `semua` rows, plus decoys that must be ignored."""
    batch = start_batch(conn, "spm", "mart_capaian_spm", KAB, f"2026-T{triwulan}", "t")
    rows = []
    for kode, (raw, capped) in figures.items():
        rows.append((KAB, "kabupaten_kota", "semua", kode, raw, capped))
        rows.append((KAB, "kabupaten_kota", "L", kode, 1.0, 1.0))  # a sex row: not the index's
        rows.append(("32.71.01", "kecamatan", "semua", kode, 2.0, 2.0))  # a kecamatan row: neither
    insert_rows(conn, mart_capaian_spm, (
        "tahun", "triwulan", "kode_wilayah", "tingkat_wilayah", "jenis_kelamin", "kode_layanan", "kode_kab_kota",
        "sasaran", "terlayani", "belum_terlayani", "capaian", "capaian_dibatasi", "semester_penduduk", "batch_ids",
        "batch_id"),
        [(2026, triwulan, w, t, jk, k, KAB, 100.0, 50, 50.0, raw, capped, "2025-2", "1", batch)
         for w, t, jk, k, raw, capped in rows])
    return batch


def _mutu(conn, triwulan, bidang, items):
    """items: (kode_layanan, uraian, dibutuhkan, tersedia)."""
    batch = start_batch(conn, "opd", bidang, KAB, f"2026-T{triwulan}", "t")
    insert_rows(conn, fact_input_mutu, (
        "tahun", "triwulan", "kode_kab_kota", "kode_layanan", "komponen", "uraian", "bidang", "satuan",
        "jumlah_dibutuhkan", "jumlah_tersedia", "baris", "batch_id"),
        [(2026, triwulan, KAB, k, "barang_jasa", u, bidang, "buah", need, have, i + 2, batch)
         for i, (k, u, need, have) in enumerate(items)])
    return batch


@pytest.fixture
def members(engine):
    sync_dim_layanan(engine)
    with engine.begin() as conn:
        conn.execute(sa.delete(dim_layanan).where(dim_layanan.c.kode_layanan.not_in(PENDIDIKAN + KESEHATAN)))
    return engine


@pytest.fixture
def complete(members):
    """2026 T3: capaian and both OPD inputs for every member."""
    with members.begin() as conn:
        batches = {_capaian(conn, 3, {
            "pend_paud": (125.0, 100.0),  # above 100: the index takes the capped 100
            "pend_dasar": (90.0, 90.0), "pend_kesetaraan": (80.0, 80.0),
            "kes_ibu_hamil": (70.0, 70.0), "kes_bbl": (60.0, 60.0), "kes_balita": (55.0, 55.0)})}
        batches.add(_mutu(conn, 3, "pendidikan", [
            ("pend_paud", "APE", 10, 12), ("pend_paud", "Pedoman", 5, 5),        # min(12,10)+5 = 15 of 15 -> 100
            ("pend_dasar", "Buku", 80, 100), ("pend_dasar", "Guru", 20, 10),     # 80+10 = 90 of 100 -> 90
            ("pend_kesetaraan", "Modul", 10, 8)]))                               # 8 of 10 -> 80
        batches.add(_mutu(conn, 3, "kesehatan", [
            ("kes_ibu_hamil", "Buku KIA", 10, 7),                                # 70
            ("kes_bbl", "Vitamin K1", 5, 3),                                     # 60
            ("kes_balita", "Timbangan", 4, 3)]))                                 # 75
    return members, batches


def _rows(engine, triwulan=3):
    x = mart_indeks_spm.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(mart_indeks_spm).where(x.tahun == 2026, x.triwulan == triwulan)).all()
    return {(r.bidang, r.kode_layanan): r for r in rows}


def test_mutu_caps_each_item_at_what_is_needed(complete):
    engine, _ = complete
    got = mutu_per_layanan(engine, KAB, 2026, 3)
    # pend_dasar: 100 books for 80 needed count as 80, so the 10 missing teachers still show: 90, not 100
    assert got == {"pend_paud": 100.0, "pend_dasar": 90.0, "pend_kesetaraan": 80.0,
                   "kes_ibu_hamil": 70.0, "kes_bbl": 60.0, "kes_balita": 75.0}


def test_index_by_hand_with_label_edges(complete):
    engine, batches = complete
    result = compute_indeks(engine, KAB, 2026, 3, "run-1")
    assert result["status"] == "published" and result["tanpa_nilai"] == []
    rows = _rows(engine)
    assert len(rows) == 6 + 2 + 1

    def fig(key):
        r = rows[key]
        return r.capaian_penerima, r.mutu, r.nilai, r.label

    # nilai = 0.8 × capaian_penerima + 0.2 × mutu; each lands exactly on a label edge
    assert fig(("pendidikan", "pend_paud")) == (100.0, 100.0, pytest.approx(100.0), "Tuntas Paripurna")
    assert fig(("pendidikan", "pend_dasar")) == (90.0, 90.0, pytest.approx(90.0), "Tuntas Utama")
    assert fig(("pendidikan", "pend_kesetaraan")) == (80.0, 80.0, pytest.approx(80.0), "Tuntas Madya")
    assert fig(("kesehatan", "kes_ibu_hamil")) == (70.0, 70.0, pytest.approx(70.0), "Tuntas Pratama")
    assert fig(("kesehatan", "kes_bbl")) == (60.0, 60.0, pytest.approx(60.0), "Tuntas Muda")
    assert fig(("kesehatan", "kes_balita")) == (55.0, 75.0, pytest.approx(44.0 + 15.0), "Belum Tuntas")  # 59
    # bidang: means over their three jenis layanan
    assert fig(("pendidikan", None)) == (pytest.approx(90.0), pytest.approx(90.0), pytest.approx(90.0), "Tuntas Utama")
    assert fig(("kesehatan", None)) == (pytest.approx(185 / 3), pytest.approx(205 / 3), pytest.approx(63.0),
                                        "Tuntas Muda")
    # daerah: mean over all six jenis layanan: (100 + 90 + 80 + 70 + 60 + 59) / 6 = 76.5
    assert fig(("semua", None)) == (pytest.approx(455 / 6), pytest.approx(475 / 6), pytest.approx(76.5),
                                    "Tuntas Pratama")
    assert result["nilai_daerah"] == pytest.approx(76.5) and result["label_daerah"] == "Tuntas Pratama"
    assert all(r.keterangan is None for r in rows.values())
    assert {r.tingkat_indeks for r in rows.values()} == {"layanan", "bidang", "daerah"}
    assert rows[("semua", None)].kode_wilayah == KAB and rows[("semua", None)].tingkat_indeks == "daerah"
    # lineage: the capaian computation and both OPD workbooks
    assert {int(b) for b in rows[("semua", None)].batch_ids.split(",")} == batches
    # report order: layanan in catalog order, then bidang, then daerah
    order = [k for k, _ in sorted(rows.items(), key=lambda kv: kv[1].urutan)]
    assert order[:3] == [("pendidikan", k) for k in PENDIDIKAN] and order[-1] == ("semua", None)


def test_missing_inputs_stay_null_with_the_reason(members):
    """2026 T2: no kesehatan workbook; kes_bbl has sasaran 0; kes_balita was not computed;
    pend_dasar needs nothing; pend_kesetaraan has no item in the pendidikan workbook."""
    with members.begin() as conn:
        _capaian(conn, 2, {"pend_paud": (100.0, 100.0), "pend_dasar": (50.0, 50.0), "pend_kesetaraan": (40.0, 40.0),
                           "kes_ibu_hamil": (30.0, 30.0), "kes_bbl": (None, None)})
        _mutu(conn, 2, "pendidikan", [("pend_paud", "APE", 10, 5), ("pend_dasar", "Pedoman", 0, 1)])
    result = compute_indeks(members, KAB, 2026, 2, "run-1")
    rows = _rows(members, 2)
    paud = rows[("pendidikan", "pend_paud")]
    assert (paud.capaian_penerima, paud.mutu, paud.nilai, paud.label) == (100.0, 50.0, pytest.approx(90.0),
                                                                          "Tuntas Utama")
    dasar = rows[("pendidikan", "pend_dasar")]
    assert (dasar.capaian_penerima, dasar.mutu, dasar.nilai, dasar.label) == (50.0, None, None, None)
    assert dasar.keterangan == "jumlah_dibutuhkan semua item mutu jenis layanan ini 0"
    setara = rows[("pendidikan", "pend_kesetaraan")]
    assert (setara.mutu, setara.nilai) == (None, None)
    assert setara.keterangan == "input OPD triwulan ini tidak memuat item mutu jenis layanan ini"
    hamil = rows[("kesehatan", "kes_ibu_hamil")]
    assert (hamil.capaian_penerima, hamil.mutu, hamil.nilai, hamil.label) == (30.0, None, None, None)
    assert hamil.keterangan == "belum ada input OPD (mutu) bidang kesehatan untuk 32.71 2026-T2"
    bbl = rows[("kesehatan", "kes_bbl")]
    assert (bbl.capaian_penerima, bbl.mutu, bbl.nilai) == (None, None, None)
    assert bbl.keterangan == ("capaian penerima tidak terdefinisi: sasaran 0; "
                              "belum ada input OPD (mutu) bidang kesehatan untuk 32.71 2026-T2")
    balita = rows[("kesehatan", "kes_balita")]
    assert (balita.capaian_penerima, balita.nilai) == (None, None)
    assert balita.keterangan.startswith("capaian penerima belum dihitung untuk 32.71 2026-T2 (data sumbernya belum masuk)")
    # bidang pendidikan: every capaian known -> its mean; mutu and nilai lack two members -> NULL, named
    pend = rows[("pendidikan", None)]
    assert pend.capaian_penerima == pytest.approx(190 / 3) and (pend.mutu, pend.nilai, pend.label) == (None, None, None)
    assert pend.keterangan.startswith("mutu kosong: tidak ada nilai untuk pend_dasar, pend_kesetaraan; "
                                      "nilai kosong: tidak ada nilai untuk pend_dasar, pend_kesetaraan")
    kes = rows[("kesehatan", None)]
    assert (kes.capaian_penerima, kes.mutu, kes.nilai) == (None, None, None)
    assert kes.keterangan.startswith("capaian_penerima kosong: tidak ada nilai untuk kes_bbl, kes_balita; "
                                     "mutu kosong: tidak ada nilai untuk kes_ibu_hamil, kes_bbl, kes_balita")
    daerah = rows[("semua", None)]
    assert (daerah.nilai, daerah.label) == (None, None)
    assert ("nilai kosong: tidak ada nilai untuk pend_dasar, pend_kesetaraan, kes_ibu_hamil, kes_bbl, kes_balita"
            in daerah.keterangan)
    assert result["tanpa_nilai"] == ["pend_dasar", "pend_kesetaraan", "kes_ibu_hamil", "kes_bbl", "kes_balita"]
    assert result["nilai_daerah"] is None


def test_rerun_replaces_the_quarter_and_leaves_others(complete):
    engine, _ = complete
    compute_indeks(engine, KAB, 2026, 3, "run-1")
    compute_indeks(engine, KAB, 2026, 2, "run-1")  # nothing for T2: all NULL, with reasons
    first = {k: (r.nilai, r.label) for k, r in _rows(engine).items()}
    again = compute_indeks(engine, KAB, 2026, 3, "run-2")
    rows = _rows(engine)
    assert {k: (r.nilai, r.label) for k, r in rows.items()} == first
    assert {r.batch_id for r in rows.values()} == {again["batch_id"]}
    t2 = _rows(engine, 2)
    assert len(t2) == 9 and all(r.nilai is None and r.keterangan for r in t2.values())


def test_daerah_as_mean_of_bidang_by_configuration(complete, monkeypatch):
    engine, _ = complete
    with engine.begin() as conn:
        conn.execute(sa.delete(dim_layanan).where(dim_layanan.c.kode_layanan == "kes_balita"))
    real = indeks.load_yaml

    def config(name):
        data = real(name)
        return {**data, "agregasi": {"bidang": "rata_rata_layanan", "daerah": "rata_rata_bidang"}}

    monkeypatch.setattr(indeks, "load_yaml", config)
    compute_indeks(engine, KAB, 2026, 3, "run-1")
    rows = _rows(engine)
    # kesehatan now (70 + 60) / 2 = 65; daerah = (90 + 65) / 2 = 77.5 (the mean over 5 layanan would be 80)
    assert rows[("kesehatan", None)].nilai == pytest.approx(65.0)
    assert rows[("semua", None)].nilai == pytest.approx(77.5) and rows[("semua", None)].label == "Tuntas Pratama"


def test_label_edges_and_config_checks(monkeypatch):
    cfg = load_config()
    assert (cfg.bobot_penerima, cfg.bobot_mutu) == (0.8, 0.2)
    cases = {100.0: "Tuntas Paripurna", 99.99: "Tuntas Utama", 90.0: "Tuntas Utama", 89.99: "Tuntas Madya",
             80.0: "Tuntas Madya", 79.99: "Tuntas Pratama", 70.0: "Tuntas Pratama", 69.99: "Tuntas Muda",
             60.0: "Tuntas Muda", 59.99: "Belum Tuntas", 0.0: "Belum Tuntas", None: None}
    assert {v: label_for(v, cfg) for v in cases} == cases
    assert label_for(0.8 * 70 + 0.2 * 70, cfg) == "Tuntas Pratama"  # float noise does not cross an edge
    real = indeks.load_yaml
    for broken in ({"bobot": {"capaian_penerima": 0.8, "mutu": 0.3}},
                   {"agregasi": {"bidang": "rata_rata_layanan", "daerah": "median"}},
                   {"label": [{"label": "A", "minimal": 60}, {"label": "B", "minimal": 90},
                              {"label": "C", "minimal": 0}]}):
        monkeypatch.setattr(indeks, "load_yaml", lambda name, broken=broken: {**real(name), **broken})
        with pytest.raises(ConfigError, match="indeks_spm.yaml"):
            load_config()
