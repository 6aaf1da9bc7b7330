import sqlalchemy as sa

from spm.warehouse.layanan import catalog_rows, sync_dim_layanan
from spm.warehouse.tables import dim_layanan

DESIGN_CODES = [
    "pend_paud", "pend_dasar", "pend_kesetaraan", "kes_ibu_hamil", "kes_ibu_bersalin", "kes_bbl",
    "kes_balita", "kes_usia_dikdas", "kes_usia_produktif", "kes_usia_lanjut", "kes_hipertensi", "kes_dm",
    "kes_odgj_berat", "kes_terduga_tb", "kes_risiko_hiv",
]
PROVINSI_CODES = ["pend_menengah", "pend_khusus", "kes_krisis_bencana", "kes_klb"]  # the province's own (Permendikbudristek 32/2022 Pasal 5; PP 2/2018 Pasal 6)


def test_catalog_has_the_15_kab_kota_services_of_design_5_in_order():
    rows = [r for r in catalog_rows() if r["tingkat_pemerintahan"] == "kabupaten_kota"]
    assert [r["kode_layanan"] for r in rows] == DESIGN_CODES
    assert {r["bidang"] for r in rows[:3]} == {"pendidikan"}
    assert {r["bidang"] for r in rows[3:]} == {"kesehatan"}
    # Maternal services have no meaningful sex split.
    assert [r["kode_layanan"] for r in rows if not r["pembagian_jenis_kelamin"]] == ["kes_ibu_hamil", "kes_ibu_bersalin"]


def test_sync_is_idempotent_and_follows_the_config(engine):
    assert sync_dim_layanan(engine) == 19
    with engine.begin() as conn:
        conn.execute(sa.insert(dim_layanan).values(
            kode_layanan="lama", bidang="x", nama="x", uraian="x", satuan="x", sasaran_uraian="x",
            dasar_hukum="x", tingkat_pemerintahan="x", pembagian_jenis_kelamin=False, urutan=99))
        conn.execute(sa.update(dim_layanan).where(dim_layanan.c.kode_layanan == "kes_dm").values(nama="salah"))
    assert sync_dim_layanan(engine) == 19
    with engine.connect() as conn:
        rows = {r.kode_layanan: r for r in conn.execute(sa.select(dim_layanan))}
    assert sorted(rows) == sorted(DESIGN_CODES + PROVINSI_CODES)
    assert {rows[k].tingkat_pemerintahan for k in PROVINSI_CODES} == {"provinsi"}
    assert rows["kes_dm"].nama == "Pelayanan kesehatan penderita diabetes melitus"
    assert rows["pend_paud"].urutan == 1 and rows["kes_risiko_hiv"].urutan == 15


def test_the_provinces_own_services_are_not_the_kab_kota_catalog():
    from spm.config.katalog_layanan import load_catalog

    assert [lay.kode for lay in load_catalog()] == DESIGN_CODES
    assert [lay.kode for lay in load_catalog("provinsi")] == PROVINSI_CODES
    assert [lay.kode for lay in load_catalog(None)] == DESIGN_CODES + PROVINSI_CODES


def test_every_kab_kota_service_has_its_planning_code_and_a_bad_one_is_named(monkeypatch):
    """katalog `kode_nomenklatur`: the sub-kegiatan/kegiatan each service is budgeted under, printed in
    the workbook; a malformed code is a configuration error naming the service."""
    import pytest

    import spm.config.katalog_layanan as katalog
    from spm.errors import ConfigError

    codes = {lay.kode: lay.kode_nomenklatur for lay in katalog.load_catalog(None)}
    assert codes["kes_ibu_hamil"] == "1.02.02.2.02.0001" and codes["kes_risiko_hiv"] == "1.02.02.2.02.0012"
    assert codes["pend_dasar"] == "1.01.02.2.01; 1.01.02.2.02"  # SD and SMP
    assert all(codes[k] for k in DESIGN_CODES)
    assert codes["kes_klb"] is None  # no public code found: printed without one
    real = katalog.load_yaml

    def broken(name):
        data = real(name)
        data["layanan"][0]["kode_nomenklatur"] = "1.01.2.3"
        return data

    monkeypatch.setattr(katalog, "load_yaml", broken)
    with pytest.raises(ConfigError, match="pend_paud: kode_nomenklatur '1.01.2.3'"):
        katalog.load_catalog()
