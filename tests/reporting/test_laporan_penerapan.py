"""What the OPD wrote (permasalahan and solusi, tahapan penerapan, rencana aksi) in the report and the
e-SPM workbook (issue 20 item 2): every row of the warehouse's facts, in the OPD's words, and a part
the OPD did not fill said as such, never left out."""

from __future__ import annotations

import html as html_lib
import re

import pytest
import sqlalchemy as sa

from spm.reporting.data import BIDANG_NAMES, load_laporan
from spm.reporting.laporan import render_html
from spm.reporting.penerapan import BELUM_DIISI, MONTH_NAMES, TANPA_INPUT, Penerapan, status_tahapan
from spm.reporting.publish import publish_laporan
from spm.reporting.workbook import write_espm_workbook
from spm.sources.opd_layout import TAHAPAN
from spm.warehouse.tables_opd import fact_input_permasalahan, fact_input_rencana_aksi, fact_input_tahapan
from tests.reporting.conftest import KODE, TAHUN, TRIWULAN

pytestmark = pytest.mark.slow  # reads the simulated warehouse the reporting tests share


def _facts(engine, table):
    c = table.c
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).where(
            c.kode_kab_kota == KODE, c.tahun == TAHUN, c.triwulan == TRIWULAN).order_by(c.bidang, c.baris))]


def _section(ws, title: str) -> list[list]:
    """The rows of the workbook section whose title starts with `title`, up to the next blank row."""
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    start = next(i for i, r in enumerate(rows) if isinstance(r[0], str) and r[0].startswith(title))
    out = []
    for r in rows[start + 1:]:
        if all(v is None for v in r):
            break
        out.append(r)
    return out


def _html_table(html: str, name: str) -> list[list[str]]:
    body = re.search(rf'<table data-penerapan="{name}">(.*?)</table>', html, re.S).group(1)
    return [[html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_every_narrative_row_of_the_warehouse_is_in_the_html_and_the_workbook(laporan_engine, tmp_path):
    from openpyxl import load_workbook

    permasalahan = _facts(laporan_engine, fact_input_permasalahan)
    tahapan = _facts(laporan_engine, fact_input_tahapan)
    rencana = _facts(laporan_engine, fact_input_rencana_aksi)
    assert permasalahan and tahapan and rencana, "the simulated OPD wrote no narrative"
    published = publish_laporan(laporan_engine, KODE, TAHUN, TRIWULAN, root=tmp_path)
    html = open(published["html"], encoding="utf-8").read()
    wb = load_workbook(published["xlsx"])
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    for bidang in ("pendidikan", "kesehatan"):
        ws = wb[f"Penerapan {BIDANG_NAMES[bidang]}"]
        layanan = {lay.kode: lay.nama for lay in data.layanan_bidang(bidang)}

        # tahapan: one row per jenis layanan, the four statuses in Indonesian, in catalog order
        rows = _html_table(html, f"tahapan-{bidang}")
        sheet = _section(ws, "D. TAHAPAN")
        by_kode = {r["kode_layanan"]: r for r in tahapan if r["bidang"] == bidang}
        assert [r[1] for r in rows[1:]] == list(layanan.values()) == [r[1] for r in sheet[1:]]
        for html_row, sheet_row, kode in zip(rows[1:], sheet[1:], layanan):
            expected = [status_tahapan(by_kode[kode][t]) for t in TAHAPAN]
            assert html_row[2:6] == expected == sheet_row[2:6], kode

        # permasalahan and solusi: every row, grouped under its jenis layanan
        mine = [r for r in permasalahan if r["bidang"] == bidang]
        rows = _html_table(html, f"permasalahan-{bidang}")
        html_pairs = [(r[1], r[2]) for r in rows if len(r) == 3 and r[0].isdigit()]
        sheet_pairs = [(r[1], r[2]) for r in _section(ws, "E. PERMASALAHAN") if isinstance(r[0], int)]
        expected = [(r["permasalahan"], r["solusi"]) for kode in layanan for r in mine if r["kode_layanan"] == kode]
        assert html_pairs == expected == sheet_pairs
        assert sorted(expected) == sorted((r["permasalahan"], r["solusi"]) for r in mine)  # none dropped

        # rencana aksi: kegiatan, keluaran, unit, the month it ends named, the budget in rupiah
        mine = [r for r in rencana if r["bidang"] == bidang]
        rows = [r for r in _html_table(html, f"rencana-{bidang}") if len(r) == 6 and r[0].isdigit()]
        sheet = [r for r in _section(ws, "F. RENCANA AKSI") if isinstance(r[0], int)]
        assert len(rows) == len(mine) == len(sheet)
        for r in mine:
            bulan = f"{MONTH_NAMES[r['bulan_selesai'] - 1]} {TAHUN}"
            assert [r["kegiatan"], r["keluaran"], r["unit_pelaksana"], bulan] in [x[1:5] for x in rows]
            assert [r["kegiatan"], bulan, r["anggaran"], r["keluaran"], None, r["unit_pelaksana"]] in \
                [x[1:7] for x in sheet]


def test_a_part_the_opd_left_empty_and_a_bidang_without_a_workbook_are_said(laporan_engine, tmp_path):
    from openpyxl import load_workbook

    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    # pendidikan sent a workbook of the older template (no narrative sheets); kesehatan sent none
    data.penerapan = Penerapan(bidang_input={"pendidikan"})
    html = render_html(data)
    part = re.search(r'<h3 id="penerapan-pendidikan">.*?(?=<h3 id="penerapan-kesehatan">)', html, re.S).group(0)
    assert part.count(f"Bagian ini {BELUM_DIISI} untuk triwulan ini.") == 3  # tahapan, permasalahan, rencana aksi
    assert f'<p class="kecil" data-penerapan="kesehatan">{TANPA_INPUT}</p>' in html
    xlsx = tmp_path / "spm.xlsx"
    write_espm_workbook(data, xlsx)
    wb = load_workbook(xlsx)
    for title in ("D. TAHAPAN", "E. PERMASALAHAN", "F. RENCANA AKSI"):
        assert _section(wb["Penerapan Pendidikan"], title)[0][0] == f"Bagian ini {BELUM_DIISI} untuk triwulan ini."
        assert _section(wb["Penerapan Kesehatan"], title)[0][0] == TANPA_INPUT


def test_a_jenis_layanan_without_a_problem_and_an_unset_status_are_said(laporan_engine):
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    pn = data.penerapan
    first, *rest = [lay for lay in data.layanan_bidang("kesehatan")]
    pn.permasalahan = [r for r in pn.permasalahan if r["kode_layanan"] != first.kode]
    pn.tahapan = [dict(r, pelaksanaan=None) if r["kode_layanan"] == first.kode else r for r in pn.tahapan]
    html = render_html(data)
    rows = _html_table(html, "permasalahan-kesehatan")
    at = rows.index([first.nama])
    assert rows[at + 1] == ["", "Tidak ada permasalahan yang dicatat OPD."]
    tahapan = _html_table(html, "tahapan-kesehatan")
    assert next(r for r in tahapan if r[1] == first.nama)[5] == BELUM_DIISI


def test_each_sheet_ends_with_the_block_its_signatory_signs(laporan_engine, tmp_path):
    from openpyxl import load_workbook

    from spm.reporting.pengesahan import NIP, kepala_opd, koordinator

    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    xlsx = tmp_path / "spm.xlsx"
    write_espm_workbook(data, xlsx)
    wb = load_workbook(xlsx)

    def tail(ws) -> list[str]:
        return [v for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str)][-3:]

    assert kepala_opd(data, "kesehatan") == "Kepala Dinas Kesehatan Kota Bogor"
    for bidang in ("pendidikan", "kesehatan"):
        for sheet in (BIDANG_NAMES[bidang], f"Penerapan {BIDANG_NAMES[bidang]}"):
            jabatan, _, nip = tail(wb[sheet])
            assert (jabatan, nip) == (kepala_opd(data, bidang), NIP), sheet
    assert tail(wb["Indeks"])[0] == koordinator(data) == "Kepala Bagian Tata Pemerintahan Sekretariat Daerah Kota Bogor"
