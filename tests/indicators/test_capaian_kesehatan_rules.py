"""FHIR status rules, late-arriving patients and residence across hubs (DESIGN §5), on hand-made facts.

Every figure is worked out by hand for 2026 quarter 4 of Kota Bogor (32.71); Kota Sukabumi (32.72)
is a second hub loaded into the same warehouse."""

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from spm.indicators.capaian import compute_capaian
from spm.warehouse.audit import start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.layanan import sync_dim_layanan
from spm.warehouse.tables import fact_kelahiran, fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien, fact_penduduk
from spm.warehouse.tables_marts import mart_capaian_spm

BOGOR, SUKABUMI = "32.71.01.1001", "32.72.01.1001"
ICD, LOINC = "http://hl7.org/fhir/sid/icd-10", "http://loinc.org"
UPDATED = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _t(m, d=10):
    return datetime(2026, m, d, 2, 0, tzinfo=timezone.utc)


class Facts:
    """Inserts hand-made facts; ids are numbered per table."""

    def __init__(self, engine):
        self.engine, self.n = engine, 0
        with engine.begin() as conn:
            self.batch = start_batch(conn, "test", "fakta", "32.71", "2026", "t")
            insert_rows(conn, fact_penduduk, ("tahun", "semester", "kode_desa", "jenis_kelamin", "umur",
                                              "kode_kab_kota", "jumlah", "batch_id"),
                        [(2025, 2, BOGOR, "L", 30, "32.71", 500, self.batch),
                         (2025, 2, BOGOR, "P", 30, "32.71", 500, self.batch)])
            insert_rows(conn, fact_kelahiran, ("tahun", "bulan", "kode_desa", "jenis_kelamin", "kode_kab_kota",
                                               "jumlah", "batch_id"), [(2025, 5, BOGOR, "P", "32.71", 10, self.batch)])

    def _id(self, prefix):
        self.n += 1
        return f"{prefix}{self.n}"

    def patient(self, hub, pid, key, desa=BOGOR, sex="P", born=date(1995, 3, 1), updated=UPDATED):
        with self.engine.begin() as conn:
            insert_rows(conn, fact_pasien, ("kode_kab_kota", "pasien_id", "person_key", "jenis_id", "nik_valid",
                                            "jenis_kelamin", "tanggal_lahir", "kode_desa", "last_updated", "batch_id"),
                        [(hub, pid, key, "nik", True, sex, born, desa, updated, self.batch)])

    def anc(self, hub, pid, months, status="finished"):
        with self.engine.begin() as conn:
            insert_rows(conn, fact_kunjungan, ("kode_kab_kota", "kunjungan_id", "pasien_id", "status", "kelas",
                                               "tanggal_mulai", "organisasi_id", "kode_alasan", "sistem_alasan",
                                               "last_updated", "batch_id"),
                        [(hub, self._id("e"), pid, s, "AMB", _t(m), "org", "Z34.0", ICD, UPDATED, self.batch)
                         for m, s in zip(months, status if isinstance(status, list) else [status] * len(months))])

    def observation(self, hub, pid, code, status="final", month=5):
        with self.engine.begin() as conn:
            insert_rows(conn, fact_observasi, ("kode_kab_kota", "observasi_id", "pasien_id", "status",
                                               "tanggal_efektif", "kode", "sistem_kode", "nilai", "satuan",
                                               "nilai_sistolik", "nilai_diastolik", "nilai_kode", "last_updated",
                                               "batch_id"),
                        [(hub, self._id("o"), pid, status, _t(month), code, LOINC, None, None, 130.0, 85.0, None,
                          UPDATED, self.batch)])

    def condition(self, hub, pid, code="I10", klinis="active", verifikasi=None):
        with self.engine.begin() as conn:
            insert_rows(conn, fact_kondisi, ("kode_kab_kota", "kondisi_id", "pasien_id", "status_klinis",
                                             "status_verifikasi", "tanggal_onset", "kode", "sistem_kode",
                                             "last_updated", "batch_id"),
                        [(hub, self._id("c"), pid, klinis, verifikasi, _t(1), code, ICD, UPDATED, self.batch)])

    def terlayani(self, kode_layanan, wilayah="32.71", kode="32.71"):
        compute_capaian(self.engine, kode, 2026, 4, "run")
        m = mart_capaian_spm.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(m.terlayani).where(
                m.kode_layanan == kode_layanan, m.jenis_kelamin == "semua", m.kode_wilayah == wilayah,
                m.tahun == 2026, m.triwulan == 4)).first()
        return None if row is None else row.terlayani


@pytest.fixture
def facts(engine):
    sync_dim_layanan(engine)
    return Facts(engine)


def test_encounter_statuses(facts):
    six = [1, 2, 3, 4, 5, 6]
    facts.patient("32.71", "a", "k-a")
    facts.anc("32.71", "a", six, ["arrived", "triaged", "in-progress", "onleave", "finished", "finished"])
    for n, bad in enumerate(("planned", "cancelled", "entered-in-error", "unknown")):
        pid = f"b{n}"
        facts.patient("32.71", pid, f"k-{pid}")
        facts.anc("32.71", pid, six, ["finished"] * 5 + [bad])  # the sixth did not happen
    assert facts.terlayani("kes_ibu_hamil") == 1


def test_observation_and_condition_statuses(facts):
    for n, status in enumerate(("final", "amended", "corrected", "preliminary", "registered", "cancelled",
                                "entered-in-error")):
        facts.patient("32.71", f"o{n}", f"k-o{n}")
        facts.observation("32.71", f"o{n}", "11545-1", status)
    assert facts.terlayani("kes_terduga_tb") == 3
    for n, (klinis, verifikasi) in enumerate((("active", None), ("recurrence", "confirmed"),
                                              ("relapse", "provisional"), ("active", "refuted"),
                                              ("active", "entered-in-error"), ("resolved", "confirmed"),
                                              ("inactive", None))):
        pid = f"h{n}"
        facts.patient("32.71", pid, f"k-{pid}", sex="L", born=date(1980, 1, 1))
        facts.condition("32.71", pid, "I10", klinis, verifikasi)
        facts.observation("32.71", pid, "85354-9")
    assert facts.terlayani("kes_hipertensi") == 3


def test_update_to_a_status_that_does_not_count_withdraws_the_service(facts):
    facts.patient("32.71", "a", "k-a")
    facts.anc("32.71", "a", [1, 2, 3, 4, 5, 6])
    assert facts.terlayani("kes_ibu_hamil") == 1
    with facts.engine.begin() as conn:  # what the merge does with a newer version
        conn.execute(sa.update(fact_kunjungan).where(fact_kunjungan.c.kunjungan_id == "e1")
                     .values(status="entered-in-error"))
    assert facts.terlayani("kes_ibu_hamil") == 0


def test_patient_arriving_after_its_encounters_counts_without_reloading_them(facts):
    facts.patient("32.71", "other", "k-other")  # the hub is loaded
    facts.anc("32.71", "late", [1, 2, 3, 4, 5, 6])
    assert facts.terlayani("kes_ibu_hamil") == 0  # kept, not counted: whose visits are they?
    facts.patient("32.71", "late", "k-late")
    assert facts.terlayani("kes_ibu_hamil") == 1


def test_resident_served_by_another_hub_counts_where_she_lives(facts):
    facts.patient("32.71", "a", "k-ani")
    facts.anc("32.71", "a", [1, 2, 3])
    facts.patient("32.72", "x9", "k-ani", updated=datetime(2026, 6, 1, tzinfo=timezone.utc))  # same NIK
    facts.anc("32.72", "x9", [4, 5, 6])
    facts.patient("32.72", "v", "k-visitor")  # a Bogor resident known to Sukabumi's hub only
    facts.anc("32.72", "v", [1, 2, 3, 4, 5, 6])
    facts.patient("32.72", "s", "k-sukabumi", desa=SUKABUMI)
    facts.anc("32.72", "s", [1, 2, 3, 4, 5, 6])
    assert facts.terlayani("kes_ibu_hamil") == 2  # ani (3 + 3 visits, counted once) and the visitor


def test_latest_patient_record_decides_the_residence(facts):
    facts.patient("32.71", "a", "k-mover", updated=datetime(2026, 2, 1, tzinfo=timezone.utc))
    facts.anc("32.71", "a", [1, 2, 3, 4, 5, 6])
    facts.patient("32.72", "m", "k-mover", desa=SUKABUMI, updated=datetime(2026, 9, 1, tzinfo=timezone.utc))
    assert facts.terlayani("kes_ibu_hamil") == 0  # she lives in Sukabumi now


def test_other_kab_kota_without_its_own_hub_gets_no_health_figures(facts):
    facts.patient("32.71", "s", "k-s", desa=SUKABUMI)
    facts.anc("32.71", "s", [1, 2, 3, 4, 5, 6])
    with facts.engine.begin() as conn:
        insert_rows(conn, fact_penduduk, ("tahun", "semester", "kode_desa", "jenis_kelamin", "umur",
                                          "kode_kab_kota", "jumlah", "batch_id"),
                    [(2025, 2, SUKABUMI, "P", 30, "32.72", 500, facts.batch)])
        insert_rows(conn, fact_kelahiran, ("tahun", "bulan", "kode_desa", "jenis_kelamin", "kode_kab_kota",
                                           "jumlah", "batch_id"), [(2025, 5, SUKABUMI, "P", "32.72", 10, facts.batch)])
    assert facts.terlayani("kes_usia_produktif", "32.72", "32.72") is None
    assert facts.terlayani("kes_ibu_hamil", "32.72", "32.72") is None  # not a 1 from a neighbour's hub alone
