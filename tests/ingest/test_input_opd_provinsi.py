"""The province's own OPD workbooks: its Dinas Kesehatan enters the penerima of the health crisis and
KLB services (sheet penerima); checked, rejected whole or published like the kab/kota workbooks."""

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from spm.ingest.input_opd import ingest_inbox
from spm.sources.opd_layout import header, sheets_of, workbook_filename
from spm.warehouse.tables import dim_wilayah, etl_batch
from spm.warehouse.tables_opd import fact_input_anggaran, fact_input_mutu, fact_input_penerima

PROV = "32"
NAME = workbook_filename("kesehatan", PROV, 2026, 1)
MUTU = [
    ["kes_krisis_bencana", "barang_jasa", "Paket logistik kesehatan krisis", "paket", 10, 8],
    ["kes_krisis_bencana", "sdm", "Tim gerak cepat kesehatan", "orang", 5, 5],
    ["kes_klb", "barang_jasa", "Logistik penyelidikan epidemiologi KLB", "paket", 4, 4],
    ["kes_klb", "petunjuk_teknis", "Pedoman penanggulangan KLB", "dokumen", 1, 0],
]
ANGGARAN = [["kes_krisis_bencana", 900_000_000, 50_000_000, None, 10_000_000] + [None] * 9,
            ["kes_klb", 300_000_000, 0, 20_000_000, 0] + [None] * 9]
PENERIMA = [  # kode_layanan, jumlah_sasaran, terlayani_01..12, keterangan
    ["kes_krisis_bencana", 1200, 400, None, 700] + [None] * 9 + ["banjir Januari, longsor Maret"],
    ["kes_klb", 0, None, None, None] + [None] * 9 + [None],  # no KLB so far: sasaran 0, nothing served
]


def write_workbook(path: Path, identitas=None, penerima=PENERIMA, sheets=None, bidang="kesehatan") -> Path:
    book = Workbook()
    book.remove(book.active)
    rows = {"identitas": [identitas or [PROV, bidang, 2026, 1, "Dinas Kesehatan Provinsi Jawa Barat"]],
            "mutu": MUTU, "anggaran": ANGGARAN, "penerima": penerima}
    for sheet in sheets or sheets_of(bidang, "provinsi"):
        ws = book.create_sheet(sheet)
        ws.append(header(sheet))
        for row in rows.get(sheet, []):
            ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _wilayah(engine):
    with engine.begin() as conn:
        conn.execute(sa.insert(dim_wilayah), [
            {"kode": PROV, "berlaku_mulai": date(2025, 1, 1), "nama": "Jawa Barat", "tingkat": "provinsi",
             "kode_induk": None},
            {"kode": "32.71", "berlaku_mulai": date(2025, 1, 1), "nama": "Kota Bogor", "tingkat": "kabupaten_kota",
             "kode_induk": PROV}])
    return engine


@pytest.fixture
def wh(engine):
    return _wilayah(engine)


@pytest.fixture
def inbox(tmp_path):
    path = tmp_path / "inbox" / "opd"
    path.mkdir(parents=True)
    return path


def test_province_workbook_published_with_its_penerima(wh, inbox):
    write_workbook(inbox / NAME)
    [result] = ingest_inbox(wh, inbox, "run-1", ["32.71"])  # a run of one of its kab/kota takes it
    assert result["status"] == "published", result.get("problems")
    assert "4 mutu rows, 2 anggaran rows, 2 penerima rows" in result["message"]
    with wh.connect() as conn:
        penerima = {r.kode_layanan: r for r in conn.execute(sa.select(fact_input_penerima))}
        batch = conn.execute(sa.select(etl_batch)).one()
        kab = {r.kode_kab_kota for t in (fact_input_mutu, fact_input_anggaran)
               for r in conn.execute(sa.select(t.c.kode_kab_kota))}
    assert (batch.source, batch.entity, batch.kode_wilayah, batch.periode) == ("opd", "kesehatan", "32", "2026-T1")
    krisis = penerima["kes_krisis_bencana"]
    assert (krisis.jumlah_sasaran, krisis.terlayani, krisis.terlayani_01, krisis.terlayani_02, krisis.terlayani_03,
            krisis.keterangan, krisis.baris) == (1200, 1100, 400, None, 700, "banjir Januari, longsor Maret", 2)
    assert (penerima["kes_klb"].jumlah_sasaran, penerima["kes_klb"].terlayani) == (0, 0)
    assert kab == {"32"}
    # The same figures again: unchanged; a run of another province leaves it in the inbox.
    write_workbook(inbox / NAME)
    assert [r["status"] for r in ingest_inbox(wh, inbox, "run-2", ["32.71"])] == ["unchanged"]
    write_workbook(inbox / NAME)
    assert ingest_inbox(wh, inbox, "run-3", ["33.01"]) == [] and (inbox / NAME).exists()


def _problems(wh, inbox, name=NAME, **kwargs) -> list[str]:
    write_workbook(inbox / name, **kwargs)
    [result] = ingest_inbox(wh, inbox, "run-1")
    assert result["status"] == "rejected"
    with wh.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fact_input_penerima)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(fact_input_mutu)).scalar_one() == 0
    return result["problems"]


def test_penerima_rules_reject_the_workbook_naming_the_cell(wh, inbox):
    penerima = [row[:] for row in PENERIMA]
    penerima[0][1] = -5              # row 2: negative sasaran
    penerima[0][6] = 30              # row 2: May served in a first-quarter workbook
    penerima[1][3] = "dua"           # row 3: not a number
    problems = _problems(wh, inbox, penerima=penerima)
    assert sorted(problems) == sorted([
        "lembar penerima, baris 3, kolom terlayani_02 (D): 'dua' bukan angka",
        "lembar penerima, baris 2, kolom jumlah_sasaran (B): jumlah_sasaran harus 0 atau lebih (-5) "
        "[sasaran_tidak_negatif]",
        "lembar penerima, baris 2, kolom terlayani_05 (G): terlayani terisi untuk bulan setelah akhir triwulan; "
        "kosongkan bulan-bulan sesudahnya (30) [terlayani_dalam_triwulan]",
    ]), problems


def test_a_missing_penerima_row_rejects_naming_the_layanan(wh, inbox):
    problems = _problems(wh, inbox, penerima=PENERIMA[:1])
    assert problems == ["lembar penerima, kolom kode_layanan (A): ada jenis layanan yang penerimanya harus diisi OPD tetapi tidak memiliki "
                        "baris; isi 0 bila tidak ada penduduk terdampak: kes_klb [setiap_layanan_penerima_ada]"]


def test_a_province_workbook_without_penerima_sheet_is_refused(wh, inbox):
    problems = _problems(wh, inbox, sheets=["identitas", "mutu", "anggaran"])
    assert problems == ["lembar penerima: lembar tidak ada; buku kerja ini harus memiliki lembar identitas, "
                        "penerima, mutu, anggaran, permasalahan, tahapan, rencana_aksi, ikm"]
    errors = (inbox / "rejected" / f"{NAME}.errors.txt").read_text()
    assert "Isi: bidang kesehatan, provinsi 32, 2026-T1" in errors and "input_opd_<bidang>_provinsi.xlsx" in errors


def test_kab_kota_layanan_in_a_province_workbook_are_refused(wh, inbox):
    penerima = [row[:] for row in PENERIMA] + [["kes_ibu_hamil", 10, 1] + [None] * 11 + [None]]
    problems = _problems(wh, inbox, penerima=penerima)
    assert problems == ["lembar penerima, baris 4, kolom kode_layanan (A): bukan jenis layanan yang penerimanya "
                        "diisi OPD di buku kerja ini ('kes_ibu_hamil') [kode_layanan_penerima]"]


def test_penerima_in_a_kab_kota_workbook_is_refused(wh, inbox):
    name = workbook_filename("kesehatan", "32.71", 2026, 1)
    problems = _problems(wh, inbox, name=name, identitas=["32.71", "kesehatan", 2026, 1, "Dinas Kesehatan"],
                         sheets=["identitas", "penerima", "mutu", "anggaran"])
    assert "lembar penerima: lembar ini hanya untuk buku kerja yang mengisi penerima layanan; buku kerja " \
           "kesehatan 32.71 2026-T1 tidak memilikinya: hapus lembar ini" in problems


def test_an_unknown_province_code_is_refused(wh, inbox):
    name = workbook_filename("kesehatan", "99", 2026, 1)
    problems = _problems(wh, inbox, name=name, identitas=["99", "kesehatan", 2026, 1, "Dinas Kesehatan Provinsi"])
    assert problems == ["lembar identitas, baris 2, kolom kode_wilayah (A): '99' bukan kode provinsi yang berlaku"]
