"""The task callbacks: technical failures to the data team (grouped, resolved once), data-quality gates
left to the owner's alert, and a real Airflow run whose failing task triggers the notifier."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from spm.alerts.callback import record_failure, record_recovery
from spm.config.peringatan import load_konfigurasi
from spm.errors import InputError, WarehouseError
from spm.warehouse.tables_peringatan import peringatan
from tests.alerts.test_peringatan import batch, every_channel, summary


@dataclass
class FakeTI:
    dag_id: str = "spm_ingest_kependudukan"
    task_id: str = "ingest_penduduk.extract"
    run_id: str = "scheduled__2026-11-20"
    map_index: int = 0
    try_number: int = 4
    log_url: str = "http://airflow.example/dags/spm_ingest_kependudukan/runs/x/tasks/extract?map_index=0"


@dataclass
class FakeTask:
    op_kwargs: dict


def _context(exc, partition: dict | None = None, **ti):
    context = {"ti": FakeTI(**ti), "exception": exc}
    if partition is not None:
        context["task"] = FakeTask({"window": partition})
    return context


def test_only_a_success_of_the_same_partition_resolves_its_alert(engine, kotak):
    """A failed backfill window stays open when the next night's small window of the same mapped task
    (same map index) succeeds; its own rerun resolves it."""
    cfg = load_konfigurasi()
    backfill = {"kode_kab_kota": "32.71", "dari": "2024-01-01T00:00:00Z", "sampai": "2026-11-22T00:00:00Z",
                "periode": "2024-01-01/2026-11-22"}
    nightly = {**backfill, "dari": "2026-11-22T17:00:00Z", "sampai": "2026-11-23T17:00:00Z",
               "periode": "2026-11-22/2026-11-23"}
    task = "load_window"
    assert record_failure(_context(ConnectionError("x"), backfill, task_id=task), engine, cfg)["baru"] == 1
    kotak.take()
    assert record_recovery(_context(None, nightly, task_id=task), engine, cfg) is None
    assert kotak.take() == []
    assert record_recovery(_context(None, backfill, task_id=task), engine, cfg)["selesai"] == 1
    with engine.connect() as conn:
        (fingerprint,) = conn.execute(sa.select(peringatan.c.fingerprint)).scalars()
    assert "kode_kab_kota=32.71" in fingerprint and "dari=2024-01-01T00:00:00Z" in fingerprint


def test_technical_failure_goes_to_the_data_team_grouped_then_recovery_is_announced_once(engine, kotak):
    cfg = load_konfigurasi()
    try:
        raise ConnectionError("dukcapil timed out") from None
    except ConnectionError as exc:
        err = exc
    assert record_failure(_context(err), engine, cfg)["baru"] == 1
    alerts = kotak.take()
    assert summary(alerts) == every_channel("tim_data", "MASALAH BARU")
    text = alerts[0].teks
    assert "spm_ingest_kependudukan" in text and "ingest_penduduk.extract" in text and "ConnectionError" in text
    assert "map_index 0" in text and "http://airflow.example/dags" in text
    assert "timed out" not in text  # a foreign exception's text may quote data: only its class is sent
    # The same task fails again the next night: grouped.
    assert record_failure(_context(err, run_id="scheduled__2026-11-21"), engine, cfg)["diam"] == 1
    assert kotak.take() == []
    # Our own errors say what to fix: their message is included.
    own = WarehouseError("warehouse x is at schema revision 0005, code needs 0007: run `spm db upgrade`")
    assert record_failure(_context(own, task_id="check_warehouse_schema", map_index=-1), engine, cfg)["baru"] == 1
    assert "spm db upgrade" in kotak.take()[0].teks
    # Success of the first task resolves its problem, announced once; other tasks are untouched.
    assert record_recovery(_context(None), engine, cfg)["selesai"] == 1
    assert summary(kotak.take()) == every_channel("tim_data", "SELESAI")
    assert record_recovery(_context(None), engine, cfg) is None
    assert kotak.take() == []
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(peringatan.c.fingerprint, peringatan.c.status)).all())
    assert states == {"teknis:spm_ingest_kependudukan:ingest_penduduk.extract:0": "resolved",
                      "teknis:spm_ingest_kependudukan:check_warehouse_schema:-1": "open"}


def test_a_quality_gate_failure_is_left_to_the_owner_alert(engine, kotak):
    cfg = load_konfigurasi()
    bid = batch(engine, "dukcapil", "penduduk", "32.71", "2025-2", "failed",
                dq=[("kolom_lengkap", "critical", False, None)], run_id="scheduled__2026-11-20")
    gate = InputError(f"penduduk 32.71 2025-2: critical expectation failed (batch {bid}, see `spm status`)")
    try:
        raise RuntimeError("AirflowFailException stand-in") from gate
    except RuntimeError as exc:
        assert record_failure(_context(exc, task_id="ingest_penduduk.validate"), engine, cfg) == {"penyebab": "data"}
    # An InputError that is not a gated batch (the source broke its contract) is the data team's.
    contract = InputError("spm_dukcapil: penduduk answer is text/html, the contract says text/csv")
    assert record_failure(_context(contract), engine, cfg)["baru"] == 1
    # A task configured as a data gate (rejected inbox files) is left to the scan as well.
    assert record_failure(_context(RuntimeError("x"), task_id="check_rejected_files"), engine, cfg) == {
        "penyebab": "data"}
    alerts = kotak.take()
    assert summary(alerts) == every_channel("tim_data", "MASALAH BARU")


def test_without_a_reachable_warehouse_the_alert_is_still_sent(sqlite_url, kotak):
    from spm.warehouse.db import get_engine

    cfg = load_konfigurasi()
    result = record_failure(_context(OSError("disk")), get_engine(sqlite_url), cfg)  # never migrated
    assert result["tanpa_keadaan"] and result["terkirim"]
    assert summary(kotak.take()) == every_channel("tim_data", "MASALAH BARU")


@pytest.mark.airflow
def test_a_failing_task_of_a_real_dag_run_reaches_the_data_team(dag_of, airflow_db, sqlite_url, kotak, monkeypatch):
    from spm.alerts.callback import task_failure_notifier

    monkeypatch.setenv("SPM_WAREHOUSE_URL", sqlite_url)  # never migrated: the scan task fails at once
    dag = dag_of("spm_kirim_peringatan")
    for t in dag.tasks:  # what the factory's default_args give every task
        if task_failure_notifier not in (t.on_failure_callback or []):
            t.on_failure_callback = [*(t.on_failure_callback or []), task_failure_notifier]
    run = dag.test()
    assert run.state == "failed"
    alerts = kotak.take()  # both tasks fail at once (no retry storm), each told once, with the fix
    assert summary(alerts) == every_channel("tim_data", "MASALAH BARU") + every_channel("tim_data", "MASALAH BARU")
    assert {a.judul.split(": ", 1)[1] for a in alerts} == {
        "spm_kirim_peringatan.kirim gagal (AirflowFailException)",
        "spm_kirim_peringatan.halaman_kualitas gagal (AirflowFailException)"}
    assert all("spm db upgrade" in a.teks for a in alerts)


@pytest.mark.airflow
def test_kirim_peringatan_dag_alerts_and_writes_the_quality_pages(dag_of, airflow_db, sqlite_url, kotak, monkeypatch,
                                                                  tmp_path):
    from spm.warehouse.db import get_engine, upgrade

    monkeypatch.setenv("SPM_WAREHOUSE_URL", sqlite_url)
    monkeypatch.setenv("SPM_HOME", str(tmp_path))
    engine = get_engine(sqlite_url)
    upgrade(engine)
    batch(engine, "dapodik", "sekolah", "32.71", "20251", "failed", dq=[("npsn_unik", "critical", False, 2)])
    run = dag_of("spm_kirim_peringatan").test(run_conf={"paksa_ringkasan": True})
    assert run.state == "success"
    alerts = kotak.take()
    assert {a.pemilik for a in alerts} == {"disdik", "tim_data"}
    assert len([a for a in alerts if "MASALAH BARU" in a.judul]) == 3
    assert len([a for a in alerts if "RINGKASAN HARIAN" in a.judul]) == 6
    page = tmp_path / "reports" / "kualitas" / "dapodik" / "20251.html"
    assert page.exists() and "npsn_unik" in page.read_text()
    engine.dispose()
