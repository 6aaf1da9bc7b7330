"""No alert and no data-quality page carries a NIK, a NISN or a name, with a real faulty batch from the
simulator behind them; the pages show pass rates, quarantine reasons, freshness and completeness."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from spm.alerts.callback import record_failure
from spm.config.peringatan import load_konfigurasi
from spm.alerts.checks import check_freshness_and_send, scan_and_send
from spm.errors import InputError
from spm.reporting.kualitas import page_filename, write_pages
from tests.warehouses import with_wilayah
from tests.alerts.test_callback import FakeTI
from tests.alerts.test_peringatan import T0, batch

KODE, SEMESTER, SEED = "32.71", 20241, 7


@pytest.mark.slow
def test_no_alert_or_page_contains_personal_data(sqlite_url, kotak, monkeypatch, tmp_path):
    from spm.indicators.capaian import compute_capaian
    from spm.ingest import pendidikan as pdk
    from spm.simulator import Faults, SimulatorConfig, SimulatorServers
    from spm.warehouse.db import get_engine, upgrade
    from spm.warehouse.layanan import sync_dim_layanan
    from spm.warehouse.tables import dq_result, etl_batch
    from tests.ingest.test_pendidikan_ingest import _client, _source_rows

    engine = get_engine(sqlite_url)
    upgrade(engine)
    with_wilayah(engine)
    sync_dim_layanan(engine)
    # Every row over the limit: the learner batch is rejected and its quarantine holds real rows' data.
    monkeypatch.setattr("spm.ingest.wap.quarantine_limit_percent", lambda: -1.0)
    monkeypatch.setattr("spm.ingest.wap.quarantine_min_rows", lambda: -1)
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.002, seed=SEED)) as sim:
        sim.faults.set(**vars(Faults(invalid_nik_share=0.3, transfer_share=0.05)))
        with pytest.raises(InputError), _client(sim) as client:
            pdk.ingest(engine, {"kode_kab_kota": KODE, "semester_id": SEMESTER}, "sim-run", client, b"s" * 32)
        sim.faults.clear()
        rows = _source_rows(sim, SEMESTER)
    assert compute_capaian(engine, KODE, 2026, 3, "sim-run")["status"] == "missing"
    with engine.connect() as conn:  # the faults show: rejected batches, too many invalid NIKs flagged
        assert set(conn.execute(sa.select(etl_batch.c.status).where(etl_batch.c.source == "dapodik"))
                   .scalars()) == {"rejected"}
        assert conn.execute(sa.select(dq_result.c.success).where(
            dq_result.c.expectation == "nik_valid_di_atas_batas")).scalar_one() is False
    niks = {r["nik"] for r in rows if r["nik"]}
    names = {r["nama"] for r in rows}
    nisns = {r["nisn"] for r in rows if r["nisn"]}
    some = sorted(niks)[0], sorted(names)[0]
    # A technical failure whose exception text quotes a source row.
    record_failure({"ti": FakeTI(), "exception": InputError(f"row 5: nik {some[0]} ({some[1]}) unreadable")},
                    engine, load_konfigurasi())
    now = datetime.now(timezone.utc)
    scan_and_send(engine, at=now, force_digest=True)
    check_freshness_and_send(engine, [KODE], now + timedelta(days=3), at=now)
    alerts = kotak.take()
    titles = " ".join(a.judul for a in alerts)
    for kind in ("Batch ditolak", "Capaian tidak dihitung", "Kegagalan teknis", "Data belum masuk",
                 "RINGKASAN HARIAN"):
        assert kind in titles
    pages = write_pages(engine, tmp_path / "kualitas")
    assert pages
    texts = [a.teks for a in alerts] + [p.path.read_text() for p in pages]
    for text in texts:
        assert not re.search(r"(?<!\d)\d{16}(?!\d)", text)
        digits = set(re.findall(r"\d+", text))
        assert not digits & (niks | nisns)
        for name in names:
            assert name not in text
    engine.dispose()


def test_quality_page_shows_pass_rates_reasons_freshness_and_completeness(engine, tmp_path):
    b1 = batch(engine, "dukcapil", "penduduk", "32.71", "2025-2", "rejected",
               dq=[("jenis_kelamin_l_p", "warning", False, 10), ("kolom_lengkap", "critical", True, None)],
               quarantined=["jenis_kelamin_l_p"] * 10, received=100)
    batch(engine, "dukcapil", "kelahiran", "32.71", "2025-2", "published",
          dq=[("jenis_kelamin_l_p", "warning", True, 0)])
    batch(engine, "dukcapil", "penduduk", "32.01", "2025-2", "published")
    batch(engine, "satusehat", "pasien", "32.71", "2026-01-01T00:00:00/2026-01-02T00:00:00", "published")
    pages = write_pages(engine, tmp_path, kode_wilayah=["32.71", "32.01"], as_of=T0 + timedelta(hours=2))
    by = {(p.source, p.periode): p for p in pages}
    page = by[("dukcapil", "2025-2")]
    html = page.path.read_text()
    assert page.path == tmp_path / "dukcapil" / "2025-2.html"
    assert "90,0 %" in html and "90.0" not in html  # 10 of 100 rows failed jenis_kelamin_l_p; a decimal comma
    assert "kolom_lengkap" in html and "1/1" in html  # a batch-level expectation
    assert re.search(r"<td>jenis_kelamin_l_p</td><td class=\"num\">10</td>", html)
    assert f"#{b1}" in html and "ditolak" in html and "tidak ada" in html  # 32.01 kelahiran never loaded
    # What OPD staff read is in their locale: statuses, severities and times in WIB (issue 20).
    assert ">rejected<" not in html and ">critical<" not in html and "kritis" in html
    assert "UTC" not in html and " WIB" in html
    assert page.complete_percent == 50.0 and page.unpublished_partitions == 1
    assert "Siti" not in html and "3271014502900001" not in html  # quarantine row_data never shown
    fhir = by[("satusehat", "2026-01-01T00:00:00/2026-01-02T00:00:00")]
    assert fhir.path.name == page_filename(fhir.periode) + ".html" and "/" not in fhir.path.name
    index = (tmp_path / "index.html").read_text()
    assert 'href="dukcapil/index.html"' in index and 'href="satusehat/index.html"' in index
    assert "2025-2.html" in (tmp_path / "dukcapil" / "index.html").read_text()
