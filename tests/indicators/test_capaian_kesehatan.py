"""Health figures on hand-made FHIR facts, every figure worked out by hand (2026, quarter 3)."""

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from spm.indicators.capaian import compute_capaian
from spm.warehouse.audit import start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.layanan import sync_dim_layanan
from spm.warehouse.tables import fact_kelahiran, fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien, fact_penduduk
from spm.warehouse.tables_marts import mart_capaian_spm, mart_terlayani_bulanan

A = "32.71.01.1001"
ICD, LOINC = "http://hl7.org/fhir/sid/icd-10", "http://loinc.org"

PATIENTS = {  # id: (sex, birth date)
    "w6": ("P", date(1995, 3, 1)), "w5": ("P", date(1996, 3, 1)), "w6late": ("P", date(1997, 3, 1)),
    "m6": ("L", date(1990, 1, 1)), "wb": ("P", date(1994, 1, 1)),
    "bayi1": ("L", date(2026, 3, 1)), "bayi2": ("P", date(2026, 3, 1)), "bayi_lama": ("L", date(2025, 12, 30)),
    "anak7": ("L", date(2018, 12, 31)), "anak15": ("P", date(2010, 1, 1)), "anak6": ("L", date(2019, 1, 1)),
    "ht": ("L", date(1985, 6, 1)), "ht_sembuh": ("L", date(1985, 6, 1)), "ht_tanpa_tensi": ("P", date(1980, 1, 1)),
    "ht_kode_lain": ("P", date(1980, 1, 1)), "tb1": ("L", date(1970, 1, 1)), "tb2": ("P", date(1971, 1, 1)),
}


def _t(y, m, d):
    return datetime(y, m, d, 2, 0, tzinfo=timezone.utc)  # 09:00 WIB


def _encounters():
    out = []
    for pid, n, last in (("w6", 6, 6), ("w5", 5, 5), ("w6late", 6, 10), ("m6", 6, 6)):
        months = list(range(last - n + 1, last + 1))
        out += [(pid, _t(2026, m, 10), "Z34.0") for m in months]
    out += [("wb", _t(2026, 2, 1), "O80")]
    out += [("bayi1", _t(2026, 3, 1), "Z00.1"), ("bayi1", _t(2026, 3, 8), "Z00.1"), ("bayi1", _t(2026, 3, 29), "Z00.1")]
    out += [("bayi2", _t(2026, 3, 3), "Z00.1"), ("bayi2", _t(2026, 3, 9), "Z00.1"), ("bayi2", _t(2026, 3, 30), "Z00.1")]
    out += [("bayi_lama", _t(2026, 1, 1), "Z00.1"), ("bayi_lama", _t(2026, 1, 3), "Z00.1"),
            ("bayi_lama", _t(2026, 1, 10), "Z00.1")]
    out += [(pid, _t(2026, 4, 15), "Z00.2") for pid in ("anak7", "anak15", "anak6")]
    return out


def _facts(engine):
    with engine.begin() as conn:
        b = start_batch(conn, "test", "fakta", "32.71", "2026", "t")
        insert_rows(conn, fact_penduduk, ("tahun", "semester", "kode_desa", "jenis_kelamin", "umur", "kode_kab_kota",
                                          "jumlah", "batch_id"),
                    [(2025, 2, A, "L", 30, "32.71", 50, b), (2025, 2, A, "P", 30, "32.71", 50, b)])
        insert_rows(conn, fact_kelahiran, ("tahun", "bulan", "kode_desa", "jenis_kelamin", "kode_kab_kota", "jumlah",
                                           "batch_id"), [(2025, 5, A, "L", "32.71", 10, b), (2025, 6, A, "P", "32.71", 10, b)])
        updated = _t(2026, 11, 1)
        insert_rows(conn, fact_pasien, ("kode_kab_kota", "pasien_id", "person_key", "jenis_id", "nik_valid",
                                        "jenis_kelamin", "tanggal_lahir", "kode_desa", "last_updated", "batch_id"),
                    [("32.71", pid, f"key-{pid}", "nik", True, sex, born, A, updated, b)
                     for pid, (sex, born) in PATIENTS.items()])
        insert_rows(conn, fact_kunjungan, ("kode_kab_kota", "kunjungan_id", "pasien_id", "status", "kelas",
                                           "tanggal_mulai", "organisasi_id", "kode_alasan", "sistem_alasan",
                                           "last_updated", "batch_id"),
                    [("32.71", f"e{i}", pid, "finished", "AMB", when, "org", code, ICD, updated, b)
                     for i, (pid, when, code) in enumerate(_encounters())])
        obs = [("ht", _t(2026, 5, 1), "85354-9"), ("ht_sembuh", _t(2026, 5, 1), "85354-9"),
               ("ht_kode_lain", _t(2026, 5, 1), "85354-9"),
               ("tb1", _t(2026, 7, 1), "11545-1"), ("tb2", _t(2026, 8, 1), "38379-4")]
        insert_rows(conn, fact_observasi, ("kode_kab_kota", "observasi_id", "pasien_id", "status", "tanggal_efektif",
                                           "kode", "sistem_kode", "nilai", "satuan", "nilai_sistolik",
                                           "nilai_diastolik", "nilai_kode", "last_updated", "batch_id"),
                    [("32.71", f"o{i}", pid, "final", when, code, LOINC, None, None, 130.0, 85.0, None, updated, b)
                     for i, (pid, when, code) in enumerate(obs)])
        cond = [("ht", "active", "I10"), ("ht_sembuh", "resolved", "I10"), ("ht_tanpa_tensi", "active", "I11.9"),
                ("ht_kode_lain", "active", "J45")]  # its code was corrected from I10 in a newer version
        insert_rows(conn, fact_kondisi, ("kode_kab_kota", "kondisi_id", "pasien_id", "status_klinis",
                                         "tanggal_onset", "kode", "sistem_kode", "last_updated", "batch_id"),
                    [("32.71", f"c{i}", pid, st, _t(2020, 1, 1), code, ICD, updated, b)
                     for i, (pid, st, code) in enumerate(cond)])


@pytest.fixture
def result(engine):
    sync_dim_layanan(engine)
    _facts(engine)
    return engine, compute_capaian(engine, "32.71", 2026, 3, "run")


def _row(engine, kode_layanan, jk="semua", wilayah=A):
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        return conn.execute(sa.select(mart_capaian_spm).where(
            m.kode_layanan == kode_layanan, m.jenis_kelamin == jk, m.kode_wilayah == wilayah, m.triwulan == 3)).one()


def test_health_figures_by_hand(result):
    engine, res = result
    assert {"kes_ibu_hamil", "kes_bbl", "kes_hipertensi"} <= set(res["computed"])
    hamil = _row(engine, "kes_ibu_hamil")
    assert (hamil.sasaran, hamil.terlayani) == (pytest.approx(22.0), 1)  # w6 only: 5 visits, late 6th, a man
    assert _row(engine, "kes_ibu_bersalin").terlayani == 1
    assert _row(engine, "kes_bbl", "L").terlayani == 1  # visits on days 0, 7 and 28: every window edge
    assert _row(engine, "kes_bbl", "P").terlayani == 0  # days 2, 8, 29: nothing in 3-7
    assert _row(engine, "kes_usia_dikdas").terlayani == 2  # ages 7 and 15 on 31 Dec 2025; 6 is out
    assert _row(engine, "kes_hipertensi").terlayani == 1  # active I10 with a BP reading
    tb = _row(engine, "kes_terduga_tb")
    assert tb.terlayani == 2 and tb.sasaran == pytest.approx(0.66)
    assert tb.capaian == pytest.approx(2 / 0.66 * 100) and tb.capaian_dibatasi == 100.0
    with pytest.raises(sa.exc.NoResultFound):
        _row(engine, "kes_ibu_hamil", "P")  # no sex split for maternal services


def test_months_of_first_attainment_add_up(result):
    engine, _ = result
    m = mart_terlayani_bulanan.c
    with engine.connect() as conn:
        months = dict(conn.execute(sa.select(m.bulan, m.terlayani_baru).where(
            m.kode_layanan == "kes_ibu_hamil", m.kode_wilayah == "32.71", m.jenis_kelamin == "semua")).all())
    assert months == {6: 1, 10: 1}  # w6 met in June; w6late in October (after the quarter)
    assert sum(n for b, n in months.items() if b <= 9) == _row(result[0], "kes_ibu_hamil", wilayah="32.71").terlayani
    with engine.connect() as conn:
        bbl = dict(conn.execute(sa.select(m.jenis_kelamin, m.bulan).where(
            m.kode_layanan == "kes_bbl", m.kode_wilayah == A)).all())
    assert bbl == {"L": 3, "semua": 3}
