"""Inbox files: Dukcapil CSV/XLSX with the §3.2 columns, OPD workbooks with the declared layout."""

from __future__ import annotations

import csv

import pytest
from openpyxl import load_workbook

from spm.simulator import write_inbox
from spm.simulator.expected import expected_population_totals
from spm.simulator.opd_workbook import MALFORMED_KINDS, expected_anggaran, expected_mutu, write_opd_workbook
from spm.sources.opd_layout import LAYANAN_OF_BIDANG, SHEETS, header, sheets_of, workbook_filename


@pytest.mark.slow
def test_dukcapil_and_opd_files_for_a_quarter(world, tmp_path):
    written = write_inbox(world, tmp_path / "dukcapil", tmp_path / "opd", 2025, 3, formats=("csv", "xlsx"))
    names = sorted(p.name for p in written)
    assert "penduduk_3271_2024-2.csv" in names and "penduduk_3271_2025-1.xlsx" in names
    assert "kelahiran_3272_2024.xlsx" in names
    assert workbook_filename("kesehatan", "32.71", 2025, 3) in names
    assert len(names) == 2 * (3 * 2 + 2) + 2  # per area: 3 Dukcapil files x 2 formats + 2 workbooks; the province's 2
    assert workbook_filename("kesehatan", "32", 2025, 3) in names

    with open(tmp_path / "dukcapil" / "penduduk_3271_2024-2.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["semester", "kode_desa", "jenis_kelamin", "umur", "jumlah"]
    book = load_workbook(tmp_path / "dukcapil" / "penduduk_3271_2024-2.xlsx", read_only=True)
    xlsx = [[str(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    assert xlsx == rows
    totals = expected_population_totals(world["32.71"], 2024, 2)
    assert sum(int(r[4]) for r in rows[1:]) == totals["jumlah"]


def test_opd_workbook_follows_the_layout(bogor, tmp_path):
    path = write_opd_workbook(tmp_path / "w.xlsx", bogor, "pendidikan", 2025, 2)
    book = load_workbook(path)
    assert book.sheetnames == list(sheets_of("pendidikan")) == ["identitas", "mutu", "anggaran", "permasalahan", "tahapan",
                                                                     "rencana_aksi", "ikm"]
    for sheet in book.sheetnames:
        rows = list(book[sheet].iter_rows(values_only=True))
        assert list(rows[0]) == [c.name for c in SHEETS[sheet]]
    mutu = list(book["mutu"].iter_rows(min_row=2, values_only=True))
    assert {r[0] for r in mutu} == set(LAYANAN_OF_BIDANG["pendidikan"])
    assert all(isinstance(r[4], int) and isinstance(r[5], int) for r in mutu)
    anggaran = list(book["anggaran"].iter_rows(min_row=2, values_only=True))
    assert all(r[2:8] and all(v is not None for v in r[2:8]) and all(v is None for v in r[8:]) for r in anggaran)
    assert set(expected_mutu(bogor, "pendidikan", 2025, 2)) == set(LAYANAN_OF_BIDANG["pendidikan"])
    assert all(0 <= v <= 100 for v in expected_mutu(bogor, "pendidikan", 2025, 2).values())
    budget = expected_anggaran(bogor, "pendidikan", 2025, 2)
    assert budget["pend_dasar"]["realisasi"] == pytest.approx(next(sum(r[2:8]) for r in anggaran if r[0] == "pend_dasar"))


def test_malformed_files_break_the_layout(world, bogor, tmp_path):
    for kind in MALFORMED_KINDS:
        book = load_workbook(write_opd_workbook(tmp_path / f"{kind}.xlsx", bogor, "kesehatan", 2025, 1, kind))
        ok = (book.sheetnames == list(sheets_of("kesehatan"))
              and all(list(next(book[s].iter_rows(values_only=True))) == header(s) for s in sheets_of("kesehatan"))
              and all(isinstance(r[5], int) for r in book["mutu"].iter_rows(min_row=2, values_only=True))
              and all(r[0] in LAYANAN_OF_BIDANG["kesehatan"] for r in book["anggaran"].iter_rows(min_row=2, values_only=True)))
        assert not ok, kind
    written = write_inbox(world, tmp_path / "d", tmp_path / "o", 2025, 1, malformed="bad_header")
    broken = [p for p in written if "_rusak" in p.name]
    assert {p.suffix for p in broken} == {".csv", ".xlsx"}
    first = (tmp_path / "d" / "penduduk_3271_2024-2_rusak.csv").read_text().splitlines()[0]
    assert first != "semester,kode_desa,jenis_kelamin,umur,jumlah"


def test_province_workbooks_have_its_own_layanan_and_penerima(world, tmp_path):
    from spm.simulator.inbox import provinces_of
    from spm.simulator.opd_workbook import expected_penerima, workbook_rows

    areas = provinces_of(world)["32"]
    rows = workbook_rows(areas[0], "kesehatan", 2025, 2, provinsi=areas)
    assert rows["identitas"][0][:4] == ["32", "kesehatan", 2025, 2]
    assert {r[0] for r in rows["mutu"]} == {"kes_krisis_bencana", "kes_klb"}
    assert [r[0] for r in rows["penerima"]] == ["kes_krisis_bencana", "kes_klb"]
    for r in rows["penerima"]:
        months = r[2:14]
        assert all(v is not None for v in months[:6]) and all(v is None for v in months[6:])
        assert sum(months[:6]) <= r[1]  # served no more than affected
    later = workbook_rows(areas[0], "kesehatan", 2025, 4, provinsi=areas)["penerima"]
    assert [r[2:8] for r in later] == [r[2:8] for r in rows["penerima"]]  # a later quarter repeats the months
    expected = expected_penerima(world.config.seed, "32", 2025, 2)
    assert expected["kes_klb"]["terlayani"] == sum(rows["penerima"][1][2:8])
    assert "penerima" not in workbook_rows(areas[0], "pendidikan", 2025, 2, provinsi=areas)
    edu = workbook_rows(areas[0], "pendidikan", 2025, 2, provinsi=areas)
    assert {r[0] for r in edu["anggaran"]} == {"pend_menengah", "pend_khusus"}
