"""The dashboard in a real headless browser: Debian's Chromium driven by Playwright, against `spm dashboard`
started as a subprocess under a sub-path (as behind a Pemda's reverse proxy) on the filled SQLite warehouse.

Without /usr/bin/chromium (or Playwright) the test skips, except under CI (CI=true), where it fails:
`.ci/run` installs Chromium from Debian's packages. Set SPM_DASHBOARD_SCREENSHOT=/path.png to keep a
screenshot of the page."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ports import free_port

from tests.reporting.conftest import KODE, TAHUN
from tests.reporting.test_dashboard import desa_of, expected, expected_cells, mart_capaian, mart_indeks_daerah

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = "/spm"


def _why_no_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -r requirements-test.txt)"
    return None


WHY_NOT = _why_no_browser()
pytestmark = [pytest.mark.slow]
if WHY_NOT and os.environ.get("CI") != "true":
    pytestmark.append(pytest.mark.skip(reason=f"browser test: {WHY_NOT}"))



@pytest.fixture
def dashboard(laporan_url, tmp_path):
    """`spm dashboard --root-path /spm` on a free port; yields its base URL."""
    with serve_dashboard(laporan_url, tmp_path) as base:
        yield base


@contextlib.contextmanager
def serve_dashboard(laporan_url: str, tmp_path: Path, spm_home: Path | None = None):
    port = free_port()
    spm = Path(sys.executable).with_name("spm")
    command = [str(spm)] if spm.exists() else [sys.executable, "-m", "spm.cli"]
    log = (tmp_path / "dashboard.log").open("w")
    proc = subprocess.Popen([*command, "dashboard", "--warehouse-url", laporan_url, "--host", "127.0.0.1",
                             "--port", str(port), "--root-path", ROOT],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **({"SPM_HOME": str(spm_home)} if spm_home else {})})
    base = f"http://127.0.0.1:{port}{ROOT}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"spm dashboard exited with {proc.returncode}: "
                            + (tmp_path / "dashboard.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{base}/sehat", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("spm dashboard did not answer within 90 s: "
                            + (tmp_path / "dashboard.log").read_text()[-2000:])
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def chromium():
    """Debian's Chromium driven by Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watched_page(browser):
    """A desktop-sized page that accepts downloads, and the list its script errors are collected in."""
    page = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def _cells(page, rows: str, cell: str, key: str) -> dict[str, str]:
    """data-<key> of each row (or cell) -> its text, read through the browser's rendering."""
    out = {}
    loc = page.locator(rows)
    for i in range(loc.count()):
        row = loc.nth(i)
        target = row.locator(cell) if cell else row
        out[row.get_attribute(f"data-{key}")] = target.inner_text().strip()
    return out


def _counts(engine, kode_wilayah: str) -> dict[str, tuple[float, int]]:
    import sqlalchemy as sa

    from spm.warehouse.tables_marts import mart_capaian_spm

    m = mart_capaian_spm.c
    with engine.connect() as conn:
        return {r.kode_layanan: (r.sasaran, r.terlayani) for r in conn.execute(sa.select(m.kode_layanan, m.sasaran, m.terlayani)
                .where(m.kode_wilayah == kode_wilayah, m.jenis_kelamin == "semua", m.tahun == TAHUN, m.triwulan == 3))}


def _capaian(page) -> dict[str, str]:
    return _cells(page, "table.tabel-capaian tr[data-layanan]", "td.capaian", "layanan")


@pytest.mark.parametrize("laporan_url", ["sqlite"], indirect=True)
def test_dashboard_in_chromium(laporan_url, laporan_engine, dashboard, tmp_path):
    if WHY_NOT:  # only reached under CI, where a missing browser is a failure
        pytest.fail(f"browser test cannot run under CI: {WHY_NOT}")
    from spm.reporting.charts import format_number
    from spm.reporting.publish import publication_of

    mart2, mart3 = (mart_capaian(laporan_engine, KODE, TAHUN, q) for q in (2, 3))
    with chromium() as browser:
        page, errors = watched_page(browser)
        # Anything not from the dashboard itself would be a dependency on the internet.
        foreign: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(dashboard) else foreign.append(r.url))

        # 1. The page loads with the index of the newest quarter.
        response = page.goto(dashboard + "/")
        assert response is not None and response.status == 200
        assert "Dasbor Standar Pelayanan Minimal" in page.inner_text("h1")
        assert "Kota Bogor" in page.inner_text("#judul")
        assert page.inner_text("#indeks-daerah .nilai") == format_number(mart_indeks_daerah(laporan_engine, TAHUN, 3), 2)
        assert _capaian(page) == expected(mart3)
        assert page.locator("#capaian svg").count() >= 2 and page.locator("#tren svg").count() == 1
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)

        # 2. Choosing triwulan II submits the form by itself and shows that quarter's figures.
        with page.expect_navigation():
            page.select_option("select[name=triwulan]", "2")
        assert "triwulan=2" in page.url and page.url.startswith(dashboard + "/")
        assert "Triwulan II" in page.inner_text("#judul")
        assert _capaian(page) == expected(mart2) != expected(mart3)
        assert page.inner_text("#indeks-daerah .nilai") == format_number(mart_indeks_daerah(laporan_engine, TAHUN, 2), 2)

        # 3. ... and a bidang narrows it (the quarter stays).
        with page.expect_navigation():
            page.select_option("select[name=bidang]", "kesehatan")
        shown = _capaian(page)
        assert shown == expected(mart2, [k for k in mart2 if k.startswith("kes_")])
        assert "Bidang Kesehatan" in page.inner_text("#judul")
        with page.expect_navigation():
            page.select_option("select[name=triwulan]", "3")
        assert _capaian(page) == expected(mart3, [k for k in mart3 if k.startswith("kes_")]) != shown

        # 4. Clicking a kecamatan shows its desa with their figures.
        row = page.locator("#tabel-kecamatan tr[data-kecamatan]").nth(2)
        kecamatan = row.get_attribute("data-kecamatan")
        nama = row.locator("a").inner_text()
        with page.expect_navigation():
            row.locator("a").click()
        assert f"kecamatan={kecamatan}" in page.url
        assert nama in page.inner_text("#desa")
        desa = list(_cells(page, "#tabel-desa tr[data-desa]", "td:first-child", "desa"))
        assert sorted(desa) == desa_of(laporan_engine, kecamatan)
        first = sorted(desa)[0]
        cells = _cells(page, f"#tabel-desa tr[data-desa='{first}'] td[data-layanan]", "", "layanan")
        mart_desa = mart_capaian(laporan_engine, first, TAHUN, 3)
        assert cells == expected_cells(laporan_engine, first, TAHUN, 3, [k for k in mart_desa if k.startswith("kes_")])
        page.screenshot(path=str(tmp_path / "dashboard-desa.png"), full_page=True)

        # 4b. Clicking a desa shows its counts per jenis layanan, L and P apart.
        with page.expect_navigation():
            page.locator(f"#tabel-desa tr[data-desa='{first}'] a").click()
        assert f"desa={first}" in page.url
        rinci = {r.get_attribute("data-layanan"): r for r in page.locator("#tabel-desa-rinci tr[data-layanan]").all()}
        assert set(rinci) == {k for k in mart_desa if k.startswith("kes_")}  # the bidang chosen in 3.
        for kode, (sasaran, terlayani) in _counts(laporan_engine, first).items():
            if kode in rinci:
                assert rinci[kode].locator("td.sasaran").inner_text() == format_number(sasaran)
                assert rinci[kode].locator("td.terlayani").inner_text() == format_number(terlayani)

        # 5. The downloads are the published files of the quarter shown.
        t = publication_of(KODE, TAHUN, 3)
        for jenis in ("xlsx", "pdf"):
            with page.expect_download(timeout=120_000) as info:
                page.click(f"#unduh-{jenis}")
            download = info.value
            assert download.failure() is None
            assert download.suggested_filename == t.path(jenis).name
            got = Path(download.path()).read_bytes()
            assert got == t.path(jenis).read_bytes(), jenis
        assert got.startswith(b"%PDF")

        # 6. Without JavaScript the submit button does the same.
        plain = browser.new_context(java_script_enabled=False).new_page()
        plain.goto(dashboard + "/")
        plain.select_option("select[name=triwulan]", "2")
        with plain.expect_navigation():
            plain.click("#saring button[type=submit]")
        assert _capaian(plain) == expected(mart2)

        # 7. An unknown kab/kota is a readable 404 page.
        missing = page.goto(dashboard + "/?kode=99.99")
        assert missing is not None and missing.status == 404
        assert "tidak ditemukan" in page.inner_text("#galat")

        # 8. At 1366x768 what matters is above the fold: the index and the lagging OPDs side by side.
        wide = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        wide.goto(dashboard + "/")
        for selector in ("#indeks-daerah", "#daftar-tertinggal li", "#tabel-indeks tr[data-layanan]"):
            box = wide.locator(selector).first.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 768, f"{selector} is below the fold"
        assert wide.evaluate("document.documentElement.scrollWidth") <= 1366

        # 9. On a 390-px phone the page never scrolls sideways: wide tables and charts scroll in their
        # own box, and charts keep their text at 9 px or more instead of shrinking to fit.
        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        phone.goto(dashboard + "/?kecamatan=" + kecamatan)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        unboxed = phone.evaluate("""() => Array.from(document.querySelectorAll('table, svg.grafik')).filter(e => {
            if (e.getBoundingClientRect().right <= 390) return false;
            for (let a = e.parentElement; a; a = a.parentElement)
                if (getComputedStyle(a).overflowX === 'auto' && a.getBoundingClientRect().right <= 390) return false;
            return true; }).map(e => e.id || e.tagName)""")
        assert unboxed == [], f"wider than the phone and not scrollable: {unboxed}"
        text_px = phone.evaluate("""() => Array.from(document.querySelectorAll('svg.grafik')).map(e =>
            parseFloat(e.getAttribute('font-size')) * e.getBoundingClientRect().width / e.viewBox.baseVal.width)""")
        assert text_px and min(text_px) >= 9, f"chart text shrunk to {min(text_px):.1f} px"
        phone.screenshot(path=str(tmp_path / "dashboard-390.png"), full_page=False)

        assert errors == [] and foreign == []
    target = os.environ.get("SPM_DASHBOARD_SCREENSHOT")
    if target:
        shutil.copyfile(shot, target)
        shutil.copyfile(tmp_path / "dashboard-desa.png", Path(target).with_name(Path(target).stem + "-desa.png"))


def _log_in(page, base: str, username: str, password: str) -> None:
    page.goto(base + "/")
    assert "/masuk?next=" in page.url  # accounts exist: nobody reads without logging in
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form.masuk button[type=submit]")


def _log_out(page) -> None:
    with page.expect_navigation():
        page.click("#keluar")
    assert "/masuk" in page.url


@pytest.mark.parametrize("approval_url", ["sqlite"], indirect=True)
def test_verify_and_approve_in_chromium(approval_url, tmp_path):
    """The two OPD heads verify their bidang and the Bagian Tata Pemerintahan approves, each logged in
    through the browser; the report downloaded afterwards says FINAL; re-opening makes revision 2 a draft."""
    if WHY_NOT:
        pytest.fail(f"browser test cannot run under CI: {WHY_NOT}")
    from pypdf import PdfReader

    from spm.reporting.akun import add_user
    from spm.warehouse.db import get_engine
    from tests.reporting.conftest import TRIWULAN, clear_approvals

    engine = get_engine(approval_url)
    password = "rahasia-sekali-123"
    add_user(engine, "kadisdik", "Kepala Dinas Pendidikan", "verifikator", password, KODE, "pendidikan")
    add_user(engine, "kadinkes", "Kepala Dinas Kesehatan", "verifikator", password, KODE, "kesehatan")
    add_user(engine, "tapem", "Kabag Tata Pemerintahan", "penyetuju", password, KODE)
    try:
        with serve_dashboard(approval_url, tmp_path, spm_home=tmp_path / "home") as base, chromium() as browser:
            page, errors = watched_page(browser)
            quarter = f"kode={KODE}&tahun={TAHUN}&triwulan={TRIWULAN}"

            # A wrong password is refused, the right one lands on the dashboard.
            page.goto(base + "/")
            page.fill("input[name=username]", "kadisdik")
            page.fill("input[name=password]", "bukan-kata-sandinya")
            with page.expect_navigation():
                page.click("form.masuk button[type=submit]")
            assert "salah" in page.inner_text("#pesan-galat")
            for who, bidang in (("kadisdik", "pendidikan"), ("kadinkes", "kesehatan")):
                _log_in(page, base, who, password)
                assert "Kepala Dinas" in page.inner_text("#akun")
                page.goto(f"{base}/?{quarter}")
                assert page.inner_text("#persetujuan .status-dokumen") == "DRAF"
                with page.expect_navigation():
                    page.click("#tautan-persetujuan")
                assert page.locator("#tombol-setujui").count() == 0
                with page.expect_navigation():
                    page.click(f"#verifikasi-{bidang}")
                assert page.inner_text("#pesan") == f"Bidang {bidang} diverifikasi."
                row = page.locator(f"#tabel-verifikasi tr[data-bidang={bidang}]")
                assert row.get_attribute("data-status") == "terverifikasi" and who in row.inner_text()
                _log_out(page)

            _log_in(page, base, "tapem", password)
            page.goto(f"{base}/persetujuan?{quarter}")
            with page.expect_navigation():
                page.click("#tombol-setujui")
            assert page.inner_text("#status-dokumen") == "FINAL"
            page.screenshot(path=str(tmp_path / "persetujuan.png"), full_page=True)
            page.goto(f"{base}/?{quarter}")
            with page.expect_download(timeout=120_000) as info:
                page.click("#unduh-pdf")
            pdf = info.value.path()
            text = " ".join(pg.extract_text() for pg in PdfReader(str(pdf)).pages[:2])
            assert "FINAL revisi 1" in text and "disetujui tapem" in text

            page.goto(f"{base}/persetujuan?{quarter}")
            page.fill("textarea[name=alasan]", "koreksi data penduduk dari Disdukcapil")
            with page.expect_navigation():
                page.click("#buka-kembali")
            assert page.inner_text("#status-dokumen") == "DRAF" and "revisi 2" in page.inner_text("#status")
            assert "koreksi data penduduk dari Disdukcapil" in page.inner_text("#tabel-riwayat")
            assert errors == []
            if os.environ.get("SPM_DASHBOARD_SCREENSHOT"):
                page.screenshot(path=os.environ["SPM_DASHBOARD_SCREENSHOT"].replace(".png", "-persetujuan.png"),
                                full_page=True)
    finally:
        clear_approvals(engine)
        engine.dispose()
