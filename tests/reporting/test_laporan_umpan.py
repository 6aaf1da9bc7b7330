"""The quality status beside the figures (issue 20): every warning the batches used were published with,
in Indonesian, and the OPD workbooks as a feed of their own, in the report and on the dashboard."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from spm.reporting.charts import format_number
from spm.reporting.data import load_laporan
from spm.reporting.laporan import render_html
from spm.reporting.umpan import feed_status
from spm.warehouse.tables import dq_result
from tests.reporting.conftest import KODE, TAHUN, TRIWULAN
from tests.reporting.test_dashboard import client, reports  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # reads the simulated warehouse the reporting tests share


def _failed_warnings(engine, used: list[int]) -> list[tuple[int, str]]:
    d = dq_result.c
    with engine.connect() as conn:
        return sorted((r.batch_id, r.expectation) for r in conn.execute(sa.select(d.batch_id, d.expectation).where(
            d.batch_id.in_(used), d.success.is_(False), d.severity == "warning")))


def _rows(html: str) -> list[tuple[int, str, str]]:
    table = re.search(r'<table id="tabel-catatan-mutu">(.*?)</table>', html, re.S).group(1)
    return [(int(b), p, re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)[6])
            for b, p, tr in re.findall(r'<tr data-batch="(\d+)" data-pemeriksaan="([^"]+)">(.*?)</tr>', table, re.S)]


def test_every_failed_warning_of_the_batches_used_is_listed_with_its_meaning(laporan_engine, client):  # noqa: F811
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    expected = _failed_warnings(laporan_engine, data.batch_ids)
    assert expected, "the simulated quarter has no failed warning to show"
    assert any(e == "tersedia_melebihi_dibutuhkan" for _, e in expected)  # an OPD's, not only the sources'
    page = client.get("/", params={"kode": KODE, "tahun": TAHUN, "triwulan": TRIWULAN}).text
    for html in (render_html(data), page):
        rows = _rows(html)
        assert sorted((b, p) for b, p, _ in rows) == expected
        assert all(uraian and uraian != "–" for *_, uraian in rows), rows  # each says what it means


def test_the_opd_workbooks_are_a_feed_of_their_own(laporan_engine):
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    opd = [u for u in data.umpan if u.sumber == "opd"]
    assert [u.entitas for u in opd] == ["pendidikan", "kesehatan"]
    assert all(u.status == "buku kerja triwulan ini diterima" and u.batches_used == 1 for u in opd)
    html = render_html(data)
    assert html.count("buku kerja triwulan ini diterima") == 2
    with laporan_engine.connect() as conn:  # a quarter whose figures used no workbook
        [none] = feed_status(conn, KODE, set(), data.computed_at, ["pendidikan"], KODE)[-1:]
    assert (none.status, none.last_success, none.batches_used) == ("belum ada buku kerja triwulan ini", None, 0)


def test_an_index_without_nilai_says_why_naming_the_jenis_layanan(laporan_engine):
    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    why = "mutu kosong: tidak ada nilai untuk kes_bbl, kes_dm (rata-rata 12 anggota, kosong bila ada anggota yang kosong)"
    data.indeks = [dict(r, nilai=None, keterangan=why) if r["tingkat_indeks"] == "bidang" and r["bidang"] == "kesehatan"
                   else r for r in data.indeks]
    shown = data.keterangan(why)
    assert shown.startswith("mutu kosong: tidak ada nilai untuk Pelayanan kesehatan bayi baru lahir, Pelayanan kesehatan "
                            "penderita diabetes melitus (")
    html = render_html(data)
    assert f'<p class="kecil" data-tanpa-nilai="Bidang Kesehatan"><b>Bidang Kesehatan</b>: {shown}</p>' in html
    assert "kes_bbl" not in re.sub(r'data-[a-z-]+="[^"]*"', "", html)  # codes stay in attributes only


def test_the_dashboard_shows_each_feeds_age_now_beside_its_age_when_computed(laporan_engine, client):  # noqa: F811
    from datetime import datetime, timezone

    from spm.reporting.umpan import umur_sekarang

    data = load_laporan(laporan_engine, KODE, TAHUN, TRIWULAN)
    before = datetime.now(timezone.utc)
    page = client.get("/", params={"kode": KODE, "tahun": TAHUN, "triwulan": TRIWULAN}).text
    now = umur_sekarang(laporan_engine, data, before)
    dukcapil = next(u for u in data.umpan if (u.sumber, u.entitas) == ("dukcapil", "penduduk"))
    # the warehouse was filled minutes ago, its figures computed right after: both ages are small and
    # now is no younger than at computation
    assert now[("dukcapil", "penduduk")] >= dukcapil.age_hours
    row = re.search(r'<tr class="[^"]*" data-sumber="dukcapil"><td>dukcapil</td><td>penduduk</td>(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[1] == format_number(dukcapil.age_hours, 1)
    assert cells[2] in {format_number(now[("dukcapil", "penduduk")] + d / 3600, 1) for d in range(0, 120)}
