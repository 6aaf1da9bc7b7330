"""The published quarterly outputs against the warehouse that produced them (issue 8 items 1, 2, 4, 5)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from spm.errors import InputError
from spm.reporting.data import load_laporan
from spm.reporting.charts import format_number
from spm.reporting.lokal import bulat
from spm.reporting.publish import FORMATS, read_manifest, publication_of, publish_laporan
from spm.warehouse.tables import dim_layanan
from spm.warehouse.tables_marts import mart_capaian_spm, mart_terlayani_bulanan
from spm.warehouse.tables_opd import fact_input_anggaran, fact_input_mutu, mart_indeks_spm
from tests.reporting.conftest import KODE, TAHUN, TRIWULAN

pytestmark = pytest.mark.slow  # builds and checks whole simulated warehouses

NIK_LIKE = re.compile(r"(?<![\d.,])\d{16}(?!\d)")  # not the decimals of a float


def same(value):
    """The warehouse's double as a spreadsheet cell holds it (openpyxl writes 16 significant digits)."""
    return None if value is None else pytest.approx(value, rel=1e-15, abs=0)


@pytest.fixture
def published(laporan_engine, tmp_path):
    return publish_laporan(laporan_engine, KODE, TAHUN, TRIWULAN, root=tmp_path)


def _mart(engine, kode_wilayah=KODE, triwulan=TRIWULAN):
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        return {r.kode_layanan: r for r in conn.execute(sa.select(mart_capaian_spm).where(
            m.kode_wilayah == kode_wilayah, m.jenis_kelamin == "semua", m.tahun == TAHUN, m.triwulan == triwulan))}


def _nama_to_kode(engine):
    """A jenis layanan as sections A and C name it (its name, then its planning code on a line of its
    own), or by its name alone (section B, Indeks) -> (kode_layanan, bidang)."""
    from spm.config.katalog_layanan import load_catalog

    codes = {lay.kode: lay.kode_nomenklatur for lay in load_catalog(None)}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(dim_layanan)).all()
    plain = {r.nama: (r.kode_layanan, r.bidang) for r in rows}  # sections B, Indeks
    coded = {r.nama + f"\nKode {codes[r.kode_layanan]}": (r.kode_layanan, r.bidang) for r in rows
             if codes.get(r.kode_layanan)}
    return plain | coded


def _table(ws, first_header: str, second_header: str):
    """The rows of the table whose header row starts with (first_header, second_header)."""
    rows = list(ws.iter_rows())
    for i, row in enumerate(rows):
        if row[0].value == first_header and row[1].value == second_header:
            header = [c.value for c in row]
            out = []
            for body in rows[i + 1:]:
                if not isinstance(body[0].value, int):
                    break
                out.append(body)
            return header, out
    raise AssertionError(f"no table {first_header}/{second_header} in sheet {ws.title}")


def test_workbook_section_a_equals_mart_cell_by_cell(laporan_engine, published):
    from openpyxl import load_workbook

    wb = load_workbook(published["xlsx"])
    assert wb.sheetnames == ["Pendidikan", "Penerapan Pendidikan", "Kesehatan", "Penerapan Kesehatan", "Indeks",
                             "Sumber data"]
    mart = _mart(laporan_engine)
    names = _nama_to_kode(laporan_engine)
    tb = mart_terlayani_bulanan.c
    with laporan_engine.connect() as conn:
        bulanan = {(r.kode_layanan, r.bulan): r.terlayani_baru for r in conn.execute(sa.select(
            tb.kode_layanan, tb.bulan, tb.terlayani_baru).where(
            tb.kode_wilayah == KODE, tb.jenis_kelamin == "semua", tb.tahun == TAHUN))}
    seen = set()
    for sheet, bidang in (("Pendidikan", "pendidikan"), ("Kesehatan", "kesehatan")):
        ws = wb[sheet]
        assert ws.protection.sheet, sheet
        header, rows = _table(ws, "No", "Uraian SPM")
        assert header[3] == "Jumlah total yang harus dilayani" and header[4:16] == [
            "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]
        assert header[16:19] == ["Jumlah terlayani", "Belum terlayani", "%"]
        for row in rows:
            kode, row_bidang = names[row[1].value]
            assert row_bidang == bidang
            assert "\nKode 1.0" in row[1].value  # the planning code every kab/kota jenis layanan has
            m = mart[kode]
            seen.add(kode)
            assert row[2].value == "orang"
            # As e-SPM takes them: persons whole, percentages to 2 decimals (the mart keeps them unrounded).
            assert row[3].value == bulat(m.sasaran) and isinstance(row[3].value, int)
            assert row[16].value == m.terlayani and row[17].value == bulat(m.belum_terlayani)
            assert row[18].value == bulat(m.capaian, 2)
            for cell in (row[3], row[16], row[17], row[18]):
                assert cell.data_type == "n" and cell.number_format.startswith("[$-421]"), cell.coordinate
            months = [c.value for c in row[4:16]]
            if bidang == "kesehatan":
                assert months[:3 * TRIWULAN] == [bulanan.get((kode, b), 0) for b in range(1, 3 * TRIWULAN + 1)]
                assert months[3 * TRIWULAN:] == [None] * (12 - 3 * TRIWULAN)  # not reported yet
                assert sum(months[:3 * TRIWULAN]) == m.terlayani  # the months add up to the year
            else:
                assert months == [None] * 12  # Dapodik is a semester snapshot
    assert seen == set(mart)  # every jenis layanan of the mart, once


def test_workbook_sections_b_c_and_index_equal_the_warehouse(laporan_engine, published):
    from openpyxl import load_workbook

    wb = load_workbook(published["xlsx"])
    names = _nama_to_kode(laporan_engine)
    fm, fa, ix = fact_input_mutu.c, fact_input_anggaran.c, mart_indeks_spm.c
    with laporan_engine.connect() as conn:
        mutu = conn.execute(sa.select(fact_input_mutu).where(fm.kode_kab_kota == KODE, fm.tahun == TAHUN,
                                                             fm.triwulan == TRIWULAN)).all()
        anggaran = {r.kode_layanan: r for r in conn.execute(sa.select(fact_input_anggaran).where(
            fa.kode_kab_kota == KODE, fa.tahun == TAHUN, fa.triwulan == TRIWULAN))}
        indeks = conn.execute(sa.select(mart_indeks_spm).where(
            ix.kode_kab_kota == KODE, ix.tahun == TAHUN, ix.triwulan == TRIWULAN).order_by(ix.urutan)).all()
    assert mutu and anggaran and indeks
    got_mutu = []
    for sheet in ("Pendidikan", "Kesehatan"):
        _, rows = _table(wb[sheet], "No", "Jenis layanan")  # section B comes first
        for row in rows:
            got_mutu.append((names[row[1].value][0], row[3].value, row[5].value, row[6].value))
            assert row[7].value == max(row[5].value - row[6].value, 0)
        ws = wb[sheet]
        header_c = next(i for i, r in enumerate(ws.iter_rows(values_only=True)) if r[2] == "Alokasi")
        for row in ws.iter_rows(min_row=header_c + 2):
            if not isinstance(row[0].value, int):
                break
            a = anggaran[names[row[1].value][0]]
            assert row[2].value == same(a.alokasi)
            assert [c.value for c in row[3:15]] == [same(getattr(a, f"realisasi_{m:02d}")) for m in range(1, 13)]
            assert row[15].value == same(a.realisasi)
            assert row[16].value == same(a.alokasi - a.realisasi)  # Selisih
            assert row[2].number_format.startswith("[$-421]")
    assert sorted(got_mutu) == sorted((r.kode_layanan, r.uraian, r.jumlah_dibutuhkan, r.jumlah_tersedia) for r in mutu)

    _, rows = _table(wb["Indeks"], "No", "Tingkat")
    assert len(rows) == len(indeks)
    for row, want in zip(rows, indeks):
        if want.kode_layanan:
            assert names[row[3].value][0] == want.kode_layanan
        else:
            assert row[3].value is None and row[1].value in ("Bidang", "Daerah")
        assert (row[4].value, row[5].value, row[6].value) == (
            bulat(want.capaian_penerima, 2), bulat(want.mutu, 2), bulat(want.nilai, 2))
        assert row[7].value == (want.label or "belum dapat dihitung")


def test_lineage_sheet_lists_the_source_batches(laporan_engine, published):
    from openpyxl import load_workbook

    ws = load_workbook(published["xlsx"])["Sumber data"]
    ids = [r[0] for r in ws.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert ids == published["batch_ids"]
    sources = {r[1] for r in ws.iter_rows(values_only=True) if isinstance(r[0], int)}
    assert {"dukcapil", "dapodik", "satusehat", "opd"} <= sources


def test_html_and_pdf_show_the_warehouse_figures(laporan_engine, published):
    from pypdf import PdfReader

    html = open(published["html"], encoding="utf-8").read()
    mart = _mart(laporan_engine)
    for kode, m in mart.items():
        row = re.search(rf'<tr data-layanan="{kode}">(.*?)</tr>', html, re.S).group(1)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        assert cells[2:6] == [format_number(m.sasaran), format_number(m.terlayani),
                              format_number(m.belum_terlayani), format_number(m.capaian, 2)]
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    daerah = data.indeks_daerah()
    assert "Kota Bogor" in html and format_number(daerah["nilai"], 2) in html
    # Offline: no stylesheet, script or image fetched from anywhere.
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html)
    assert "<script" not in html

    text = "\n".join(page.extract_text() for page in PdfReader(published["pdf"]).pages)
    assert "Kota Bogor" in text and format_number(daerah["nilai"], 2) in text
    for kode, m in mart.items():
        assert format_number(m.capaian, 2) in text, kode
    for k in data.kecamatan():
        assert k.nama in text  # the drill-down reaches the PDF
    for out in (html, text, open(published["csv"], encoding="utf-8").read()):
        assert not NIK_LIKE.search(out)


def test_target_and_spread_follow_the_mart(laporan_engine):
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    mart = _mart(laporan_engine)
    assert data.target_percent == 75.0
    for t in data.target():
        # A Dapodik figure is a semester's state: its target is all of the sasaran, not 25 % a quarter.
        want = 100.0 if t.kode_layanan.startswith("pend_") else 75.0
        assert (t.target_percent, t.model) == (want, "semester" if want == 100.0 else "garis_lurus")
        assert t.behind == (mart[t.kode_layanan].capaian < want)
        assert t.opd in ("Dinas Pendidikan", "Dinas Kesehatan")
    assert data.target_bidang("pendidikan") == 100.0 and data.target_bidang("kesehatan") == 75.0
    m = mart_capaian_spm.c
    with laporan_engine.connect() as conn:
        kec = conn.execute(sa.select(m.kode_layanan, m.kode_wilayah, m.capaian, m.sasaran).where(
            m.kode_kab_kota == KODE, m.tingkat_wilayah == "kecamatan", m.jenis_kelamin == "semua",
            m.tahun == TAHUN, m.triwulan == TRIWULAN, m.capaian.is_not(None))).all()
    spreads = data.spreads()
    assert spreads and spreads == sorted(spreads, key=lambda s: -s.spread)
    assert data.sasaran_kecil == 10 and any(r.sasaran < 10 for r in kec)  # the rule is exercised
    for s in spreads:
        # Areas with a sasaran under tampilan.sasaran_kecil do not decide the spread.
        values = [r.capaian for r in kec if r.kode_layanan == s.kode_layanan and r.sasaran >= 10]
        assert s.best.capaian == max(values) and s.worst.capaian == min(values)
        assert s.spread == pytest.approx(max(values) - min(values))


def test_rerun_reproduces_the_same_files(laporan_engine, tmp_path):
    from pypdf import PdfReader

    first = publish_laporan(laporan_engine, KODE, TAHUN, TRIWULAN, root=tmp_path)
    before = read_manifest(publication_of(KODE, TAHUN, TRIWULAN, tmp_path))
    pdf_text = [p.extract_text() for p in PdfReader(first["pdf"]).pages]
    second = publish_laporan(laporan_engine, KODE, TAHUN, TRIWULAN, root=tmp_path)
    after = read_manifest(publication_of(KODE, TAHUN, TRIWULAN, tmp_path))
    assert first == second
    for jenis in ("xlsx", "html", "csv"):
        assert before["berkas"][jenis]["sha256"] == after["berkas"][jenis]["sha256"], jenis
    assert [p.extract_text() for p in PdfReader(second["pdf"]).pages] == pdf_text


def test_a_failed_build_leaves_the_previous_report_whole(laporan_engine, tmp_path, monkeypatch):
    import spm.reporting.laporan as laporan

    publish_laporan(laporan_engine, KODE, TAHUN, TRIWULAN, root=tmp_path)
    t = publication_of(KODE, TAHUN, TRIWULAN, tmp_path)
    good = {j: t.path(j).read_bytes() for j in FORMATS}

    def broken(html, path):
        path.write_bytes(b"%PDF-1.7 half")
        raise OSError("disk full")

    monkeypatch.setattr(laporan, "write_pdf", broken)
    with pytest.raises(OSError, match="disk full"):
        publish_laporan(laporan_engine, KODE, TAHUN, TRIWULAN, root=tmp_path)
    assert {j: t.path(j).read_bytes() for j in FORMATS} == good
    assert sorted(p.name for p in t.folder.iterdir()) == sorted([t.manifest.name, *(t.path(j).name for j in FORMATS)])


def test_a_quarter_without_capaian_is_refused_by_name(laporan_engine, tmp_path):
    with pytest.raises(InputError, match=r"no mart_capaian_spm rows for kab/kota 32\.71, 2026 triwulan 4"):
        publish_laporan(laporan_engine, KODE, TAHUN, 4, root=tmp_path)
    assert not publication_of(KODE, TAHUN, 4, tmp_path).folder.exists()


def test_paths_are_predictable(tmp_path):
    t = publication_of("32.71", 2026, 2, tmp_path)
    assert t.path("xlsx") == tmp_path / "32.71" / "2026" / "triwulan-2" / "spm_3271_2026_tw2.xlsx"
    with pytest.raises(ValueError):
        publication_of("32.71", 2026, 5, tmp_path)


def test_a_denominator_short_of_quarantined_rows_is_said_beside_the_services_it_feeds():
    from spm.reporting.data import denominator_note

    sumber = [
        {"batch_id": 4, "source": "dukcapil", "entity": "penduduk", "periode": "2025-2", "rows_received": 606,
         "rows_quarantined": 2},
        {"batch_id": 5, "source": "dukcapil", "entity": "kelahiran", "periode": "2025", "rows_received": 72,
         "rows_quarantined": 1},
        {"batch_id": 6, "source": "dukcapil", "entity": "kelahiran", "periode": "2024", "rows_received": 72,
         "rows_quarantined": 0},
        {"batch_id": 7, "source": "dapodik", "entity": "peserta_didik", "periode": "20261", "rows_received": 900,
         "rows_quarantined": 3},
    ]
    notes, short = denominator_note(sumber, ["pend_paud", "kes_ibu_hamil", "kes_bbl", "kes_balita"])
    assert short == {"pend_paud": 2, "kes_balita": 2, "kes_ibu_hamil": 1, "kes_bbl": 1}
    assert notes == [
        "Sasaran pend_paud, kes_balita (bertanda *) dihitung tanpa 2 baris data penduduk semester 2025-2 yang dikarantina "
        "(batch 4, dari 606 baris diterima); rinciannya di halaman mutu data Dukcapil.",
        "Sasaran kes_ibu_hamil, kes_bbl (bertanda *) dihitung tanpa 1 baris data kelahiran tahun 2025 yang dikarantina "
        "(batch 5, dari 72 baris diterima); rinciannya di halaman mutu data Dukcapil.",
    ]


def test_a_sasaran_short_of_quarantined_rows_is_marked_beside_it_in_the_html_and_the_workbook(laporan_engine,
                                                                                               tmp_path):
    from openpyxl import load_workbook

    from spm.reporting.laporan import render_html
    from spm.reporting.workbook import write_espm_workbook

    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    data.sasaran_kurang = {"pend_paud": 3}
    html = render_html(data)
    row = re.search(r'<tr data-layanan="pend_paud">(.*?)</tr>', html, re.S).group(1)
    assert 'title="dihitung tanpa 3 baris data Dukcapil yang dikarantina">*</sup>' in row
    other = re.search(r'<tr data-layanan="pend_dasar">(.*?)</tr>', html, re.S).group(1)
    assert "<sup" not in other
    write_espm_workbook(data, tmp_path / "w.xlsx")
    book = load_workbook(tmp_path / "w.xlsx")
    names = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    paud = next(lay for lay in data.layanan if lay.kode == "pend_paud")
    assert f"{paud.nama} *\nKode {paud.kode_nomenklatur}" in names


def test_rounding_as_espm_takes_figures():
    from spm.reporting.lokal import bulat

    assert bulat(190.2999999999999) == 190 and bulat(2.5) == 3 and bulat(0.5) == 1  # half up, not to even
    assert bulat(33.335, 2) == 33.34 and bulat(66.66666666, 2) == 66.67 and bulat(None) is None


def test_trend_chart_draws_every_series_apart_above_100_and_the_target():
    from spm.reporting.charts import series_style, trend_chart

    series = {f"L{i}": [("2026 TW I", 10.0 * i), ("2026 TW II", 20.0 + i)] for i in range(19)}
    series["L0"] = [("2026 TW I", 30.0), ("2026 TW II", 180.0)]  # above 100 %
    svg = trend_chart(series, target={"2026 TW I": 25.0, "2026 TW II": 50.0})
    assert len({series_style(i) for i in range(19)}) == 19  # no two series look alike
    assert svg.count('class="seri"') == 19 and 'class="target"' in svg and "target garis lurus" in svg
    assert ">200<" in svg  # the axis reaches the highest value: 180 % is drawn, not clipped at 100
    y_of = {float(v) for v in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)}
    assert min(y_of) > 0  # every point inside the chart
