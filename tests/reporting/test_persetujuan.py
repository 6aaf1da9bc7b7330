"""Approval before publishing (issue 20 item 3, docs/persetujuan.md), on a warehouse filled by the real
pipeline, SQLite and PostgreSQL: each bidang verified by its verifikator, the quarter approved by the
penyetuju, an approved quarter locked against a recomputation that would change it (refused, recorded,
alerted to the bidang's OPD), re-opened with a reason into a new draft revision, and the published
files saying DRAF or FINAL with the revision."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.reporting.conftest import KODE, TAHUN, TRIWULAN, clear_approvals

PASSWORD = "rahasia-sekali-123"

pytestmark = [pytest.mark.slow]


@pytest.fixture
def engine(approval_url):
    from spm.warehouse.db import get_engine

    engine = get_engine(approval_url)
    yield engine
    clear_approvals(engine)  # every test starts from a draft nobody touched
    engine.dispose()


def _accounts(engine):
    from spm.reporting.akun import add_user

    pw = PASSWORD
    return {
        "disdik": add_user(engine, "kadisdik", "Kepala Dinas Pendidikan", "verifikator", pw, KODE, "pendidikan"),
        "dinkes": add_user(engine, "kadinkes", "Kepala Dinas Kesehatan", "verifikator", pw, KODE, "kesehatan"),
        "tapem": add_user(engine, "tapem", "Kabag Tata Pemerintahan", "penyetuju", pw, KODE),
        "pembaca": add_user(engine, "bappeda", "Bappeda", "pembaca", pw),
        "lain": add_user(engine, "tapem-lain", "Kabag Tapem kab/kota lain", "penyetuju", pw, "32.72"),
    }


def _bump_population(engine, delta: int) -> None:
    """A correction of the population feed: one desa's count changes, so every sasaran there does."""
    from spm.warehouse.tables import fact_penduduk

    p = fact_penduduk.c
    with engine.begin() as conn:
        row = conn.execute(sa.select(p.kode_desa, p.jenis_kelamin, p.umur, p.tahun, p.semester).where(
            p.kode_kab_kota == KODE, p.umur == 6).order_by(p.kode_desa).limit(1)).one()
        conn.execute(sa.update(fact_penduduk).where(
            p.kode_desa == row.kode_desa, p.jenis_kelamin == row.jenis_kelamin, p.umur == row.umur,
            p.tahun == row.tahun, p.semester == row.semester).values(jumlah=p.jumlah + delta))


def _status_line(page: str) -> str:
    m = re.search(r'<p id="status-dokumen"[^>]*>(.*?)</p>', page, re.S)
    assert m, "no status line"
    return html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()


def _figures(engine):
    from spm.warehouse import persetujuan

    with engine.connect() as conn:
        return persetujuan.figures(conn, KODE, TAHUN, TRIWULAN)


@pytest.fixture
def population_restored(engine):
    """The lock test corrects the population feed; the warehouse is put back as it was afterwards."""
    from spm.indicators.capaian import compute_capaian
    from spm.indicators.indeks import compute_indeks

    bumped = []
    yield bumped
    clear_approvals(engine)
    if sum(bumped):
        _bump_population(engine, -sum(bumped))
        compute_capaian(engine, KODE, TAHUN, TRIWULAN, "t")
        compute_indeks(engine, KODE, TAHUN, TRIWULAN, "t")


def test_verify_approve_lock_reopen(engine, population_restored):
    from spm.indicators.capaian import compute_capaian
    from spm.indicators.indeks import compute_indeks
    from spm.warehouse import persetujuan as ps

    bump = lambda n: (_bump_population(engine, n), population_restored.append(n))  # noqa: E731
    a = _accounts(engine)
    with engine.connect() as conn:
        s = ps.status_of(conn, KODE, TAHUN, TRIWULAN)
        assert (s.status, s.revisi, s.terkunci) == ("draf", 1, False)
        assert ps.belum_siap(conn, s) == ["Bidang kesehatan belum diverifikasi.", "Bidang pendidikan belum diverifikasi."]

    # Who may do what.
    with pytest.raises(ps.Konflik, match="belum diverifikasi"):
        ps.setujui(engine, a["tapem"], KODE, TAHUN, TRIWULAN)
    with pytest.raises(ps.Ditolak):
        ps.verifikasi(engine, a["dinkes"], KODE, TAHUN, TRIWULAN, "pendidikan")  # not its bidang
    with pytest.raises(ps.Ditolak):
        ps.verifikasi(engine, a["pembaca"], KODE, TAHUN, TRIWULAN, "pendidikan")
    with pytest.raises(ps.Ditolak):
        ps.verifikasi(engine, a["tapem"], KODE, TAHUN, TRIWULAN, "pendidikan")
    at = datetime(2026, 10, 5, 2, 0, tzinfo=timezone.utc)
    ps.verifikasi(engine, a["disdik"], KODE, TAHUN, TRIWULAN, "pendidikan", at=at)
    with pytest.raises(ps.Konflik, match="kesehatan belum diverifikasi"):
        ps.setujui(engine, a["tapem"], KODE, TAHUN, TRIWULAN)

    # A figure of a verified bidang changes before approval: its verification no longer holds.
    bump(7)
    assert compute_capaian(engine, KODE, TAHUN, TRIWULAN, "t")["status"] == "published"
    compute_indeks(engine, KODE, TAHUN, TRIWULAN, "t")
    ps.verifikasi(engine, a["dinkes"], KODE, TAHUN, TRIWULAN, "kesehatan", at=at)
    with engine.connect() as conn:
        why = ps.belum_siap(conn, ps.status_of(conn, KODE, TAHUN, TRIWULAN))
    assert why == ["Angka bidang pendidikan berubah setelah diverifikasi kadisdik: perlu diverifikasi ulang."]
    ps.verifikasi(engine, a["disdik"], KODE, TAHUN, TRIWULAN, "pendidikan", at=at)

    with pytest.raises(ps.Konflik, match="berubah sejak halaman ini dibuka"):
        ps.setujui(engine, a["tapem"], KODE, TAHUN, TRIWULAN, shown="sidik-halaman-lama")
    with pytest.raises(ps.Ditolak):
        ps.setujui(engine, a["disdik"], KODE, TAHUN, TRIWULAN)  # a verifier does not approve
    with pytest.raises(ps.Ditolak):
        ps.setujui(engine, a["lain"], KODE, TAHUN, TRIWULAN)  # nor another kab/kota's approver
    s = ps.setujui(engine, a["tapem"], KODE, TAHUN, TRIWULAN, at=at + timedelta(hours=1))
    assert (s.status, s.revisi, s.terkunci, s.disetujui_oleh) == ("disetujui", 1, True, "tapem")
    with pytest.raises(ps.Konflik, match="sudah disetujui"):
        ps.verifikasi(engine, a["disdik"], KODE, TAHUN, TRIWULAN, "pendidikan")
    approved = _figures(engine)

    # Locked: the same inputs recompute to the same figures (allowed); changed inputs are refused whole.
    assert compute_capaian(engine, KODE, TAHUN, TRIWULAN, "t")["status"] == "published"
    assert compute_indeks(engine, KODE, TAHUN, TRIWULAN, "t")["status"] == "published"
    assert _figures(engine) == approved
    bump(5)
    result = compute_capaian(engine, KODE, TAHUN, TRIWULAN, "t")
    assert result["status"] == "rejected", result
    assert "is approved (revisi 1)" in result["message"] and "pendidikan" in result["message"]
    assert _figures(engine) == approved  # rolled back whole

    from spm.warehouse.tables import dq_result, etl_batch

    with engine.connect() as conn:
        batch = conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == result["batch_id"])).one()
        check = conn.execute(sa.select(dq_result).where(dq_result.c.batch_id == result["batch_id"])).one()
        refused = ps.refused_since(conn, ps.status_of(conn, KODE, TAHUN, TRIWULAN))
    assert (batch.status, batch.entity, batch.kode_wilayah, batch.periode) == (
        "rejected", "mart_capaian_spm", KODE, f"{TAHUN}-T{TRIWULAN}")
    assert (check.suite, check.expectation, check.success, check.severity) == (
        "persetujuan", "triwulan_disetujui_tidak_berubah", False, "critical")
    assert check.unexpected_count > 0 and "pendidikan" in check.details["bidang"]
    assert [r["batch_id"] for r in refused] == [result["batch_id"]]

    # The index is locked too: an OPD's corrected mutu after approval is refused whole.
    from spm.warehouse.tables_opd import fact_input_mutu, mart_indeks_spm

    fm = fact_input_mutu.c
    with engine.begin() as conn:
        item = conn.execute(sa.select(fm.kode_layanan, fm.komponen, fm.uraian, fm.jumlah_tersedia).where(
            fm.kode_kab_kota == KODE, fm.tahun == TAHUN, fm.triwulan == TRIWULAN, fm.bidang == "kesehatan",
            fm.jumlah_tersedia > 0).limit(1)).one()
        conn.execute(sa.update(fact_input_mutu).where(
            fm.kode_kab_kota == KODE, fm.tahun == TAHUN, fm.triwulan == TRIWULAN, fm.kode_layanan == item.kode_layanan,
            fm.komponen == item.komponen, fm.uraian == item.uraian).values(jumlah_tersedia=0))
    try:
        indeks = compute_indeks(engine, KODE, TAHUN, TRIWULAN, "t")
        assert indeks["status"] == "rejected" and "kesehatan" in indeks["message"]
        assert _figures(engine) == approved
    finally:
        with engine.begin() as conn:
            conn.execute(sa.update(fact_input_mutu).where(
                fm.kode_kab_kota == KODE, fm.tahun == TAHUN, fm.triwulan == TRIWULAN,
                fm.kode_layanan == item.kode_layanan, fm.komponen == item.komponen, fm.uraian == item.uraian)
                .values(jumlah_tersedia=item.jumlah_tersedia))

    # The guard trusts the approved fingerprint, not only what the computation saw when it started:
    # an approval that committed while a computation ran still refuses that computation's changes.
    x = mart_indeks_spm.c
    with pytest.raises(ps.QuarterLocked):
        with engine.begin() as conn:
            conn.execute(sa.update(mart_indeks_spm).where(
                x.kode_kab_kota == KODE, x.tahun == TAHUN, x.triwulan == TRIWULAN).values(nilai=x.nilai + 1))
            ps.guard(conn, KODE, TAHUN, TRIWULAN, before=None)
    assert _figures(engine) == approved

    # The OPD of each bidang whose figures would change hears it.
    from spm.alerts.detection import scan_batches
    from spm.config.peringatan import load_konfigurasi

    cfg = load_konfigurasi()
    findings = scan_batches(engine, cfg, result["batch_id"] - 1, datetime.now(timezone.utc), None).findings
    locked = [f for f in findings if f.jenis == "triwulan_terkunci"]
    capaian_locked = [f for f in locked if f.entity == "mart_capaian_spm"]
    assert capaian_locked and {f.pemilik for f in capaian_locked} >= {"disdik"}
    assert all("revisi 1" in f.ringkasan and f.batch_id == result["batch_id"] for f in capaian_locked)
    assert [(f.entity, f.pemilik) for f in locked if f.entity == "mart_indeks_spm"] == [("mart_indeks_spm", "dinkes")]
    assert not [f for f in findings if f.jenis == "karantina"]

    # Re-opening needs the approver and a reason; the revision closes with who/when/why.
    with pytest.raises(ps.Ditolak):
        ps.buka_kembali(engine, a["disdik"], KODE, TAHUN, TRIWULAN, "data penduduk dikoreksi Disdukcapil")
    with pytest.raises(ps.Konflik, match="alasan"):
        ps.buka_kembali(engine, a["tapem"], KODE, TAHUN, TRIWULAN, "  koreksi ")
    s = ps.buka_kembali(engine, a["tapem"], KODE, TAHUN, TRIWULAN, "data penduduk dikoreksi Disdukcapil",
                        at=at + timedelta(days=2))
    assert (s.status, s.revisi, s.terkunci, s.verifikasi) == ("draf", 2, False, {})
    assert s.riwayat == [{"revisi": 1, "disetujui_oleh": "tapem", "disetujui_at": at + timedelta(hours=1),
                          "dibuka_oleh": "tapem", "dibuka_at": at + timedelta(days=2),
                          "alasan_buka": "data penduduk dikoreksi Disdukcapil"}]
    assert compute_capaian(engine, KODE, TAHUN, TRIWULAN, "t")["status"] == "published"
    assert compute_indeks(engine, KODE, TAHUN, TRIWULAN, "t")["status"] == "published"
    assert _figures(engine) != approved
    findings = scan_batches(engine, cfg, result["batch_id"], datetime.now(timezone.utc), None).findings
    assert not [f for f in findings if f.jenis == "triwulan_terkunci"]  # the partition's alert resolves

    # Other quarters were never locked.
    with engine.connect() as conn:
        assert not ps.status_of(conn, KODE, TAHUN, TRIWULAN - 1).terkunci


def test_the_published_files_say_draf_or_final(engine, tmp_path):
    from openpyxl import load_workbook

    from spm.reporting.publish import publication_of, publish_laporan, stale_quarters
    from spm.warehouse import persetujuan as ps

    a = _accounts(engine)
    publish_laporan(engine, KODE, TAHUN, TRIWULAN, tmp_path)
    t = publication_of(KODE, TAHUN, TRIWULAN, tmp_path)
    manifest = json.loads(t.manifest.read_text())
    assert manifest["persetujuan"] == {"status": "draf", "revisi": 1, "verifikasi": []}
    assert "DRAF — belum disetujui" in _status_line(t.path("html").read_text())
    assert not [q for q in stale_quarters(engine, tmp_path) if q["triwulan"] == TRIWULAN]

    for who, bidang in (("disdik", "pendidikan"), ("dinkes", "kesehatan")):
        ps.verifikasi(engine, a[who], KODE, TAHUN, TRIWULAN, bidang)
    ps.setujui(engine, a["tapem"], KODE, TAHUN, TRIWULAN)
    # The nightly report DAG's catch-up sees the approval and republishes.
    assert {"kode_kab_kota": KODE, "tahun": TAHUN, "triwulan": TRIWULAN} in stale_quarters(engine, tmp_path)
    publish_laporan(engine, KODE, TAHUN, TRIWULAN, tmp_path)
    manifest = json.loads(t.manifest.read_text())
    assert manifest["persetujuan"] == {"status": "final", "revisi": 1, "verifikasi": ["kesehatan", "pendidikan"]}
    page = t.path("html").read_text()
    assert 'id="status-dokumen" class="status-final"' in page
    assert _status_line(page).startswith("FINAL revisi 1 — disetujui tapem")
    sheet = load_workbook(t.path("xlsx")).worksheets[0]
    assert any(str(c.value or "").startswith("FINAL revisi 1 — disetujui tapem") for row in sheet.iter_rows(max_row=12)
               for c in row)

    # FINAL files are written once: a later computation of another quarter rewrites the year's months,
    # but the approved report keeps the months it was approved with.
    from spm.warehouse.tables_marts import mart_terlayani_bulanan

    written = {j: t.path(j).read_bytes() for j in ("xlsx", "html", "pdf")}
    b = mart_terlayani_bulanan.c
    month = (b.kode_kab_kota == KODE, b.tahun == TAHUN, b.bulan == 1)
    with engine.begin() as conn:
        conn.execute(sa.update(mart_terlayani_bulanan).where(*month).values(terlayani_baru=b.terlayani_baru + 1))
    try:
        assert publish_laporan(engine, KODE, TAHUN, TRIWULAN, tmp_path)["final"] is True
        assert {j: t.path(j).read_bytes() for j in written} == written
    finally:
        with engine.begin() as conn:
            conn.execute(sa.update(mart_terlayani_bulanan).where(*month).values(terlayani_baru=b.terlayani_baru - 1))

    ps.buka_kembali(engine, a["tapem"], KODE, TAHUN, TRIWULAN, "mutu pendidikan diperbaiki OPD")
    publish_laporan(engine, KODE, TAHUN, TRIWULAN, tmp_path)
    assert json.loads(t.manifest.read_text())["persetujuan"] == {"status": "draf", "revisi": 2, "verifikasi": []}
    assert _status_line(t.path("html").read_text()).startswith("DRAF revisi 2 — belum disetujui")


def test_accounts_passwords_and_sessions(engine):
    from spm.errors import InputError
    from spm.reporting import akun
    from spm.warehouse.tables_persetujuan import pengguna, sesi_dasbor

    with pytest.raises(InputError, match="verifikator perlu --bidang"):
        akun.add_user(engine, "x", "X", "verifikator", "panjang-sekali-1")
    with pytest.raises(InputError, match="--bidang 'keuangan'"):
        akun.add_user(engine, "x", "X", "verifikator", "panjang-sekali-1", bidang="keuangan")
    with pytest.raises(InputError, match="paling sedikit"):
        akun.add_user(engine, "x", "X", "pembaca", "pendek")
    with pytest.raises(InputError, match="kode-wilayah"):
        akun.add_user(engine, "x", "X", "pembaca", "panjang-sekali-1", kode_wilayah="3271")
    with pytest.raises(InputError, match="peran"):
        akun.add_user(engine, "x", "X", "admin", "panjang-sekali-1")
    assert not akun.any_user(engine)
    akun.add_user(engine, "tapem", "Kabag", "penyetuju", "panjang-sekali-1", KODE)
    assert akun.any_user(engine)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(pengguna.c.kata_sandi_hash)).scalar_one()
    assert stored.startswith("scrypt$") and "panjang-sekali-1" not in stored

    t0 = datetime(2026, 10, 5, 1, 0, tzinfo=timezone.utc)
    assert akun.login(engine, "tapem", "salah-kata-sandi", at=t0) is None
    assert akun.login(engine, "tidak-ada", "panjang-sekali-1", at=t0) is None
    token = akun.login(engine, "tapem", "panjang-sekali-1", at=t0)
    with engine.connect() as conn:
        kept = conn.execute(sa.select(sesi_dasbor.c.token_hash)).scalar_one()
    assert token not in kept  # only its digest is stored
    found = akun.session(engine, token, at=t0 + timedelta(hours=7))
    assert found is not None and found[0].username == "tapem" and found[0].peran == "penyetuju"
    assert akun.session(engine, token, at=t0 + timedelta(hours=8, seconds=1)) is None  # expired
    assert akun.session(engine, token + "x", at=t0) is None
    assert akun.csrf_ok(found[1], found[1]) and not akun.csrf_ok(found[1], "") and not akun.csrf_ok(found[1], None)

    # Replacing an account (new password) or deactivating it ends its sessions.
    token = akun.login(engine, "tapem", "panjang-sekali-1")
    akun.add_user(engine, "tapem", "Kabag", "penyetuju", "panjang-sekali-2", KODE)
    assert akun.session(engine, token) is None
    token = akun.login(engine, "tapem", "panjang-sekali-2")
    assert akun.deactivate_user(engine, "tapem")
    assert akun.session(engine, token) is None and akun.login(engine, "tapem", "panjang-sekali-2") is None


def _sidik(page: str, bidang: str | None = None) -> str:
    """The fingerprint a form of the page carries: a bidang's verification form, or the approval form."""
    form = (re.search(rf'name="bidang" value="{bidang}"><input type="hidden" name="sidik" value="([0-9a-f]+)"', page)
            if bidang else re.search(r'persetujuan/setujui">\s*<input[^>]*>\s*<input type="hidden" name="sidik" '
                                     r'value="([0-9a-f]+)"', page))
    assert form, f"no fingerprint on the page for {bidang or 'the approval'}"
    return form.group(1)


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, "no CSRF field on the page"
    return m.group(1)


def _login(client, username: str, password: str = "rahasia-sekali-123", next_: str = "/"):
    page = client.get("/spm/masuk", params={"next": next_})
    assert page.status_code == 200
    return client.post("/spm/masuk", data={"csrf": _csrf(page.text), "next": next_, "username": username,
                                           "password": password}, follow_redirects=False)


def test_the_dashboard_logs_in_verifies_approves_and_reopens(engine, tmp_path):
    from starlette.testclient import TestClient

    from spm.reporting.akun import COOKIE
    from spm.reporting.dashboard import create_app
    from spm.reporting.publish import publication_of

    app = create_app(engine, "/spm", laporan_root=tmp_path, kualitas_root=tmp_path / "kualitas")
    (tmp_path / "kualitas").mkdir()
    (tmp_path / "kualitas" / "index.html").write_text("<p>kualitas</p>")
    q = {"kode": KODE, "tahun": TAHUN, "triwulan": TRIWULAN}
    anonymous = TestClient(app, base_url="http://testserver")

    # No account yet: open read-only; nothing can be verified.
    page = anonymous.get("/spm/", params=q)
    assert page.status_code == 200 and 'id="tautan-persetujuan"' in page.text
    page = anonymous.get("/spm/persetujuan", params=q)
    assert page.status_code == 200 and "Belum ada akun" in page.text and 'id="tombol-setujui"' not in page.text
    r = anonymous.post("/spm/persetujuan/verifikasi", data={**q, "bidang": "pendidikan", "csrf": "x"},
                       follow_redirects=False)
    assert r.status_code == 303 and "/spm/masuk" in r.headers["location"]

    _accounts(engine)
    # With accounts, every page asks for a login, the health check does not.
    for path in ("/spm/", "/spm/persetujuan", "/spm/kualitas/index.html", f"/spm/unduh/{KODE}/{TAHUN}/{TRIWULAN}/pdf"):
        r = anonymous.get(path, params=q if path != "/spm/kualitas/index.html" else None, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/spm/masuk?next="), path
    assert anonymous.get("/spm/sehat").status_code == 200
    # Behind a proxy that strips the sub-path, the login still brings the person back where they were.
    r = anonymous.get("/persetujuan", params=q, follow_redirects=False)
    assert r.status_code == 303 and "next=%2Fspm%2Fpersetujuan%3Fkode" in r.headers["location"]

    # Logging in: wrong password, a form without its token, a redirect elsewhere are all refused.
    assert _login(anonymous, "kadisdik", "salah-sekali-123").status_code == 401
    r = anonymous.post("/spm/masuk", data={"csrf": "palsu", "username": "kadisdik", "password": "rahasia-sekali-123"},
                       follow_redirects=False)
    assert r.status_code == 400 and COOKIE not in r.cookies
    for elsewhere in ("https://jahat.example/", "//jahat.example/", "/\\jahat.example/", "/lain/"):
        r = _login(anonymous, "kadisdik", next_=elsewhere)
        assert r.status_code == 303 and r.headers["location"] == "/spm/", elsewhere
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/spm/" in cookie

    disdik = TestClient(app, base_url="http://testserver")
    assert _login(disdik, "kadisdik", next_=f"/spm/persetujuan?kode={KODE}").headers["location"] == \
        f"/spm/persetujuan?kode={KODE}"
    page = disdik.get("/spm/persetujuan", params=q)
    assert page.status_code == 200 and "Kepala Dinas Pendidikan" in page.text
    assert 'id="verifikasi-pendidikan"' in page.text and 'id="verifikasi-kesehatan"' not in page.text
    r = disdik.post("/spm/persetujuan/verifikasi", data={**q, "bidang": "pendidikan"}, follow_redirects=False)
    assert r.status_code == 403  # no CSRF token
    form = {**q, "bidang": "pendidikan", "csrf": _csrf(page.text)}
    r = disdik.post("/spm/persetujuan/verifikasi", data={**form, "sidik": "0" * 64})  # figures changed since shown
    assert r.status_code == 409 and "berubah sejak halaman ini dibuka" in r.text
    r = disdik.post("/spm/persetujuan/verifikasi", data={**form, "sidik": _sidik(page.text, "pendidikan")})
    assert r.status_code == 200 and "Bidang pendidikan diverifikasi." in r.text
    assert re.search(r'data-bidang="pendidikan" data-status="terverifikasi"', r.text)
    r = disdik.post("/spm/persetujuan/setujui", data={**q, "csrf": _csrf(page.text)})
    assert r.status_code == 403 and "tidak berwenang" in r.text

    dinkes = TestClient(app, base_url="http://testserver")
    _login(dinkes, "kadinkes")
    page = dinkes.get("/spm/persetujuan", params=q)
    dinkes.post("/spm/persetujuan/verifikasi", data={**q, "bidang": "kesehatan", "csrf": _csrf(page.text),
                                                     "sidik": _sidik(page.text, "kesehatan")})

    tapem = TestClient(app, base_url="http://testserver")
    _login(tapem, "tapem")
    page = tapem.get("/spm/persetujuan", params=q)
    assert 'id="tombol-setujui"' in page.text and 'id="belum-siap"' not in page.text
    r = tapem.post("/spm/persetujuan/setujui", data={**q, "csrf": _csrf(page.text), "sidik": _sidik(page.text)})
    assert r.status_code == 200 and 'id="status-dokumen">FINAL' in r.text and 'id="buka-kembali"' in r.text
    # The files were republished at once and say FINAL.
    t = publication_of(KODE, TAHUN, TRIWULAN, tmp_path)
    assert json.loads(t.manifest.read_text())["persetujuan"]["status"] == "final"
    assert _status_line(t.path("html").read_text()).startswith("FINAL revisi 1 — disetujui tapem")
    home = tapem.get("/spm/", params=q)
    assert home.status_code == 200 and "status-final" in home.text
    download = tapem.get(f"/spm/unduh/{KODE}/{TAHUN}/{TRIWULAN}/html")
    assert _status_line(download.text).startswith("FINAL revisi 1")

    # Re-opening: a reason is required; the revision history keeps who, when and why.
    r = tapem.post("/spm/persetujuan/buka", data={**q, "csrf": _csrf(page.text), "alasan": "x"})
    assert r.status_code == 409 and "alasan" in r.text
    r = tapem.post("/spm/persetujuan/buka", data={**q, "csrf": _csrf(page.text),
                                                  "alasan": "koreksi data penduduk semester 2025-2"})
    assert r.status_code == 200 and 'id="status-dokumen">DRAF' in r.text and "revisi 2" in r.text
    assert 'data-revisi="1"' in r.text and "koreksi data penduduk semester 2025-2" in r.text
    assert json.loads(t.manifest.read_text())["persetujuan"] == {"status": "draf", "revisi": 2, "verifikasi": []}

    # Logging out ends the session server-side: the old cookie no longer opens a page.
    old = tapem.cookies.get(COOKIE)
    r = tapem.post("/spm/keluar", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    replay = TestClient(app, base_url="http://testserver", cookies={COOKIE: old})
    assert replay.get("/spm/", follow_redirects=False).status_code == 303
