"""Provinsi rows (DESIGN §7) on hand-made facts of two kab/kota of Jawa Barat (32), worked out by hand.

Reporting year 2026, quarter 3: population 2025-2, ages on 31 Dec 2025, Dapodik semester 20261.
Kota Bogor (32.71, desa A) and Kota Sukabumi (32.72, desa D) are loaded; Kabupaten Bogor (32.01,
desa O) is not. Jawa Barat has 27 kab/kota.
"""

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from spm.errors import ConfigError
from spm.indicators.capaian import compute_capaian
from spm.indicators.indeks import compute_indeks
from spm.indicators.provinsi import compute_capaian_provinsi, provinces_of
from spm.warehouse.audit import start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.layanan import sync_dim_layanan
from spm.warehouse.status import BatchStatus
from spm.warehouse.tables import etl_batch, fact_kunjungan, fact_pasien, fact_penduduk, fact_peserta_didik
from spm.warehouse.tables_marts import mart_capaian_spm, mart_terlayani_bulanan
from spm.warehouse.tables_opd import fact_input_mutu, fact_input_penerima, mart_indeks_spm
from tests.warehouses import with_wilayah

A, D, O = "32.71.01.1001", "32.72.01.1001", "32.01.01.2001"
KAB_KOTA_JAWA_BARAT = 27
ICD = "http://hl7.org/fhir/sid/icd-10"

POPULATION = [  # desa, kab/kota, sex, age, count
    (A, "32.71", "L", 5, 10), (A, "32.71", "P", 6, 10), (A, "32.71", "L", 10, 5),
    (D, "32.72", "L", 5, 6), (D, "32.72", "P", 5, 4), (D, "32.72", "L", 10, 5),
    (A, "32.71", "L", 17, 8), (D, "32.72", "P", 16, 2),  # pendidikan menengah 16-18
]
LEARNERS = {  # Dapodik feed (the schools' kab/kota) -> (key, residence desa, sex, birth year, bentuk)
    "32.71": [("k1", A, "L", 2020, "TK"), ("k2", A, "P", 2019, "KB"),
              ("kX", D, "L", 2020, "TK"),   # lives in Sukabumi, at school in Bogor
              ("kO", O, "L", 2020, "TK"),   # lives in Kabupaten Bogor: not loaded
              ("s1", A, "L", 2008, "SMA"),  # 17: menengah
              ("s2", D, "P", 2009, "SMK"),  # 16: menengah, lives in Sukabumi
              ("x1", A, "L", 2015, "SLB")],  # 10: khusus
    "32.72": [("k1", D, "L", 2020, "TK"),   # listed in both kab/kota, living in each
              ("kX", D, "L", 2020, "TK"),   # listed by both: one person in Sukabumi
              ("k3", D, "P", 2020, "TK"),
              ("s2", D, "P", 2009, "SMK"),  # listed by both
              ("x2", D, "P", 2020, "SLB"),  # 5: khusus
              ("s3", D, "L", 2006, "SMA")],  # 19: too old for menengah
}
UPDATED = datetime(2026, 11, 1, tzinfo=timezone.utc)
PATIENTS = [  # hub, id, person_key, sex, birth, village, last updated
    ("32.71", "p1-bogor", "key-p1", "L", date(2015, 1, 1), A, datetime(2026, 1, 1, tzinfo=timezone.utc)),
    ("32.72", "p1-sukabumi", "key-p1", "L", date(2015, 1, 1), D, UPDATED),  # moved: now lives in D
    ("32.71", "p2", "key-p2", "L", date(2015, 1, 1), A, UPDATED),
    ("32.72", "p3", "key-p3", "L", date(2015, 1, 1), D, UPDATED),
]
VISITS = [  # hub, patient id, day: kes_usia_dikdas (Z00.2, aged 7-15)
    ("32.71", "p1-bogor", datetime(2026, 4, 10, 2, tzinfo=timezone.utc)),
    ("32.72", "p1-sukabumi", datetime(2026, 8, 10, 2, tzinfo=timezone.utc)),
    ("32.71", "p2", datetime(2026, 5, 10, 2, tzinfo=timezone.utc)),
    ("32.72", "p3", datetime(2026, 5, 20, 2, tzinfo=timezone.utc)),
]


def _facts(engine, kab_kota=("32.71", "32.72")):
    with engine.begin() as conn:
        b = start_batch(conn, "test", "fakta", "32.71", "2026", "t")
        insert_rows(conn, fact_penduduk, ("tahun", "semester", "kode_desa", "jenis_kelamin", "umur", "kode_kab_kota",
                                          "jumlah", "batch_id"),
                    [(2025, 2, desa, jk, u, kab, n, b) for desa, kab, jk, u, n in POPULATION if kab in kab_kota])
        insert_rows(conn, fact_peserta_didik, (
            "semester_id", "kode_kab_kota", "person_key", "jenis_id", "nik_valid", "npsn", "bentuk_pendidikan",
            "tingkat_pendidikan_id", "program_kesetaraan", "status", "jenis_kelamin", "tahun_lahir", "bulan_lahir",
            "tahun_laporan", "umur_referensi", "kode_wilayah_domisili", "kode_desa_tinggal", "kode_wilayah_sekolah",
            "last_update", "batch_id"),
            [(20261, feed, key, "nik", True, "20200001", bentuk, None, None, "aktif", jk, lahir, 1, 2026,
              2025 - lahir, desa, desa, f"{feed}.01.1001", None, b)
             for feed, rows in LEARNERS.items() for key, desa, jk, lahir, bentuk in rows])
        insert_rows(conn, fact_pasien, ("kode_kab_kota", "pasien_id", "person_key", "jenis_id", "nik_valid",
                                        "jenis_kelamin", "tanggal_lahir", "kode_desa", "last_updated", "batch_id"),
                    [(hub, pid, key, "nik", True, jk, born, desa, at, b) for hub, pid, key, jk, born, desa, at in PATIENTS])
        insert_rows(conn, fact_kunjungan, ("kode_kab_kota", "kunjungan_id", "pasien_id", "status", "kelas",
                                           "tanggal_mulai", "organisasi_id", "kode_alasan", "sistem_alasan",
                                           "last_updated", "batch_id"),
                    [(hub, f"e{i}", pid, "finished", "AMB", when, "org", "Z00.2", ICD, UPDATED, b)
                     for i, (hub, pid, when) in enumerate(VISITS)])


@pytest.fixture
def warehouse(engine):
    with_wilayah(engine)
    sync_dim_layanan(engine)
    _facts(engine)
    return engine


def _rows(engine, kode_wilayah, triwulan=3):
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(mart_capaian_spm).where(
            m.kode_wilayah == kode_wilayah, m.tahun == 2026, m.triwulan == triwulan)).all()
    return {(r.kode_layanan, r.jenis_kelamin): r for r in rows}


def _computed(engine, *kab_kota):
    for kode in kab_kota:
        assert compute_capaian(engine, kode, 2026, 3, "t")["status"] == BatchStatus.PUBLISHED
    return compute_capaian_provinsi(engine, "32", 2026, 3, "t")


def test_learner_listed_in_two_kab_kota_counts_once(warehouse):
    result = _computed(warehouse, "32.71", "32.72")
    assert result["status"] == BatchStatus.PUBLISHED
    bogor, sukabumi, jabar = _rows(warehouse, "32.71"), _rows(warehouse, "32.72"), _rows(warehouse, "32")
    # Kota Bogor: k1, k2 (kX and kO live elsewhere); Kota Sukabumi: k1, kX, k3.
    assert bogor["pend_paud", "semua"].terlayani == 2 and sukabumi["pend_paud", "semua"].terlayani == 3
    paud = jabar["pend_paud", "semua"]
    assert (paud.sasaran, paud.terlayani) == (30.0, 4)  # k1 once; kO's kab/kota is not loaded
    assert paud.capaian == pytest.approx(100 * 4 / 30) and paud.belum_terlayani == pytest.approx(26.0)
    assert (jabar["pend_paud", "L"].sasaran, jabar["pend_paud", "L"].terlayani) == (16.0, 2)  # k1, kX
    assert (jabar["pend_paud", "P"].sasaran, jabar["pend_paud", "P"].terlayani) == (14.0, 2)  # k2, k3
    assert (paud.tingkat_wilayah, paud.kode_kab_kota) == ("provinsi", "32")
    assert (paud.kab_kota_dimuat, paud.kab_kota_total) == (2, KAB_KOTA_JAWA_BARAT)
    assert bogor["pend_paud", "semua"].kab_kota_dimuat is None  # set on provinsi rows only
    assert paud.semester_penduduk == "2025-2"
    lineage = {int(b) for b in paud.batch_ids.split(",")}
    assert {bogor["pend_paud", "semua"].batch_id, sukabumi["pend_paud", "semua"].batch_id} <= lineage


def test_patient_in_two_hubs_counts_once_where_they_live(warehouse):
    _computed(warehouse, "32.71", "32.72")
    bogor, sukabumi, jabar = _rows(warehouse, "32.71"), _rows(warehouse, "32.72"), _rows(warehouse, "32")
    assert bogor["kes_usia_dikdas", "semua"].terlayani == 1  # p2 (p1 now lives in Sukabumi)
    assert sukabumi["kes_usia_dikdas", "semua"].terlayani == 2  # p1 (records in both hubs), p3
    dikdas = jabar["kes_usia_dikdas", "semua"]
    assert (dikdas.sasaran, dikdas.terlayani, dikdas.kab_kota_dimuat) == (10.0, 3, 2)
    m = mart_terlayani_bulanan.c
    with warehouse.connect() as conn:
        months = dict(conn.execute(sa.select(m.bulan, m.terlayani_baru).where(
            m.kode_wilayah == "32", m.kode_layanan == "kes_usia_dikdas", m.jenis_kelamin == "semua")).all())
        tingkat = set(conn.execute(sa.select(m.tingkat_wilayah).where(m.kode_wilayah == "32")).scalars())
    assert months == {4: 1, 5: 2}  # p1 first met it in April (Bogor's hub), p2 and p3 in May
    assert sum(months.values()) == dikdas.terlayani and tingkat == {"provinsi"}


def test_part_of_a_province_covers_only_its_loaded_kab_kota(warehouse):
    _computed(warehouse, "32.71")  # Kota Sukabumi not computed
    paud = _rows(warehouse, "32")["pend_paud", "semua"]
    # k1 and k2 live in Kota Bogor; kX and k3 in Kota Sukabumi, which the row does not cover.
    assert (paud.sasaran, paud.terlayani, paud.kab_kota_dimuat, paud.kab_kota_total) == (20.0, 2, 1, 27)
    with warehouse.connect() as conn:
        message = conn.execute(sa.select(etl_batch.c.message).where(
            etl_batch.c.kode_wilayah == "32", etl_batch.c.entity == "mart_capaian_spm")).scalar_one()
    assert "of 27 kab/kota" in message and "part of the province only" in message


def test_rerun_and_kab_kota_recomputation_keep_one_provinsi_row_set(warehouse):
    _computed(warehouse, "32.71", "32.72")
    first = {k: (r.sasaran, r.terlayani) for k, r in _rows(warehouse, "32").items()}
    compute_capaian(warehouse, "32.71", 2026, 3, "t")  # a kab/kota's rows leave the province's alone
    assert {k: (r.sasaran, r.terlayani) for k, r in _rows(warehouse, "32").items()} == first
    compute_capaian_provinsi(warehouse, "32", 2026, 3, "t")
    assert {k: (r.sasaran, r.terlayani) for k, r in _rows(warehouse, "32").items()} == first
    assert ("kes_ibu_hamil", "semua") not in first  # no births loaded: not computed for any kab/kota


def test_no_kab_kota_with_figures_means_no_provinsi_row(engine):
    with_wilayah(engine)
    sync_dim_layanan(engine)
    result = compute_capaian_provinsi(engine, "32", 2026, 3, "t")
    assert result["status"] == BatchStatus.MISSING and "no kab/kota of provinsi 32" in result["message"]
    assert _rows(engine, "32") == {}


def test_bad_province_codes_are_refused(warehouse):
    with pytest.raises(ConfigError, match="two digits"):
        compute_capaian_provinsi(warehouse, "32.71", 2026, 3, "t")
    with pytest.raises(ConfigError, match="no provinsi"):
        compute_capaian_provinsi(warehouse, "99", 2026, 3, "t")


def test_provinces_of_kab_kota():
    assert provinces_of(["32.72", "32.71", "33.01"]) == ["32", "33"]


def _mutu(engine, kode_kab_kota, items, bidang="pendidikan"):  # (kode_layanan, uraian, dibutuhkan, tersedia)
    with engine.begin() as conn:
        b = start_batch(conn, "opd", bidang, kode_kab_kota, "2026-T3", "t")
        insert_rows(conn, fact_input_mutu, ("tahun", "triwulan", "kode_kab_kota", "kode_layanan", "komponen", "uraian",
                                            "bidang", "satuan", "jumlah_dibutuhkan", "jumlah_tersedia", "baris",
                                            "batch_id"),
                    [(2026, 3, kode_kab_kota, layanan, "sdm", uraian, bidang, "orang", need, have, i, b)
                     for i, (layanan, uraian, need, have) in enumerate(items, start=5)])


def _indeks(engine, kode_wilayah, pemerintahan="kabupaten_kota"):
    """Index rows of one SPM: a province's partition has its kab/kota roll-up and its own apart."""
    x = mart_indeks_spm.c
    with engine.connect() as conn:
        return {r.kode_layanan or r.bidang: r for r in conn.execute(sa.select(mart_indeks_spm).where(
            x.kode_wilayah == kode_wilayah, x.tahun == 2026, x.triwulan == 3, x.tingkat_pemerintahan == pemerintahan))}


def test_provinsi_index_rolls_up_the_mutu_of_the_kab_kota_it_covers(warehouse):
    _computed(warehouse, "32.71", "32.72")
    _mutu(warehouse, "32.71", [("pend_paud", "guru", 10, 4), ("pend_paud", "buku", 10, 30)])  # surplus counts as 10
    _mutu(warehouse, "32.72", [("pend_paud", "guru", 20, 20)])
    result = compute_indeks(warehouse, "32", 2026, 3, "t")
    assert result["status"] == BatchStatus.PUBLISHED
    paud = _indeks(warehouse, "32")["pend_paud"]
    assert paud.mutu == pytest.approx(100 * (4 + 10 + 20) / 40)
    assert paud.capaian_penerima == pytest.approx(100 * 4 / 30)
    assert paud.nilai == pytest.approx(0.8 * 100 * 4 / 30 + 0.2 * 85.0)
    assert paud.kode_kab_kota == "32" and paud.keterangan is None
    assert _indeks(warehouse, "32")["pendidikan"].nilai is None  # pend_dasar and pend_kesetaraan lack mutu items


def test_provinsi_mutu_stays_null_while_a_covered_kab_kota_has_no_input(warehouse):
    _computed(warehouse, "32.71", "32.72")
    _mutu(warehouse, "32.71", [("pend_paud", "guru", 10, 10)])  # Kota Sukabumi sent none
    compute_indeks(warehouse, "32", 2026, 3, "t")
    paud = _indeks(warehouse, "32")["pend_paud"]
    assert paud.mutu is None and paud.nilai is None and paud.capaian_penerima is not None
    assert "belum ada input OPD (mutu) bidang pendidikan dari 1 di antara 2 kab/kota yang dicakup capaian" in paud.keterangan


def test_the_provinces_own_education_services(warehouse):
    """Pendidikan menengah (SMA/SMK 16-18) and khusus (SLB 4-18): per kab/kota of the province in its
    own partition, then the provinsi row; never in a kab/kota's own figures."""
    result = _computed(warehouse, "32.71")  # the kab/kota computation of 32.72 does not matter here
    assert result["own"] == ["pend_khusus", "pend_menengah"]
    jabar, bogor = _rows(warehouse, "32"), _rows(warehouse, "32.71")
    menengah = jabar["pend_menengah", "semua"]
    assert (menengah.sasaran, menengah.terlayani, menengah.kab_kota_dimuat) == (10.0, 2, 2)  # s1, s2 (once)
    assert (bogor["pend_menengah", "semua"].sasaran, bogor["pend_menengah", "semua"].terlayani) == (8.0, 1)
    assert bogor["pend_menengah", "semua"].kode_kab_kota == "32"  # the province's partition
    assert _rows(warehouse, "32.71.01.1001")["pend_menengah", "L"].terlayani == 1
    khusus = jabar["pend_khusus", "semua"]
    # Sasaran 3.3 % of the population 4-18: 33 in Kota Bogor, 17 in Kota Sukabumi.
    assert khusus.sasaran == pytest.approx(0.033 * 50) and khusus.terlayani == 2  # x1, x2
    m = mart_capaian_spm.c
    with warehouse.connect() as conn:
        own_in_kab_kota = conn.execute(sa.select(sa.func.count()).select_from(mart_capaian_spm).where(
            m.kode_kab_kota == "32.71", m.kode_layanan.in_(["pend_menengah", "pend_khusus"]))).scalar_one()
    assert own_in_kab_kota == 0
    x = mart_indeks_spm.c
    with warehouse.connect() as conn:
        indexed = set(conn.execute(sa.select(x.kode_layanan).where(x.tingkat_indeks == "layanan")).scalars())
    assert not indexed & {"pend_menengah", "pend_khusus"}


def test_a_quarter_before_the_first_code_list_takes_that_list(engine):
    from spm.warehouse.wilayah import kab_kota_of

    with_wilayah(engine)  # the shipped list, valid from 2025-04-25
    with engine.connect() as conn:
        before, now = kab_kota_of(conn, "32", date(2024, 12, 31)), kab_kota_of(conn, "32", date(2026, 9, 30))
    assert before == now and len(now) == KAB_KOTA_JAWA_BARAT and "32.71" in now


def test_a_learner_subtracted_by_two_kab_kota_leaves_the_province_sasaran_once(engine):
    """pend_kesetaraan: population 7-18 less the formal learners 7-18. A formal learner listed in
    both kab/kota (f1, living in each) is subtracted by each; the province subtracts them once."""
    with_wilayah(engine)
    sync_dim_layanan(engine)
    with engine.begin() as conn:
        b = start_batch(conn, "test", "fakta", "32.71", "2026", "t")
        insert_rows(conn, fact_penduduk, ("tahun", "semester", "kode_desa", "jenis_kelamin", "umur", "kode_kab_kota",
                                          "jumlah", "batch_id"),
                    [(2025, 2, A, "L", 12, "32.71", 10, b), (2025, 2, D, "L", 12, "32.72", 10, b)])
        rows = [("32.71", "f1", A, "SD"), ("32.72", "f1", D, "SD"), ("32.72", "f2", D, "SD"),
                ("32.72", "p1", D, "PKBM")]
        insert_rows(conn, fact_peserta_didik, (
            "semester_id", "kode_kab_kota", "person_key", "jenis_id", "nik_valid", "npsn", "bentuk_pendidikan",
            "tingkat_pendidikan_id", "program_kesetaraan", "status", "jenis_kelamin", "tahun_lahir", "bulan_lahir",
            "tahun_laporan", "umur_referensi", "kode_wilayah_domisili", "kode_desa_tinggal", "kode_wilayah_sekolah",
            "last_update", "batch_id"),
            [(20261, feed, key, "nik", True, "20200001", bentuk, None, "Paket A" if bentuk == "PKBM" else None,
              "aktif", "L", 2013, 1, 2026, 12, desa, desa, f"{feed}.01.1001", None, b)
             for feed, key, desa, bentuk in rows])
    _computed(engine, "32.71", "32.72")
    bogor, sukabumi, jabar = (_rows(engine, k)["pend_kesetaraan", "semua"] for k in ("32.71", "32.72", "32"))
    assert (bogor.sasaran, sukabumi.sasaran) == (9.0, 8.0)  # 10 - f1; 10 - f1 - f2
    assert (jabar.sasaran, jabar.terlayani) == (18.0, 1)  # 20 - f1 - f2: f1 once
    assert _rows(engine, "32")["pend_kesetaraan", "L"].sasaran == 18.0


def test_a_kab_kota_reads_only_its_own_partition(warehouse):
    """The province's own layanan have kab/kota rows (kode_wilayah 32.71) in the province's partition:
    the kab/kota's jump check, index lineage and report check never take them for its own."""
    from spm.orchestration.laporan import capaian_exists
    from spm.warehouse.tables import dq_result

    first = _computed(warehouse, "32.71", "32.72")
    compute_indeks(warehouse, "32.71", 2026, 3, "t")
    compute_capaian(warehouse, "32.71", 2026, 4, "t")
    compute_capaian_provinsi(warehouse, "32", 2026, 4, "t")
    again = compute_capaian(warehouse, "32.71", 2026, 4, "t")  # compares its quarter 4 with quarter 3
    with warehouse.connect() as conn:
        checked = set(conn.execute(sa.select(dq_result.c.kolom).where(dq_result.c.batch_id == again["batch_id"])).scalars())
        lineage = conn.execute(sa.select(mart_indeks_spm.c.batch_ids).where(
            mart_indeks_spm.c.kode_wilayah == "32.71", mart_indeks_spm.c.tingkat_indeks == "daerah")).scalar_one()
    assert checked and not checked & {"pend_menengah", "pend_khusus"}
    assert first["batch_id"] not in {int(b) for b in lineage.split(",")}
    assert capaian_exists(warehouse, "32", 2026, 3) and not capaian_exists(warehouse, "32.73", 2026, 3)


def _penerima(engine, rows, triwulan=3):  # kode_layanan -> (jumlah_sasaran, {bulan: terlayani})
    with engine.begin() as conn:
        b = start_batch(conn, "opd", "kesehatan", "32", f"2026-T{triwulan}", "t")
        conn.execute(sa.delete(fact_input_penerima).where(fact_input_penerima.c.triwulan == triwulan))
        conn.execute(sa.insert(fact_input_penerima), [
            {"tahun": 2026, "triwulan": triwulan, "kode_kab_kota": "32", "kode_layanan": kode, "bidang": "kesehatan",
             "jumlah_sasaran": sasaran, "terlayani": sum(bulan.values()), "baris": i, "batch_id": b,
             **{f"terlayani_{m:02d}": bulan.get(m) for m in range(1, 13)}}
            for i, (kode, (sasaran, bulan)) in enumerate(rows.items(), start=2)])
    return b


def test_the_provinces_own_health_services_are_what_its_dinas_entered(warehouse):
    """Krisis kesehatan akibat bencana and KLB: sasaran and terlayani from the penerima sheet of the
    Dinas Kesehatan Provinsi, for the whole province (27 of 27), months included; sasaran 0 leaves
    capaian undefined, never 0 or 100."""
    batch = _penerima(warehouse, {"kes_krisis_bencana": (1200, {1: 400, 3: 700, 8: 50}), "kes_klb": (0, {})})
    result = compute_capaian_provinsi(warehouse, "32", 2026, 3, "t")  # no kab/kota computed: still published
    assert result["status"] == BatchStatus.PUBLISHED and "kes_krisis_bencana" in result["computed"]
    jabar = _rows(warehouse, "32")
    krisis, klb = jabar["kes_krisis_bencana", "semua"], jabar["kes_klb", "semua"]
    assert (krisis.sasaran, krisis.terlayani, krisis.belum_terlayani) == (1200, 1150, 50)
    assert krisis.capaian == pytest.approx(100 * 1150 / 1200) and krisis.capaian_dibatasi == krisis.capaian
    assert (krisis.kab_kota_dimuat, krisis.kab_kota_total) == (KAB_KOTA_JAWA_BARAT, KAB_KOTA_JAWA_BARAT)
    assert krisis.batch_ids == str(batch) and krisis.tingkat_wilayah == "provinsi"
    assert (klb.sasaran, klb.terlayani, klb.capaian, klb.capaian_dibatasi) == (0, 0, None, None)
    assert ("kes_krisis_bencana", "L") not in jabar  # the Dinas reports no split by sex
    tb = mart_terlayani_bulanan.c
    with warehouse.connect() as conn:
        months = dict(conn.execute(sa.select(tb.bulan, tb.terlayani_baru).where(
            tb.kode_wilayah == "32", tb.kode_layanan == "kes_krisis_bencana")).all())
        elsewhere = conn.execute(sa.select(sa.func.count()).select_from(mart_capaian_spm).where(
            mart_capaian_spm.c.kode_layanan == "kes_krisis_bencana", mart_capaian_spm.c.kode_wilayah != "32")).scalar_one()
    assert months == {1: 400, 3: 700, 8: 50} and elsewhere == 0
    # A corrected workbook replaces the figures at the next computation; more served than affected is
    # stored as it is and capped at 100.
    _penerima(warehouse, {"kes_krisis_bencana": (100, {1: 120}), "kes_klb": (10, {2: 10})})
    _computed(warehouse, "32.71", "32.72")
    jabar = _rows(warehouse, "32")
    assert jabar["kes_krisis_bencana", "semua"].capaian == pytest.approx(120.0)
    assert jabar["kes_krisis_bencana", "semua"].capaian_dibatasi == 100.0
    assert jabar["kes_klb", "semua"].capaian == 100.0
    assert jabar["pend_paud", "semua"].kab_kota_dimuat == 2  # the roll-up beside them is unchanged
    # The months are the year's latest workbook's: recomputing the first quarter keeps July to September.
    _penerima(warehouse, {"kes_krisis_bencana": (80, {1: 60}), "kes_klb": (0, {})}, triwulan=1)
    compute_capaian_provinsi(warehouse, "32", 2026, 1, "t")
    with warehouse.connect() as conn:
        months = dict(conn.execute(sa.select(tb.bulan, tb.terlayani_baru).where(
            tb.kode_wilayah == "32", tb.kode_layanan == "kes_klb")).all())
    assert months == {2: 10} and _rows(warehouse, "32", triwulan=1)["kes_krisis_bencana", "semua"].terlayani == 60
    # That first-quarter computation had no kab/kota health data: the health months stay as they were.
    with warehouse.connect() as conn:
        health = conn.execute(sa.select(sa.func.sum(tb.terlayani_baru)).where(
            tb.kode_wilayah == "32", tb.kode_layanan == "kes_usia_dikdas", tb.jenis_kelamin == "semua")).scalar_one()
    assert health == 3  # p1 (in both hubs) once, p2, p3


def test_the_index_of_the_provinces_own_spm_stays_apart_from_the_roll_up(warehouse):
    _penerima(warehouse, {"kes_krisis_bencana": (1000, {1: 900}), "kes_klb": (200, {2: 200})})
    _computed(warehouse, "32.71", "32.72")
    _mutu(warehouse, "32", [("pend_menengah", "guru", 10, 5), ("pend_khusus", "guru", 4, 4)])
    _mutu(warehouse, "32", [("kes_krisis_bencana", "tim", 10, 10), ("kes_klb", "tim", 10, 10)], bidang="kesehatan")
    _mutu(warehouse, "32.71", [("pend_paud", "guru", 10, 10)])
    _mutu(warehouse, "32.72", [("pend_paud", "guru", 10, 0)])
    result = compute_indeks(warehouse, "32", 2026, 3, "t")
    own, roll_up = _indeks(warehouse, "32", "provinsi"), _indeks(warehouse, "32")
    assert set(own) == {"pend_menengah", "pend_khusus", "kes_krisis_bencana", "kes_klb", "pendidikan", "kesehatan",
                        "semua"}
    assert own["pend_menengah"].mutu == 50.0 and own["pend_menengah"].capaian_penerima == pytest.approx(20.0)
    assert own["kes_krisis_bencana"].nilai == pytest.approx(0.8 * 90 + 0.2 * 100)
    assert own["kes_klb"].nilai == pytest.approx(100.0)
    assert own["kesehatan"].nilai == pytest.approx((92.0 + 100.0) / 2)
    nilai = [own[k].nilai for k in ("pend_menengah", "pend_khusus", "kes_krisis_bencana", "kes_klb")]
    assert own["semua"].nilai == pytest.approx(sum(nilai) / 4) and own["semua"].label is not None
    # The roll-up: the 15 kab/kota layanan, mutu of the kab/kota (not the province's own items).
    assert not set(roll_up) & {"pend_menengah", "kes_klb"} and len(roll_up) == 15 + 2 + 1
    assert roll_up["pend_paud"].mutu == 50.0 and roll_up["semua"].nilai is None
    assert "the province's own SPM nilai" in result["message"]


def test_a_quarter_without_disaster_or_klb_leaves_those_services_out_of_the_provinces_means(warehouse):
    """Nobody entitled so far (sasaran 0) is nothing to measure: the service's own row says so and the
    bidang and daerah means go on without it, instead of staying NULL all year."""
    _penerima(warehouse, {"kes_krisis_bencana": (1000, {1: 900}), "kes_klb": (0, {})})
    _computed(warehouse, "32.71", "32.72")
    _mutu(warehouse, "32", [("pend_menengah", "guru", 10, 5), ("pend_khusus", "guru", 4, 4)])
    _mutu(warehouse, "32", [("kes_krisis_bencana", "tim", 10, 10), ("kes_klb", "tim", 10, 10)], bidang="kesehatan")
    compute_indeks(warehouse, "32", 2026, 3, "t")
    own = _indeks(warehouse, "32", "provinsi")
    klb = own["kes_klb"]
    assert klb.capaian_penerima is None and klb.nilai is None
    assert klb.keterangan.startswith("tidak ada penduduk yang berhak sejauh tahun ini (sasaran 0)")
    assert own["kesehatan"].nilai == pytest.approx(own["kes_krisis_bencana"].nilai)
    assert own["kesehatan"].keterangan is None  # nothing lacking among its members
    members = [own[k].nilai for k in ("pend_menengah", "pend_khusus", "kes_krisis_bencana")]
    assert own["semua"].nilai == pytest.approx(sum(members) / 3)


def test_an_approved_province_quarter_is_locked_against_its_kab_kota_changes(warehouse):
    """The province's own approval (docs/persetujuan.md): a learner added in one of its kab/kota after the
    province's quarter was approved changes the kab/kota's draft, but the province's roll-up is refused
    whole (a rejected batch, its rows as approved) until the province re-opens the quarter."""
    from spm.reporting.akun import add_user
    from spm.warehouse import persetujuan as ps

    _computed(warehouse, "32.71", "32.72")
    compute_indeks(warehouse, "32", 2026, 3, "t")
    pw = "rahasia-sekali-123"
    verifiers = {b: add_user(warehouse, f"kadis-{b}", b, "verifikator", pw, "32", b) for b in ("pendidikan", "kesehatan")}
    tapem = add_user(warehouse, "biro-tapem", "Biro Tata Pemerintahan", "penyetuju", pw, "32")
    for b, akun in verifiers.items():
        ps.verifikasi(warehouse, akun, "32", 2026, 3, b)
    assert ps.setujui(warehouse, tapem, "32", 2026, 3).terkunci
    approved = _rows(warehouse, "32")

    with warehouse.begin() as conn:  # Dapodik of Kota Sukabumi lists one more PAUD learner
        b = start_batch(conn, "test", "fakta", "32.72", "2026", "t")
        insert_rows(conn, fact_peserta_didik, (
            "semester_id", "kode_kab_kota", "person_key", "jenis_id", "nik_valid", "npsn", "bentuk_pendidikan",
            "tingkat_pendidikan_id", "program_kesetaraan", "status", "jenis_kelamin", "tahun_lahir", "bulan_lahir",
            "tahun_laporan", "umur_referensi", "kode_wilayah_domisili", "kode_desa_tinggal", "kode_wilayah_sekolah",
            "last_update", "batch_id"),
            [(20261, "32.72", "k9", "nik", True, "20200001", "TK", None, None, "aktif", "P", 2020, 1, 2026, 5, D, D,
              "32.72.01.1001", None, b)])
    assert compute_capaian(warehouse, "32.72", 2026, 3, "t")["status"] == BatchStatus.PUBLISHED  # its own draft
    refused = compute_capaian_provinsi(warehouse, "32", 2026, 3, "t")
    assert refused["status"] == BatchStatus.REJECTED and "32 2026 triwulan 3 is approved" in refused["message"]
    assert {k: (r.sasaran, r.terlayani) for k, r in _rows(warehouse, "32").items()} == \
        {k: (r.sasaran, r.terlayani) for k, r in approved.items()}

    ps.buka_kembali(warehouse, tapem, "32", 2026, 3, "Dapodik Kota Sukabumi menambah peserta didik")
    assert compute_capaian_provinsi(warehouse, "32", 2026, 3, "t")["status"] == BatchStatus.PUBLISHED
    assert _rows(warehouse, "32")["pend_paud", "semua"].terlayani == approved["pend_paud", "semua"].terlayani + 1
