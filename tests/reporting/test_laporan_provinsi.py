"""The province's report on the hand-made facts of tests/indicators/test_capaian_provinsi.py: Kota
Bogor and Kota Sukabumi of Jawa Barat's 27 kab/kota, 2026 triwulan 3."""

import re

import pytest

from spm.indicators.capaian import compute_capaian
from spm.indicators.indeks import compute_indeks
from spm.indicators.provinsi import compute_capaian_provinsi
from spm.reporting.publish import publish_laporan
from spm.warehouse.layanan import sync_dim_layanan
from tests.indicators import test_capaian_provinsi as facts
from tests.warehouses import with_wilayah


@pytest.fixture
def published(engine, tmp_path):
    with_wilayah(engine)
    sync_dim_layanan(engine)
    facts._facts(engine)
    for kode in ("32.71", "32.72"):
        compute_capaian(engine, kode, 2026, 3, "t")
        compute_indeks(engine, kode, 2026, 3, "t")
    # The province's own Dinas: penerima of its health services, mutu of its own jenis layanan.
    facts._penerima(engine, {"kes_krisis_bencana": (1200, {1: 400, 3: 700}), "kes_klb": (0, {})})
    facts._mutu(engine, "32", [("pend_menengah", "guru", 10, 5), ("pend_khusus", "guru", 4, 4)])
    facts._mutu(engine, "32", [("kes_krisis_bencana", "tim", 10, 10), ("kes_klb", "tim", 10, 10)], bidang="kesehatan")
    compute_capaian_provinsi(engine, "32", 2026, 3, "t")
    compute_indeks(engine, "32", 2026, 3, "t")
    return engine, publish_laporan(engine, "32", 2026, 3, root=tmp_path), tmp_path


def _row(html, kode):
    return re.search(rf'<tr data-wilayah="{re.escape(kode)}">(.*?)</tr>', html, re.S).group(1)


def test_the_province_report_says_what_it_covers_and_sets_its_kab_kota_side_by_side(published):
    engine, result, _ = published
    html = open(result["html"], encoding="utf-8").read()
    assert "PROVINSI JAWA BARAT" in html.upper() and "(32)" in html
    assert "dari 2 dari 27 kab/kota yang datanya telah dimuat" in html
    # Section 2: the province's own services and the kab/kota SPM, each saying how much it covers.
    paud = re.search(r'<tr data-layanan="pend_paud">(.*?)</tr>', html, re.S).group(1)
    assert ">30<" in paud and ">4<" in paud and "2 dari 27 †" in paud
    assert 'data-layanan="pend_menengah"' in html and 'data-layanan="pend_khusus"' in html
    # Section 5: every kab/kota of the province, loaded or not, with its index and capaian.
    bogor, kab_bogor = _row(html, "32.71"), _row(html, "32.01")
    assert "belum dimuat" in kab_bogor and "belum dimuat" not in bogor
    assert len(re.findall(r'<tr data-wilayah="32\.\d\d">', html)) >= 27
    assert "Ketimpangan antar kab/kota" in html
    # Section 4: what the province's own Dinas wrote; these facts have mutu but no narrative sheet
    penerapan = re.search(r'<h2 id="penerapan">(.*?)<h2 ', html, re.S).group(1)
    assert penerapan.count("Bagian ini belum diisi OPD untuk triwulan ini.") == 6  # 3 parts x 2 bidang
    assert "Dinas Pendidikan Provinsi Jawa Barat" in penerapan


def test_the_province_workbook_and_pdf(published):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    _, result, _ = published
    wb = load_workbook(result["xlsx"])
    ws = wb["Kab-kota"]
    rows = {r[0]: r for r in ws.iter_rows(values_only=True) if isinstance(r[0], str) and r[0].startswith("32.")}
    assert len(rows) == 27 and rows["32.01"][3] == "belum dimuat"
    header = next(r for r in ws.iter_rows(values_only=True) if r[0] == "Kode")
    paud = header.index("Pendidikan Anak Usia Dini (PAUD)")
    assert rows["32.71"][paud] == pytest.approx(100 * 2 / 20)  # k1, k2 of a sasaran of 20
    assert any("Pendidikan Menengah" in str(c.value) for row in wb["Pendidikan"].iter_rows() for c in row)
    text = "\n".join(page.extract_text() for page in PdfReader(result["pdf"]).pages)
    assert "2 dari 27" in text


def test_a_kab_kota_report_holds_none_of_the_provinces_own_services(published):
    engine, _, root = published
    html = open(publish_laporan(engine, "32.71", 2026, 3, root=root)["html"], encoding="utf-8").read()
    assert 'data-layanan="pend_paud"' in html
    assert "pend_menengah" not in html and "Pendidikan Menengah" not in html and "dimuat" not in html


def test_the_dashboard_shows_the_province_and_says_what_it_covers(published):
    from starlette.testclient import TestClient

    from spm.reporting.dashboard import create_app

    engine, _, root = published
    with TestClient(create_app(engine, laporan_root=root)) as client:
        page = client.get("/", params={"kode": "32", "tahun": 2026, "triwulan": 3})
        assert page.status_code == 200
        html = page.text
        assert 'data-catatan="cakupan"' in html and "dari 2 dari 27 kab/kota" in html
        paud = re.findall(r'<tr data-layanan="pend_paud">(.*?)</tr>', html, re.S)  # the index row, the capaian row
        assert any("2 dari 27 (sebagian provinsi)" in row and ">30<" in row for row in paud)
        assert 'data-kecamatan="32.71"' in html and 'data-kecamatan="32.01"' in html  # every kab/kota
        # Its own SPM index first, the kab/kota roll-up apart below it.
        assert html.index('id="tabel-indeks"') < html.index('id="tabel-indeks-kabupaten_kota"')
        own = re.search(r'<table id="tabel-indeks">(.*?)</table>', html, re.S).group(1)
        assert 'data-layanan="kes_krisis_bencana"' in own and 'data-layanan="pend_paud"' not in own
        assert 'id="indeks-daerah-kabupaten_kota"' in html
        drill = client.get("/", params={"kode": "32", "tahun": 2026, "triwulan": 3, "kecamatan": "32.71"})
        assert drill.status_code == 200 and 'id="tabel-desa" data-kecamatan="32.71"' in drill.text
        assert "per kecamatan" in drill.text
        # The kab/kota keep their own dashboard, without the province's own services.
        kota = client.get("/", params={"kode": "32.71", "tahun": 2026, "triwulan": 3})
        assert kota.status_code == 200 and "pend_menengah" not in kota.text and "Kab/kota dimuat" not in kota.text


def test_the_province_report_shows_its_own_spm_index_first_and_the_roll_up_apart(published):
    from openpyxl import load_workbook

    engine, result, _ = published
    html = open(result["html"], encoding="utf-8").read()
    own = html.index('<h3 data-indeks="provinsi">')
    roll_up = html.index('<h3 data-indeks="kabupaten_kota">')
    assert own < roll_up and "SPM provinsi (jenis layanan dasar urusan provinsi)" in html
    own_table = re.search(r'<table data-indeks="provinsi">(.*?)</table>', html, re.S).group(1)
    assert "Pendidikan Menengah" in own_table and "kejadian luar biasa" in own_table
    assert "Pendidikan Anak Usia Dini" not in own_table
    # kes_klb: nobody affected so far: capaian undefined (never 0 or 100), left out of the means.
    assert "tidak ada penduduk yang berhak sejauh tahun ini (sasaran 0)" in own_table
    # Section 2: what the Dinas Kesehatan Provinsi entered, for the whole province.
    krisis = re.search(r'<tr data-layanan="kes_krisis_bencana">(.*?)</tr>', html, re.S).group(1)
    assert ">1.200<" in krisis and ">1.100<" in krisis and "27 dari 27" in krisis and "†" not in krisis
    wb = load_workbook(result["xlsx"])
    texts = [str(c.value) for row in wb["Indeks"].iter_rows() for c in row if c.value is not None]
    assert texts.index("SPM provinsi (jenis layanan dasar urusan provinsi)") < texts.index(
        "Gabungan SPM kab/kota yang dimuat")
    kesehatan = [[c.value for c in row] for row in wb["Kesehatan"].iter_rows()]
    row = next(r for r in kesehatan if any("krisis kesehatan" in str(v) for v in r))
    assert 1200 in row and 400 in row and 700 in row  # sasaran, January and March


def test_a_jenis_layanan_without_data_is_shown_with_why_never_left_out(published):
    """No births of 2025 loaded for Kota Bogor: its maternal and newborn services have no figure. The
    report, workbook and dashboard still list them, and their bidang, saying in Indonesian what is
    missing (issue 20: missing data must not leak internals nor drop a bidang)."""
    from openpyxl import load_workbook
    from starlette.testclient import TestClient

    from spm.reporting.dashboard import create_app

    engine, _, root = published
    result = publish_laporan(engine, "32.71", 2026, 3, root=root)
    html = open(result["html"], encoding="utf-8").read()
    hamil = re.search(r'<tr data-layanan="kes_ibu_hamil" class="kosong">(.*?)</tr>', html, re.S).group(1)
    assert "Belum ada data: kelahiran tahun 2025 dari Dukcapil belum masuk" in hamil
    assert "not computed" not in html and "no row in" not in html
    wb = load_workbook(result["xlsx"])
    assert {"Pendidikan", "Kesehatan"} <= set(wb.sheetnames)
    texts = [str(c.value) for row in wb["Kesehatan"].iter_rows() for c in row if c.value is not None]
    assert any(t.startswith("Belum ada data: kelahiran tahun 2025") for t in texts)
    with TestClient(create_app(engine, laporan_root=root)) as client:
        page = client.get("/", params={"kode": "32.71", "tahun": 2026, "triwulan": 3}).text
    assert 'id="indeks-kesehatan"' in page and 'data-layanan="kes_ibu_hamil" class="kosong"' in page


def test_lagging_kab_kota_services_are_the_kab_kotas_not_the_provinces_dinas(published):
    from spm.reporting.data_provinsi import load_laporan_provinsi

    engine, _, _ = published
    data = load_laporan_provinsi(engine, "32", 2026, 3)
    opd = {t.kode_layanan: t.opd for t in data.target()}
    assert opd["pend_menengah"] == "Dinas Pendidikan Provinsi Jawa Barat"  # its own
    assert opd["pend_paud"] == "Dinas Pendidikan kab/kota (dibina Dinas Pendidikan Provinsi Jawa Barat)"
    assert "-" not in data.semester_penduduk.split(", ")  # rows the Dinas entered carry no population semester
