"""The five supporting indices (sarana prasarana, SDM, anggaran, proses, kepuasan masyarakat; issue 20
item 4): formed from the OPD facts of the quarter as their `dasar` says, shown in the report, the
workbook and the dashboard, and a missing input said, never shown as 0."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from spm.reporting.charts import format_number
from spm.reporting.data import BIDANG_NAMES, load_laporan
from spm.reporting.laporan import render_html
from spm.reporting.lokal import bulat
from spm.reporting.pendukung import INDEKS, TANPA_BUKU_KERJA, _kepuasan, _proses, indeks_pendukung
from spm.reporting.penerapan import Penerapan
from spm.reporting.workbook import write_espm_workbook
from spm.sources.opd_layout import TAHAPAN
from spm.warehouse.tables_opd import fact_input_anggaran, fact_input_ikm, fact_input_mutu, fact_input_tahapan
from tests.reporting.conftest import KODE, TAHUN, TRIWULAN
from tests.reporting.test_dashboard import client, reports  # noqa: F401 (fixtures)


def _facts(engine, table, bidang):
    c = table.c
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).where(
            c.kode_kab_kota == KODE, c.tahun == TAHUN, c.triwulan == TRIWULAN, c.bidang == bidang))]


def test_weighting_and_scoring_rules():
    ikm = [{"unit_layanan": "A", "jumlah_responden": 300, "nilai_ikm": 90.0},
           {"unit_layanan": "B", "jumlah_responden": 100, "nilai_ikm": 70.0}]
    k = _kepuasan(ikm)
    assert k.nilai == pytest.approx(85.0) and k.mutu == "B (baik)" and "400 responden" in k.dasar
    tahapan = [{"kode_layanan": "x", **dict(zip(TAHAPAN, ("selesai", "berjalan", "belum", "belum")))}]
    p = _proses(tahapan, 3)
    assert p.nilai == pytest.approx(37.5) and "1 dari 3 jenis layanan" in p.dasar and "1 dari 4 tahapan selesai" in p.dasar
    assert _kepuasan([]).nilai is None and _proses([], 3).nilai is None


@pytest.mark.slow
def test_the_five_follow_the_opd_facts_in_every_output(laporan_engine, tmp_path):
    from openpyxl import load_workbook

    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    html = render_html(data)
    xlsx = tmp_path / "spm.xlsx"
    write_espm_workbook(data, xlsx)
    sheet = [[c for c in row] for row in load_workbook(xlsx)["Indeks"].iter_rows(values_only=True)]
    for bidang in ("pendidikan", "kesehatan"):
        mutu = _facts(laporan_engine, fact_input_mutu, bidang)
        ratio = lambda k: 100 * sum(min(r["jumlah_tersedia"], r["jumlah_dibutuhkan"]) / r["jumlah_dibutuhkan"]  # noqa: E731
                                    for r in mutu if r["komponen"] == k) / sum(1 for r in mutu if r["komponen"] == k)
        anggaran = _facts(laporan_engine, fact_input_anggaran, bidang)
        tahapan = _facts(laporan_engine, fact_input_tahapan, bidang)
        ikm = _facts(laporan_engine, fact_input_ikm, bidang)
        assert ikm and tahapan, "the simulated OPD sent no survey or tahapan"
        score = {"selesai": 100, "berjalan": 50, "belum": 0}
        expected = {
            "sarana_prasarana": ratio("barang_jasa"), "sdm": ratio("sdm"),
            "anggaran": 100 * sum(r["realisasi"] for r in anggaran) / sum(r["alokasi"] for r in anggaran),
            "proses": sum(score[r[t]] for r in tahapan for t in TAHAPAN) / (4 * len(tahapan)),
            "kepuasan": sum(r["nilai_ikm"] * r["jumlah_responden"] for r in ikm) / sum(r["jumlah_responden"] for r in ikm),
        }
        got = {ip.kode: ip for ip in indeks_pendukung(data, bidang)}
        assert [k for k, _ in INDEKS] == list(got)
        for kode, value in expected.items():
            assert got[kode].nilai == pytest.approx(value), kode
            cell = re.search(rf'<tr data-bidang="{bidang}" data-pendukung="{kode}">.*?<td class="n nilai">(.*?)</td>',
                             html, re.S).group(1)
            assert cell.startswith(format_number(bulat(value, 2), 2)), (kode, cell)
            row = next(r for r in sheet if r[1] == BIDANG_NAMES[bidang] and r[2] == got[kode].nama)
            assert row[4] == bulat(value, 2) and row[3] == got[kode].dasar
        assert got["kepuasan"].mutu and f"mutu {got['kepuasan'].mutu}" in html


@pytest.mark.slow
def test_missing_inputs_are_said_not_shown_as_zero(laporan_engine):
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    pn = data.penerapan
    data.penerapan = Penerapan(pn.permasalahan, pn.tahapan, pn.rencana_aksi, {"kesehatan"}, [], pn.tingkat)
    pendidikan = indeks_pendukung(data, "pendidikan")
    assert [(ip.nilai, ip.dasar) for ip in pendidikan] == [(None, TANPA_BUKU_KERJA)] * 5
    kepuasan = indeks_pendukung(data, "kesehatan")[-1]
    assert kepuasan.nilai is None and kepuasan.dasar == "belum ada hasil survei kepuasan masyarakat dalam input OPD"
    html = render_html(data)
    assert '<tr data-bidang="kesehatan" data-pendukung="kepuasan"><td>Kepuasan masyarakat</td><td class="n nilai">–</td>' in html


@pytest.mark.slow
def test_the_dashboard_shows_them_per_bidang_with_how_they_were_formed(laporan_engine, client):  # noqa: F811
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    page = client.get("/", params={"kode": KODE, "tahun": TAHUN, "triwulan": TRIWULAN}).text
    table = re.search(r'<table id="tabel-pendukung">(.*?)</table>', page, re.S).group(1)
    for bidang in ("pendidikan", "kesehatan"):
        for ip in indeks_pendukung(data, bidang):
            row = re.search(rf'<tr data-pendukung="{ip.kode}">(.*?)</tr>', table, re.S).group(1)
            cell = re.search(rf'<td class="n" data-bidang="{bidang}" title="([^"]*)">(.*?)</td>', row).groups()
            assert cell[0] == ip.dasar.replace("&", "&amp;")
            assert cell[1].startswith(format_number(ip.nilai_bulat, 2))
