"""Education ingest units: periods, NIK handling and pseudonymisation, checksums, the dedup rule."""

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from spm.errors import ConfigError
from spm.ingest import pendidikan as pdk
from spm.privacy import person_key
from spm.warehouse.audit import start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.tables import etl_batch, fact_peserta_didik, staging_peserta_didik
from tests.warehouses import with_wilayah

SECRET = b"unit-test-secret-0123456789"
# 32.71.01, born 2013-05-17, a girl (day + 40) / the same NIK read as a boy's
NIK_P = "3271015705130001"
NIK_L = "3271011705130001"


def _raw(**changes):
    row = {"peserta_didik_id": "0b6f7a3e-1111-4c2b-9d2e-000000000001", "nisn": "0131234567", "nik": NIK_P,
           "nama": "Siti Aminah", "jenis_kelamin": "P", "tanggal_lahir": "2013-05-17", "tingkat_pendidikan_id": 6,
           "program_kesetaraan": None, "kode_wilayah_domisili": "32.71.01.1001", "status": "aktif",
           "last_update": "2024-08-05 09:30:00"}
    row.update(changes)
    return row


SD = pdk.Sekolah("20212345", "SD", "32.71.01.1002", 3)


def test_semester_ids_and_defaults_follow_design_10():
    assert pdk.semester_id_of(2025, 1) == 20251
    assert pdk.default_semester(date(2025, 7, 1)) == (2025, 1)
    assert pdk.default_semester(date(2025, 6, 30)) == (2024, 2)
    assert pdk.default_semester(date(2026, 1, 15)) == (2025, 2)
    assert pdk.semester_start(20251) == date(2025, 7, 1) and pdk.semester_start(20252) == date(2026, 1, 1)
    # Semester 20251 serves Q3-Q4 2025, semester 20252 serves Q1-Q2 2026 (DESIGN §5).
    assert pdk.tahun_laporan(20251) == 2025 and pdk.tahun_laporan(20252) == 2026
    with pytest.raises(ConfigError, match="semester must be 1"):
        pdk.semester_id_of(2025, 3)
    with pytest.raises(ConfigError, match="'3271' is not a kabupaten/kota code"):
        pdk.partitions(["3271"], 2025, 1)
    assert pdk.partitions(["32.71", "32.72"], 2024, 2) == [
        {"kode_kab_kota": "32.71", "semester_id": 20242}, {"kode_kab_kota": "32.72", "semester_id": 20242}]


def test_valid_nik_gives_the_nik_key():
    key, jenis, valid = pdk.identity(_raw(), SECRET)
    assert (key, jenis, valid) == (person_key(SECRET, NIK_P), "nik", True)


@pytest.mark.parametrize("changes", [
    {"nik": None}, {"nik": "327101570513000"}, {"nik": "32710157O5130001"},
    {"nik": NIK_L},  # sex part says boy, row says girl
    {"nik": "3271015805130001"},  # birth day 18, row says 17
    {"nik": "3271017705130001"},  # day 37: no such date
])
def test_invalid_nik_falls_back_to_nisn(changes):
    key, jenis, valid = pdk.identity(_raw(**changes), SECRET)
    assert (key, jenis, valid) == (person_key(SECRET, "0131234567", "nisn"), "nisn", False)
    assert key != person_key(SECRET, "0131234567")  # namespaced: never equal to a NIK's key


def test_no_nik_no_nisn_falls_back_to_dapodik_id_then_nothing():
    raw = _raw(nik="", nisn=None)
    assert pdk.identity(raw, SECRET) == (person_key(SECRET, raw["peserta_didik_id"], "pd"), "pd", False)
    assert pdk.identity(_raw(nik=None, nisn="12", peserta_didik_id=None), SECRET) == (None, None, False)


def test_staged_learner_row_holds_nothing_identifying():
    row = pdk.learner_row(_raw(), SD, SECRET, pdk.semester_start(20241))
    staged = dict(zip(pdk.PESERTA_DIDIK.columns, row))
    text = repr(row)
    for secret_value in (NIK_P, "0131234567", "Siti", "Aminah", "2013-05-17", "0b6f7a3e"):
        assert secret_value not in text
    assert staged["tahun_lahir"] == 2013 and staged["bulan_lahir"] == 5
    assert staged["umur_awal_semester"] == 11  # on 1 July 2024
    assert staged["npsn"] == "20212345" and staged["kode_wilayah_sekolah"] == "32.71.01.1002"
    assert staged["last_update"].utcoffset().total_seconds() == 7 * 3600  # WIB


def test_bad_values_become_null_for_the_suite_to_judge():
    row = dict(zip(pdk.PESERTA_DIDIK.columns, pdk.learner_row(
        _raw(tanggal_lahir="2013-02-30", tingkat_pendidikan_id="tujuh", status=" ", last_update="kemarin",
             kode_wilayah_domisili="x" * 80), SD, SECRET, date(2024, 7, 1))))
    assert row["tahun_lahir"] is None and row["umur_awal_semester"] is None
    assert row["tingkat_pendidikan_id"] is None and row["status"] is None and row["last_update"] is None
    assert row["kode_wilayah_domisili"] == "x" * 80  # staged whole, for the suite to refuse
    assert pdk.umur_pada(date(2012, 7, 1), date(2024, 7, 1)) == 12
    assert pdk.umur_pada(date(2012, 7, 2), date(2024, 7, 1)) == 11


def test_checksum_ignores_page_order_but_not_content():
    rows = [("a", 1), ("b", 2), ("a", 1)]

    def digest(items):
        c = pdk.RowsChecksum()
        for r in items:
            c.add(r)
        return c.hexdigest()

    assert digest(rows) == digest(list(reversed(rows)))
    assert digest(rows) != digest(rows[:2])
    assert digest(rows) != digest([("a", 1), ("b", 3), ("a", 1)])


def test_school_listed_twice_is_kept_once_latest_update():
    rows = [pdk.school_row({"npsn": "20212345", "last_update": "2024-08-01 08:00:00", "nama": "lama"}, 1),
            pdk.school_row({"npsn": "20299999", "last_update": "2024-08-01 08:00:00"}, 2),
            pdk.school_row({"npsn": "20212345", "last_update": "2024-08-09 08:00:00", "nama": "baru"}, 3),
            pdk.school_row({"npsn": None}, 4)]
    kept, duplicates = pdk.dedup_schools(rows)
    assert duplicates == 1
    assert [(r["npsn"], r["nama"]) for r in kept] == [("20299999", None), ("20212345", "baru"), (None, None)]


# --- the dedup rule, through the publish SQL, on both engines -------------------------------------

def _listing(key, npsn, status, last_update, row_id):
    return (key, "nik", True, npsn, "SD", "32.71.01.1001", "L", 2014, 3, 10, 4, None, None, status,
            None if last_update is None else datetime.fromisoformat(last_update + "+07:00"), row_id)


def test_dedup_rule_keeps_one_row_per_person(engine):
    listings = [
        # A: transfer: mutasi (updated later) at the old school, aktif at the new one -> aktif
        _listing("A", "20200001", "mutasi", "2024-08-20 10:00:00", 1),
        _listing("A", "20200002", "aktif", "2024-08-02 10:00:00", 2),
        # B: aktif at two schools -> the latest last_update
        _listing("B", "20200001", "aktif", "2024-08-02 10:00:00", 3),
        _listing("B", "20200003", "aktif", "2024-08-09 10:00:00", 4),
        # C: same status and time -> the lowest npsn
        _listing("C", "20200005", "aktif", "2024-08-02 10:00:00", 5),
        _listing("C", "20200004", "aktif", "2024-08-02 10:00:00", 6),
        # D: lulus beats keluar
        _listing("D", "20200001", "keluar", "2024-08-30 10:00:00", 7),
        _listing("D", "20200006", "lulus", "2024-08-01 10:00:00", 8),
        # E: a row without last_update loses to one with it
        _listing("E", "20200001", "aktif", None, 9),
        _listing("E", "20200007", "aktif", "2024-08-01 10:00:00", 10),
        # F: the same listing twice (a page asked twice) -> the first row
        _listing("F", "20200001", "aktif", "2024-08-01 10:00:00", 11),
        _listing("F", "20200001", "aktif", "2024-08-01 10:00:00", 12),
        _listing("G", "20200008", "aktif", "2024-08-01 10:00:00", 13),
    ]
    with engine.begin() as conn:
        batch_id = start_batch(conn, "dapodik", "peserta_didik", "32.71", "20241", "unit")
        insert_rows(conn, staging_peserta_didik,
                    ("batch_id", "kode_kab_kota", "periode", *pdk.PESERTA_DIDIK.columns, "row_id", "lolos"),
                    [(batch_id, "32.71", "20241", *r, True) for r in listings])
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id).values(rows_received=len(listings)))
    validated = {"kode_kab_kota": "32.71", "semester_id": 20241,
                 "peserta_didik": {"batch_id": batch_id, "status": "validated", "rows_received": len(listings)}}
    result = pdk.publish_peserta_didik(engine, validated)
    assert (result["status"], result["rows_published"], result["rows_duplicate"]) == ("published", 7, 6)
    with engine.connect() as conn:
        kept = dict(conn.execute(sa.select(fact_peserta_didik.c.person_key, fact_peserta_didik.c.npsn)).all())
        batch = conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == batch_id)).one()
        fact = conn.execute(sa.select(fact_peserta_didik).where(fact_peserta_didik.c.person_key == "A")).one()
    assert kept == {"A": "20200002", "B": "20200003", "C": "20200004", "D": "20200006", "E": "20200007",
                    "F": "20200001", "G": "20200008"}
    assert (batch.rows_published, batch.rows_duplicate, batch.status) == (7, 6, "published")
    assert "6 duplicate listing(s) merged" in batch.message
    # Semester 20241 serves 2024: age on 31 Dec 2023 of someone born in 2014; no domisili -> school desa.
    assert (fact.tahun_laporan, fact.umur_referensi, fact.kode_desa_tinggal) == (2024, 9, "32.71.01.1001")


def test_a_school_name_longer_than_its_column_is_quarantined_whole_never_published_cut(engine):
    from spm.ingest import wap
    from spm.warehouse.tables import dim_sekolah, quarantine

    with_wilayah(engine)
    long_name = "SD Negeri " + "Panjang " * 40
    rows = [pdk.school_row({"sekolah_id": "a" * 36, "npsn": "20212345", "nama": long_name, "bentuk_pendidikan": "SD",
                            "status_sekolah": "Negeri", "kode_wilayah": "32.71.01.1001"}, 1),
            pdk.school_row({"sekolah_id": "b" * 70, "npsn": "20212346", "nama": "SD Pendek", "bentuk_pendidikan": "SD",
                            "status_sekolah": "Negeri", "kode_wilayah": "32.71.01.1001"}, 2),
            pdk.school_row({"sekolah_id": "c" * 36, "npsn": "20212347", "nama": "SD Baik", "bentuk_pendidikan": "SD",
                            "status_sekolah": "Swasta", "kode_wilayah": "32.71.01.1002"}, 3)]
    staged = wap.stage(engine, pdk.SEKOLAH, "32.71", "20241", rows, "sum", "unit")
    params = pdk.validation_parameters(engine, pdk.Partition("32.71", 20241), "sekolah", staged.batch_id)
    validated = wap.validate(engine, pdk.SEKOLAH, staged.batch_id, params)
    assert (validated.status, validated.rows_quarantined) == ("validated", 2)
    wap.publish(engine, pdk.SEKOLAH, staged.batch_id, {"kode_kab_kota": "32.71", "semester_id": 20241,
                                                      "tahun_laporan": 2024})
    with engine.connect() as conn:
        reasons = {r.row_data["npsn"]: (r.failed_expectations, r.row_data["nama"]) for r in conn.execute(sa.select(quarantine))}
        published = conn.execute(sa.select(dim_sekolah.c.npsn)).scalars().all()
    assert reasons == {"20212345": ("nama_sekolah_panjang_maks_255", long_name.strip()),
                       "20212346": ("sekolah_id_panjang_maks_64", "SD Pendek")}
    assert published == ["20212347"]
