"""Survei Kepuasan Masyarakat results in the OPD workbook (layout 4, sheet ikm): checked and published
with the workbook's figures, whole or not at all; the mutu A-D follows from the nilai (Permenpan RB
14/2017), so it cannot disagree with it."""

import pytest
import sqlalchemy as sa

from spm.ingest.input_opd import ingest_inbox
from spm.sources.opd_layout import mutu_ikm
from spm.warehouse.tables_opd import fact_input_ikm
from tests.ingest.test_input_opd import NAME, NARASI, write_workbook
from tests.ingest.test_input_opd_narasi import inbox, wh, wh_sqlite  # noqa: F401 (fixtures)


def _ikm(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [(r.unit_layanan, r.kode_layanan, r.periode_survei, r.jumlah_responden, r.nilai_ikm, r.baris)
                for r in conn.execute(sa.select(fact_input_ikm).order_by(fact_input_ikm.c.baris))]


def test_surveys_are_published_with_the_figures(wh, inbox):  # noqa: F811
    write_workbook(inbox / NAME)
    [result] = ingest_inbox(wh, inbox, "run-1")
    assert result["status"] == "published", result.get("problems")
    assert "2 ikm rows" in result["message"]
    assert not [w for w in result["warnings"] if w.startswith("lembar ikm")]
    assert _ikm(wh) == [(*row, baris) for baris, row in enumerate(NARASI["ikm"], start=2)]


@pytest.mark.parametrize("nilai, expected", [
    (100.0, ("A", "Sangat baik")), (88.31, ("A", "Sangat baik")), (88.30, ("B", "Baik")), (76.61, ("B", "Baik")),
    (76.60, ("C", "Kurang baik")), (65.00, ("C", "Kurang baik")), (64.99, ("D", "Tidak baik")), (25.0, ("D", "Tidak baik")),
    (24.99, None), (100.01, None), (None, None),
])
def test_mutu_follows_the_permenpan_intervals(nilai, expected):
    assert mutu_ikm(nilai) == expected


@pytest.mark.parametrize("row, expected", [
    (["Dinas Pendidikan", None, "2026 semester I", 400, 101],
     "lembar ikm, baris 2, kolom nilai_ikm (E): nilai_ikm harus 25 sampai 100 (nilai interval konversi IKM, "
     "Permenpan RB 14/2017) (101.0) [nilai_ikm_25_100]"),
    (["Dinas Pendidikan", None, "2026 semester I", 0, 80],
     "lembar ikm, baris 2, kolom jumlah_responden (D): jumlah_responden harus 1 atau lebih (0) "
     "[jumlah_responden_minimal_1]"),
    (["Puskesmas Bogor Timur", "kes_balita", "2026 semester I", 100, 80],
     "lembar ikm, baris 2, kolom kode_layanan (B): bukan jenis layanan dari bidang buku kerja ini (kosongkan untuk "
     "unit secara keseluruhan) ('kes_balita') [kode_layanan_bidang]"),
    ([None, None, "2026 semester I", 100, 80], "lembar ikm, baris 2, kolom unit_layanan (A): kosong; kolom ini wajib diisi"),
])
def test_a_wrong_survey_cell_rejects_the_workbook_naming_it(wh_sqlite, inbox, row, expected):  # noqa: F811
    write_workbook(inbox / NAME, ikm=[row, *NARASI["ikm"][1:]])
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected"
    assert expected in result["problems"], result["problems"]
    assert _ikm(wh_sqlite) == []


def test_no_survey_this_quarter_is_a_warning_not_a_rejection(wh_sqlite, inbox):  # noqa: F811
    write_workbook(inbox / NAME, ikm=[])
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "published", result.get("problems")
    assert "lembar ikm: lembar ini belum berisi hasil survei kepuasan masyarakat; indeks kepuasan masyarakat belum " \
           "dapat dihitung (ditemukan 0) [ada_survei_ikm]" in result["warnings"]
