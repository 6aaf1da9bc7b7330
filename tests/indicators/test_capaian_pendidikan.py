"""mart_capaian_spm for the education services on hand-made facts; every figure worked out by hand.

Reporting year 2026, quarter 3: sasaran from population 2025-2, ages on 31 Dec 2025
(= 2025 - birth year), Dapodik semester 20261.
"""

import pytest
import sqlalchemy as sa

from spm.indicators.capaian import compute_capaian
from spm.warehouse.audit import start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.layanan import sync_dim_layanan
from spm.warehouse.tables import dq_result, etl_batch, fact_penduduk, fact_peserta_didik
from spm.warehouse.tables_marts import mart_capaian_spm

A, B, C = "32.71.01.1001", "32.71.01.1002", "32.71.02.1001"
OUTSIDE = "32.01.01.2001"

POPULATION = [  # desa, sex, age, count
    (A, "L", 5, 10), (A, "P", 6, 10), (A, "L", 7, 20), (A, "P", 15, 20), (A, "L", 16, 5), (A, "L", 4, 100),
    (B, "L", 5, 4),
    (C, "P", 10, 50),
]
LEARNERS = [  # key, residence desa, sex, birth year, bentuk, program, status
    ("k1", A, "L", 2020, "TK", None, "aktif"),       # 5: PAUD
    ("k2", A, "P", 2019, "KB", None, "aktif"),       # 6: PAUD (upper edge)
    ("k3", A, "P", 2018, "TK", None, "aktif"),       # 7 in TK: not PAUD; formal, so out of kesetaraan sasaran
    ("k4", B, "L", 2020, "TK", None, "mutasi"),      # left: not counted
    ("k5", A, "L", 2018, "SD", None, "aktif"),       # 7: dasar (lower edge); formal
    ("k6", A, "P", 2010, "SMP", None, "aktif"),      # 15: dasar (upper edge); formal
    ("k7", A, "L", 2009, "SMP", None, "aktif"),      # 16: not dasar; formal 7-18
    ("k8", C, "P", 2015, "PKBM", "Paket A", "aktif"),  # 10: kesetaraan
    ("k9", C, "P", 2007, "SKB", "Paket C", "aktif"),   # 18: kesetaraan (upper edge)
    ("k10", A, "L", 2006, "PKBM", "Paket C", "aktif"),  # 19: too old
    ("k11", OUTSIDE, "L", 2017, "SD", None, "aktif"),  # lives in another kab/kota
] + [(f"b{i}", B, "L", 2020, "TK", None, "aktif") for i in range(5)]  # 5 served of a sasaran of 4


def _facts(conn, population=POPULATION, semester=(2025, 2), learners=LEARNERS, semester_id=20261):
    pop_batch = start_batch(conn, "dukcapil", "penduduk", "32.71", f"{semester[0]}-{semester[1]}", "t")
    insert_rows(conn, fact_penduduk, ("tahun", "semester", "kode_desa", "jenis_kelamin", "umur", "kode_kab_kota",
                                      "jumlah", "batch_id"),
                [(semester[0], semester[1], d, jk, u, "32.71", n, pop_batch) for d, jk, u, n in population])
    if learners:
        pd_batch = start_batch(conn, "dapodik", "peserta_didik", "32.71", str(semester_id), "t")
        insert_rows(conn, fact_peserta_didik, (
            "semester_id", "kode_kab_kota", "person_key", "jenis_id", "nik_valid", "npsn", "bentuk_pendidikan",
            "tingkat_pendidikan_id", "program_kesetaraan", "status", "jenis_kelamin", "tahun_lahir", "bulan_lahir",
            "tahun_laporan", "umur_referensi", "kode_wilayah_domisili", "kode_desa_tinggal", "kode_wilayah_sekolah",
            "last_update", "batch_id"),
            [(semester_id, "32.71", key, "nik", True, "20200001", bentuk, None, program, status, jk, lahir, 1,
              2026, 2025 - lahir, desa, desa, A, None, pd_batch)
             for key, desa, jk, lahir, bentuk, program, status in learners])
        return {pop_batch, pd_batch}
    return {pop_batch}


@pytest.fixture
def facts(engine):
    sync_dim_layanan(engine)
    with engine.begin() as conn:
        batches = _facts(conn)
    return engine, batches


def _mart(engine, **where):
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(mart_capaian_spm).where(*(m[k] == v for k, v in where.items()))).all()
    return {(r.kode_layanan, r.kode_wilayah, r.jenis_kelamin): r for r in rows}


def _figures(rows):
    return {k: (r.sasaran, r.terlayani) for k, r in rows.items()}


def test_education_figures_by_hand(facts):
    engine, batches = facts
    result = compute_capaian(engine, "32.71", 2026, 3, "run-1")
    assert result["status"] == "published"
    assert result["computed"] == ["pend_paud", "pend_dasar", "pend_kesetaraan"]
    assert set(result["skipped"]) == {k for k in result["skipped"] if k.startswith("kes_")} and len(result["skipped"]) == 12
    rows = _mart(engine, tahun=2026, triwulan=3)
    figures = _figures(rows)
    # PAUD (5-6)
    assert figures[("pend_paud", A, "L")] == (10, 1)
    assert figures[("pend_paud", A, "P")] == (10, 1)
    assert figures[("pend_paud", B, "L")] == (4, 5)
    assert figures[("pend_paud", "32.71.01", "semua")] == (24, 7)
    assert figures[("pend_paud", "32.71", "L")] == (14, 6)
    assert ("pend_paud", C, "P") not in figures  # no child of 5-6 lives there
    # Dasar (7-15): a row also where nobody was served
    assert figures[("pend_dasar", A, "L")] == (20, 1)
    assert figures[("pend_dasar", A, "P")] == (20, 1)
    assert figures[("pend_dasar", C, "P")] == (50, 0)
    assert figures[("pend_dasar", "32.71", "semua")] == (90, 2)
    # Kesetaraan: sasaran = population 7-18 minus formal learners 7-18 (k3, k5, k6, k7)
    assert figures[("pend_kesetaraan", A, "L")] == (23, 0)
    assert figures[("pend_kesetaraan", A, "P")] == (18, 0)
    assert figures[("pend_kesetaraan", C, "P")] == (50, 2)
    assert figures[("pend_kesetaraan", "32.71", "semua")] == (91, 2)
    # capaian above 100 is kept raw and capped separately
    over = rows[("pend_paud", B, "L")]
    assert over.capaian == pytest.approx(125.0) and over.capaian_dibatasi == 100.0 and over.belum_terlayani == 0
    kab = rows[("pend_paud", "32.71", "semua")]
    assert kab.capaian == pytest.approx(700 / 24) and kab.belum_terlayani == 17
    assert kab.tingkat_wilayah == "kabupaten_kota" and rows[("pend_paud", "32.71.01", "L")].tingkat_wilayah == "kecamatan"
    assert kab.semester_penduduk == "2025-2"
    assert {int(b) for b in kab.batch_ids.split(",")} == batches
    # the person outside the kab/kota is in no figure
    assert sum(r.terlayani for k, r in rows.items() if k[2] == "semua" and r.tingkat_wilayah == "desa_kelurahan") == 11


def test_rerun_replaces_the_quarter(facts):
    engine, _ = facts
    compute_capaian(engine, "32.71", 2026, 3, "run-1")
    first = _figures(_mart(engine, tahun=2026, triwulan=3))
    compute_capaian(engine, "32.71", 2026, 3, "run-2")
    assert _figures(_mart(engine, tahun=2026, triwulan=3)) == first


def test_no_population_means_no_capaian(engine):
    sync_dim_layanan(engine)
    result = compute_capaian(engine, "32.71", 2026, 3, "run-1")
    assert result["status"] == "missing" and "no capaian computed" in result["message"]
    assert _mart(engine) == {}


def test_missing_reference_semester_falls_back_and_says_so(engine):
    sync_dim_layanan(engine)
    with engine.begin() as conn:
        _facts(conn, semester=(2025, 1))
    result = compute_capaian(engine, "32.71", 2026, 3, "run-1")
    assert result["semester_penduduk"] == "2025-1"
    rows = _mart(engine, tahun=2026, triwulan=3)
    assert {r.semester_penduduk for r in rows.values()} == {"2025-1"}
    with engine.connect() as conn:
        message = conn.execute(sa.select(etl_batch.c.message).where(etl_batch.c.batch_id == result["batch_id"])).scalar_one()
    assert "population 2025-2 missing: used 2025-1" in message


def test_quarter_without_its_dapodik_semester_leaves_education_out(facts):
    engine, _ = facts
    result = compute_capaian(engine, "32.71", 2026, 2, "run-1")  # needs semester 20252: not loaded
    assert result["computed"] == [] and "no Dapodik semester 20252" in result["skipped"]["pend_paud"]
    assert _mart(engine, tahun=2026, triwulan=2) == {}


def test_capaian_jump_is_flagged(facts):
    engine, _ = facts
    compute_capaian(engine, "32.71", 2026, 3, "run-1")
    with engine.begin() as conn:  # ten more PAUD learners appear in the same semester
        _facts(conn, population=[], semester=(2024, 1),
               learners=[(f"n{i}", A, "L", 2020, "TK", None, "aktif") for i in range(10)])
    result = compute_capaian(engine, "32.71", 2026, 4, "run-2")
    assert result["flagged"] == ["pend_paud"]  # 7/24 -> 17/24: +41.7 points
    with engine.connect() as conn:
        rows = conn.execute(sa.select(dq_result).where(dq_result.c.batch_id == result["batch_id"])).all()
    by_layanan = {r.kolom: r for r in rows}
    assert by_layanan["pend_paud"].success is False and by_layanan["pend_dasar"].success is True
