"""The dashboard over the filled warehouse (SQLite and PostgreSQL), through Starlette's TestClient: the
figures it shows are the mart's, the filters change them, bad choices give a 404 page, it works under a
sub-path, and the downloads are the published files."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
import sqlalchemy as sa

from tests.reporting.conftest import KODE, TAHUN, TRIWULAN

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.slow]


# --- helpers shared with the browser test -------------------------------------------------------------

def mart_capaian(engine, kode_wilayah: str, tahun: int, triwulan: int) -> dict[str, float | None]:
    from spm.warehouse.tables_marts import mart_capaian_spm

    m = mart_capaian_spm.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(m.kode_layanan, m.capaian).where(
            m.kode_wilayah == kode_wilayah, m.jenis_kelamin == "semua", m.tahun == tahun,
            m.triwulan == triwulan)).all()
    return {r.kode_layanan: r.capaian for r in rows}


def mart_indeks_daerah(engine, tahun: int, triwulan: int) -> float | None:
    from spm.warehouse.tables_opd import mart_indeks_spm

    i = mart_indeks_spm.c
    with engine.connect() as conn:
        return conn.execute(sa.select(i.nilai).where(
            i.kode_kab_kota == KODE, i.tahun == tahun, i.triwulan == triwulan,
            i.tingkat_indeks == "daerah")).scalar_one()


def desa_of(engine, kecamatan: str) -> list[str]:
    from spm.warehouse.tables import dim_wilayah

    w = dim_wilayah.c
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(w.kode).where(w.kode_induk == kecamatan, w.berlaku_sampai.is_(None)))
                      .scalars())


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def rows_of(page: str, table_id: str, attr: str = "data-layanan") -> dict[str, str]:
    """The rows of one table: key (the row's data attribute) -> its HTML."""
    m = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert m, f"no table {table_id}"
    return dict(re.findall(rf'<tr\b[^>]*?\b{attr}="([^"]+)"[^>]*>(.*?)</tr>', m.group(1), re.S))


def capaian_shown(page: str) -> dict[str, str]:
    """kode_layanan -> the capaian (%) cell of the kab/kota tables."""
    out = {}
    for table in re.findall(r'<table class="tabel-capaian"[^>]*>(.*?)</table>', page, re.S):
        for kode, row in re.findall(r'<tr data-layanan="([^"]+)">(.*?)</tr>', table, re.S):
            out[kode] = _text(re.search(r'<td class="n capaian">(.*?)</td>', row).group(1))
    return out


def expected_cells(engine, kode_wilayah: str, tahun: int, triwulan: int, kode: list[str] | None = None) -> dict[str, str]:
    """The drill-down cells as the mart says: `62,50 % (5/8)`, or `‡ 9/1` under a small sasaran
    (indeks_spm.yaml tampilan.sasaran_kecil), computed here independently of LaporanData.sel."""
    from spm.config import load_yaml
    from spm.reporting.charts import format_number
    from spm.warehouse.tables_marts import mart_capaian_spm

    small = load_yaml("indeks_spm.yaml")["tampilan"]["sasaran_kecil"]
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(m.kode_layanan, m.capaian, m.terlayani, m.sasaran).where(
            m.kode_wilayah == kode_wilayah, m.jenis_kelamin == "semua", m.tahun == tahun,
            m.triwulan == triwulan)).all()
    out = {}
    for r in rows:
        if kode is not None and r.kode_layanan not in kode:
            continue
        counts = f"{format_number(r.terlayani)}/{format_number(r.sasaran)}"
        out[r.kode_layanan] = (f"‡ {counts}" if r.sasaran < small or r.capaian is None
                               else f"{format_number(r.capaian, 2)} % ({counts})")
    return out


def expected(values: dict[str, float | None], kode: list[str] | None = None) -> dict[str, str]:
    from spm.reporting.charts import format_number

    return {k: format_number(v, 2) for k, v in values.items() if kode is None or k in kode}


# --- fixtures -------------------------------------------------------------------------------------------

@pytest.fixture
def reports(tmp_path):
    return tmp_path / "laporan"


@pytest.fixture
def client(laporan_engine, reports):
    from starlette.testclient import TestClient

    from spm.reporting.dashboard import create_app

    with TestClient(create_app(laporan_engine, laporan_root=reports)) as c:
        yield c


# --- pages and figures ------------------------------------------------------------------------------------

def test_default_page_is_newest_quarter_with_mart_figures(client, laporan_engine):
    from spm.reporting.charts import format_number

    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "Kota Bogor" in page and "Triwulan III" in page
    assert re.search(rf'<option value="{TRIWULAN}" selected>', page)
    assert '<option value="32.71" selected>' in page
    daerah = re.search(r'id="indeks-daerah">.*?<b class="nilai">(.*?)</b>', page, re.S).group(1)
    assert daerah == format_number(mart_indeks_daerah(laporan_engine, TAHUN, TRIWULAN), 2)
    mart = mart_capaian(laporan_engine, KODE, TAHUN, TRIWULAN)
    assert capaian_shown(page) == expected(mart)
    assert "<svg" in page  # bars and trend are inline SVG
    for section in ("indeks", "capaian", "rincian", "tren", "kualitas", "unduh"):
        assert f'<section id="{section}">' in page
    # Nothing is fetched from elsewhere: works offline.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    # Data-quality status of every configured feed.
    assert len(rows_of(page, "tabel-umpan", "data-sumber")) >= 3


def test_filters_change_the_figures(client, laporan_engine):
    tw2 = client.get("/", params={"kode": KODE, "tahun": TAHUN, "triwulan": 2})
    tw3 = client.get("/", params={"kode": KODE, "tahun": TAHUN, "triwulan": 3})
    assert tw2.status_code == tw3.status_code == 200
    mart2, mart3 = (mart_capaian(laporan_engine, KODE, TAHUN, q) for q in (2, 3))
    shown2, shown3 = capaian_shown(tw2.text), capaian_shown(tw3.text)
    assert shown2 == expected(mart2) and shown3 == expected(mart3)
    assert shown2 != shown3, "quarters 2 and 3 show the same figures"
    assert "Triwulan II" in tw2.text and "target" in tw2.text

    kes = client.get("/", params={"kode": KODE, "tahun": TAHUN, "triwulan": 3, "bidang": "kesehatan"}).text
    shown = capaian_shown(kes)
    assert shown and all(k.startswith("kes_") for k in shown)
    assert shown == expected(mart3, [k for k in mart3 if k.startswith("kes_")])
    assert set(rows_of(kes, "tabel-indeks")) == set(shown)
    assert 'id="indeks-kesehatan"' in kes and 'id="indeks-pendidikan"' not in kes
    pend = capaian_shown(client.get("/", params={"triwulan": 3, "bidang": "pendidikan"}).text)
    assert pend and all(k.startswith("pend_") for k in pend)


def test_drill_down_kecamatan_to_desa(client, laporan_engine):
    page = client.get("/", params={"triwulan": 3, "bidang": "semua"}).text
    kecamatan = rows_of(page, "tabel-kecamatan", "data-kecamatan")
    assert len(kecamatan) == 6  # Kota Bogor
    kec = sorted(kecamatan)[1]
    link = html.unescape(re.search(r'<a href="([^"]+)"', kecamatan[kec]).group(1))
    assert f"kecamatan={kec}" in link and link.startswith("/?")
    detail = client.get(link.split("#")[0])
    assert detail.status_code == 200
    desa = rows_of(detail.text, "tabel-desa", "data-desa")
    assert sorted(desa) == desa_of(laporan_engine, kec)
    one = sorted(desa)[0]
    cell = r'<td class="n(?: kecil-n)?" data-layanan="([^"]+)">(.*?)</td>'
    cells = {k: html.unescape(v) for k, v in re.findall(cell, desa[one])}
    assert cells == expected_cells(laporan_engine, one, TAHUN, TRIWULAN)  # counts beside every percentage
    # The kecamatan's own row matches the mart too, and the trend follows the kecamatan.
    cells = {k: html.unescape(v) for k, v in re.findall(cell, kecamatan[kec])}
    assert cells == expected_cells(laporan_engine, kec, TAHUN, TRIWULAN)
    tren = rows_of(detail.text, "tabel-tren")
    kode_layanan = sorted(tren)[0]
    values = [_text(v) for v in re.findall(r'<td class="n">(.*?)</td>', tren[kode_layanan])]
    assert values == [expected(mart_capaian(laporan_engine, kec, TAHUN, q))[kode_layanan] for q in (2, 3)]


def test_trend_over_quarters(client, laporan_engine):
    page = client.get("/").text
    assert "2026 TW II" in page and "2026 TW III" in page
    tren = rows_of(page, "tabel-tren")
    for kode_layanan, row in tren.items():
        values = [_text(v) for v in re.findall(r'<td class="n">(.*?)</td>', row)]
        assert values == [expected(mart_capaian(laporan_engine, KODE, TAHUN, q))[kode_layanan] for q in (2, 3)]


@pytest.mark.parametrize("url, status, says", [
    ("/?kode=99.99", 404, "Kabupaten/kota tidak ditemukan"),
    ("/?kode=32.71&tahun=2026&triwulan=4", 404, "Triwulan tidak tersedia"),
    ("/?kode=32.71&tahun=2019", 404, "Triwulan tidak tersedia"),
    ("/?bidang=pertanian", 404, "Bidang tidak ditemukan"),
    ("/?kecamatan=32.71.99", 404, "Kecamatan tidak ditemukan"),
    ("/?kecamatan=32.71.01&desa=32.71.01.9999", 404, "Desa/kelurahan tidak ditemukan"),
    ("/?triwulan=tiga", 400, "Pilihan tidak valid"),
    ("/tidak-ada", 404, "Halaman tidak ditemukan"),
    ("/unduh/32.71/2026/4/xlsx", 404, "Triwulan tidak tersedia"),
    ("/unduh/99.99/2026/3/pdf", 404, "Triwulan tidak tersedia"),
    ("/unduh/32.71/2026/3/exe", 404, "Berkas tidak dikenal"),
    ("/unduh/..%2F..%2Fetc/2026/3/csv", 404, "tidak"),
])
def test_bad_choices_give_a_clear_page(client, url, status, says):
    r = client.get(url)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert says in r.text and "Traceback" not in r.text
    assert 'href="/"' in r.text  # a way back


def test_available_quarters_are_offered_on_404(client):
    r = client.get("/", params={"kode": KODE, "tahun": TAHUN, "triwulan": 4})
    assert r.status_code == 404
    assert f"/?kode={KODE}&amp;tahun={TAHUN}&amp;triwulan=3" in r.text


def test_empty_warehouse_says_so(tmp_path):
    from starlette.testclient import TestClient

    from spm.reporting.dashboard import create_app
    from spm.warehouse.db import get_engine, upgrade

    engine = get_engine(f"sqlite:///{tmp_path / 'kosong.db'}")
    upgrade(engine)
    with TestClient(create_app(engine, laporan_root=tmp_path)) as c:
        r = c.get("/")
    engine.dispose()
    assert r.status_code == 404 and "Belum ada capaian SPM" in r.text


def test_unreachable_warehouse_is_503_not_a_traceback(tmp_path):
    from starlette.testclient import TestClient

    from spm.reporting.dashboard import create_app

    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(engine, laporan_root=tmp_path), raise_server_exceptions=False) as c:
        r = c.get("/")
    assert r.status_code == 503 and "Gudang data tidak tersedia" in r.text and "Traceback" not in r.text


# --- behind a reverse proxy ------------------------------------------------------------------------------------

@pytest.mark.parametrize("root_path", ["/spm", "spm/", "/pemda/spm"])
def test_root_path_prefixes_every_link(laporan_engine, reports, root_path):
    from starlette.testclient import TestClient

    from spm.reporting.dashboard import create_app

    root = "/" + root_path.strip("/")
    with TestClient(create_app(laporan_engine, root_path=root_path, laporan_root=reports)) as c:
        # The proxy may strip the prefix (proxy_pass http://host:port/) or pass it on.
        for path in (f"{root}/", "/", root):
            r = c.get(path, params={"triwulan": 2})
            assert r.status_code == 200, path
            assert capaian_shown(r.text) == expected(mart_capaian(laporan_engine, KODE, TAHUN, 2))
        page = r.text
        links = re.findall(r'(?:href|action)="([^"]+)"', page)
        assert links
        for link in links:
            assert link.startswith(root + "/") or link.startswith("#"), link
        assert f'action="{root}/"' in page
        kec_link = html.unescape(re.search(r'<tr data-kecamatan="[^"]+"><td><a href="([^"]+)"', page).group(1))
        assert c.get(kec_link.split("#")[0]).status_code == 200
        download = re.search(r'id="unduh-csv" href="([^"]+)"', page).group(1)
        assert download.startswith(f"{root}/unduh/")
        assert c.get(download).status_code == 200
        assert c.get(f"{root}/sehat").text == "ok\n"
        missing = c.get(f"{root}/?kode=99.99")
        assert missing.status_code == 404 and f'href="{root}/"' in missing.text


# --- downloads ------------------------------------------------------------------------------------------

def test_downloads_are_the_published_files(client, laporan_engine, reports):
    import openpyxl

    from spm.reporting.publish import MEDIA, publication_of

    t = publication_of(KODE, TAHUN, TRIWULAN, reports)
    assert not t.is_complete()  # nothing published yet: the first download builds it
    page = client.get("/", params={"triwulan": TRIWULAN}).text
    hrefs = dict(re.findall(r'id="unduh-(\w+)" href="([^"]+)"', page))
    assert set(hrefs) == {"xlsx", "pdf", "html", "csv", "csv_excel"}
    got = {}
    for jenis, href in hrefs.items():
        r = client.get(href)
        assert r.status_code == 200, (jenis, r.text[:300])
        assert r.headers["content-type"].split(";")[0] == MEDIA[jenis]
        assert r.headers["content-disposition"] == f'attachment; filename="{t.path(jenis).name}"'
        got[jenis] = r.content
    assert t.is_complete()
    for jenis, content in got.items():
        assert content == t.path(jenis).read_bytes(), jenis
    assert got["pdf"].startswith(b"%PDF")
    wb = openpyxl.load_workbook(io.BytesIO(got["xlsx"]))
    assert wb.sheetnames
    assert got["csv"].decode("utf-8").startswith("tahun,triwulan,kode_wilayah")
    # The same rows in the form Excel set to Indonesian opens: `;`, a decimal comma, a BOM.
    plain = got["csv"].decode("utf-8").splitlines()
    excel = got["csv_excel"].decode("utf-8-sig").splitlines()
    assert got["csv_excel"].startswith(b"\xef\xbb\xbf") and excel[0] == plain[0].replace(",", ";")
    assert len(excel) == len(plain) and any("," in line.split(";")[7] for line in excel[1:])
    first = next(i for i, line in enumerate(plain[1:], 1) if "." in line.split(",")[7])
    cells = [line.split(",") for line in plain[first:first + 1]][0]
    assert excel[first].split(";")[7] == cells[7].replace(".", ",")  # sasaran, unrounded
    assert b"Laporan Penerapan Standar Pelayanan Minimal" in got["html"]

    # Served again from the published files, not rebuilt.
    before = {j: t.path(j).stat().st_mtime_ns for j in hrefs}
    assert client.get(hrefs["xlsx"]).content == got["xlsx"]
    assert {j: t.path(j).stat().st_mtime_ns for j in hrefs} == before

    # Figures recomputed since publication (the manifest's time differs): republished before serving.
    manifest = json.loads(t.manifest.read_text(encoding="utf-8"))
    real = manifest["dihitung"]
    manifest["dihitung"] = "2000-01-01T00:00:00+00:00"
    t.manifest.write_text(json.dumps(manifest), encoding="utf-8")
    assert client.get(hrefs["csv"]).content == got["csv"]
    assert json.loads(t.manifest.read_text(encoding="utf-8"))["dihitung"] == real


def test_download_of_the_other_quarter(client, reports):
    from spm.reporting.publish import publication_of

    r = client.get(f"/unduh/{KODE}/{TAHUN}/2/csv")
    assert r.status_code == 200
    assert r.content == publication_of(KODE, TAHUN, 2, reports).path("csv").read_bytes()
    assert b"\n2026,2," in r.content and b"\n2026,3," not in r.content


# --- command line -----------------------------------------------------------------------------------------------

def test_cli_dashboard_arguments():
    from spm.cli import build_parser

    args = build_parser().parse_args(["--warehouse-url", "sqlite:///a.db", "dashboard", "--port", "9000",
                                      "--root-path", "/spm"])
    assert (args.host, args.port, args.root_path) == ("127.0.0.1", 9000, "/spm")
    assert args.warehouse_url == "sqlite:///a.db" and args.dashboard_warehouse_url is None
    args = build_parser().parse_args(["dashboard", "--warehouse-url", "sqlite:///b.db", "--host", "0.0.0.0"])
    assert (args.host, args.port, args.root_path, args.dashboard_warehouse_url) == \
        ("0.0.0.0", 8050, "", "sqlite:///b.db")


def test_cli_dashboard_refuses_a_missing_schema(tmp_path, capsys):
    from spm.cli import main

    rc = main(["dashboard", "--warehouse-url", f"sqlite:///{tmp_path / 'leer.db'}", "--port", "1"])
    assert rc == 1
    assert "spm: error:" in capsys.readouterr().err


def test_the_dashboard_links_to_the_quality_pages_it_serves(laporan_engine, tmp_path):
    """Issue 20: nothing linked to the quality pages. They are served read-only under /kualitas/."""
    from starlette.testclient import TestClient

    from spm.reporting.dashboard import create_app
    from spm.reporting.kualitas import write_pages

    kualitas = tmp_path / "kualitas"
    write_pages(laporan_engine, kualitas)
    (tmp_path / "rahasia.txt").write_text("di luar halaman kualitas")
    with TestClient(create_app(laporan_engine, laporan_root=tmp_path / "laporan", kualitas_root=kualitas)) as c:
        page = c.get("/", params={"triwulan": 3}).text
        index = html.unescape(re.search(r'id="halaman-kualitas" href="([^"]+)"', page).group(1))
        r = c.get(index)
        assert r.status_code == 200 and "Kualitas data SPM" in r.text
        for link in re.findall(r'href="(/kualitas/[a-z]+/index\.html)"', page):
            assert c.get(link).status_code == 200, link
        assert re.findall(r'href="(/kualitas/[a-z]+/index\.html)"', page)
        assert c.get("/kualitas/../rahasia.txt").status_code == 404
        assert c.get("/kualitas/%2e%2e/rahasia.txt").status_code == 404


def test_the_sekda_sees_lagging_opds_grouped_and_the_spread(client, laporan_engine):
    from spm.reporting.data import load_laporan

    page = client.get("/", params={"triwulan": 3}).text
    data = load_laporan(laporan_engine, KODE, TAHUN, 3)
    behind = [t for t in data.target() if t.behind]
    assert behind, "the fixture has services behind target"
    listed = re.search(r'<ul id="daftar-tertinggal">(.*?)</ul>', page, re.S).group(1)
    groups = dict(re.findall(r'<li data-opd="([^"]+)">(.*?)</li>', listed, re.S))
    assert set(groups) == {t.opd for t in behind}  # one line per OPD, its services in it
    for t in behind:
        assert f'data-layanan="{t.kode_layanan}"' in groups[t.opd]
    table = re.search(r'<table id="tabel-sebaran">(.*?)</table>', page, re.S).group(1)
    shown = re.findall(r'<tr data-layanan="([^"]+)">', table)
    assert shown == [s.kode_layanan for s in data.spreads()] and shown
