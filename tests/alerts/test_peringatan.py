"""Each alert trigger reaches exactly the expected owner on every channel (real local SMTP and HTTP
endpoints); grouping, reminders, changes, resolution, fallback and the daily digest."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from spm.config.peringatan import load_konfigurasi
from spm.alerts.checks import check_freshness_and_send, scan_and_send
from spm.warehouse.audit import finish_batch, start_batch
from spm.warehouse.tables import dq_result, inbox_file, quarantine
from spm.warehouse.tables_peringatan import peringatan, peringatan_kirim
from tests.warehouses import with_wilayah

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)  # 08:00 in Jakarta: after the digest hour
NIGHT = datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc)  # 01:00 in Jakarta: before it


def batch(engine, source, entity, kode, periode, status, dq=(), quarantined=(), received=100, run_id="r1"):
    """An audit trail as the ingests write it: etl_batch, dq_result rows, quarantine rows."""
    with engine.begin() as conn:
        bid = start_batch(conn, source, entity, kode, periode, run_id)
        for name, severity, success, unexpected in dq:
            conn.execute(sa.insert(dq_result).values(
                batch_id=bid, suite=f"{source}_{entity}", expectation=name, kolom=None, severity=severity,
                success=success, element_count=received, unexpected_count=unexpected,
                unexpected_percent=None, observed_value=None, details=None, checked_at=T0))
        for i, names in enumerate(quarantined):
            conn.execute(sa.insert(quarantine).values(
                batch_id=bid, natural_key=f"k{i}", failed_expectations=names,
                row_data={"nama": "Siti Rahayu", "nik": "3271014502900001"}, quarantined_at=T0))
        finish_batch(conn, bid, status, rows_received=received, rows_quarantined=len(quarantined),
                     rows_published=received if status == "published" else 0)
    return bid


def summary(alerts):
    return Counter((a.saluran, a.pemilik, a.judul.split(" — ")[0]) for a in alerts)


def every_channel(owner, kind):
    return Counter({(ch, owner, f"[SPM] {kind}"): 1 for ch in ("email", "webhook", "telegram")})


def test_critical_failure_alerts_the_owner_once_then_groups_reminds_and_announces_resolution(engine, kotak):
    cfg = load_konfigurasi()
    bid = batch(engine, "dukcapil", "penduduk", "32.71", "2025-2", "failed",
                dq=[("kolom_lengkap", "critical", False, None), ("ada_baris", "critical", True, None)])
    s = scan_and_send(engine, at=NIGHT)
    alerts = kotak.take()
    assert summary(alerts) == every_channel("disdukcapil", "MASALAH BARU")
    assert all("kolom_lengkap" in a.teks and f"batch {bid}" in a.teks and "32.71" in a.teks for a in alerts)
    assert "https://spm.pemda.example/laporan/kualitas/dukcapil/2025-2.html" in alerts[0].teks
    assert s["baru"] == 1 and s["terkirim"] == 1

    assert scan_and_send(engine, at=NIGHT + timedelta(hours=1))["terkirim"] == 0  # nothing new
    # The next night the same broken source fails the same way: grouped, not repeated.
    batch(engine, "dukcapil", "penduduk", "32.71", "2025-2", "failed", dq=[("kolom_lengkap", "critical", False, None)])
    s = scan_and_send(engine, at=NIGHT + timedelta(days=1))
    assert kotak.take() == [] and s["diam"] == 1
    # Still open after the reminder interval: one reminder.
    later = NIGHT + cfg.pengingat + timedelta(hours=1)
    scan_and_send(engine, at=later)
    assert summary(kotak.take()) == every_channel("disdukcapil", "PENGINGAT")
    scan_and_send(engine, at=later + timedelta(hours=1))
    assert kotak.take() == []
    # Fixed: a published batch resolves it, announced once.
    batch(engine, "dukcapil", "penduduk", "32.71", "2025-2", "published")
    scan_and_send(engine, at=later + timedelta(hours=2))
    assert summary(kotak.take()) == every_channel("disdukcapil", "SELESAI")
    scan_and_send(engine, at=later + timedelta(hours=3))
    assert kotak.take() == []
    with engine.connect() as conn:
        row = conn.execute(sa.select(peringatan)).one()
    assert (row.status, row.jumlah_kirim, row.jumlah_terlihat) == ("resolved", 2, 2)


def test_a_changed_problem_is_sent_again_and_a_technical_failure_neither_raises_nor_resolves(engine, kotak):
    batch(engine, "dapodik", "sekolah", "32.71", "20251", "failed", dq=[("npsn_unik", "critical", False, 3)])
    scan_and_send(engine, at=NIGHT)
    assert summary(kotak.take()) == every_channel("disdik", "MASALAH BARU")
    batch(engine, "dapodik", "sekolah", "32.71", "20251", "failed")  # source down: no expectation ran
    scan_and_send(engine, at=NIGHT + timedelta(hours=1))
    assert kotak.take() == []
    batch(engine, "dapodik", "sekolah", "32.71", "20251", "failed",
          dq=[("npsn_unik", "critical", False, 3), ("ada_sekolah", "critical", False, None)])
    scan_and_send(engine, at=NIGHT + timedelta(hours=2))
    alerts = kotak.take()
    assert summary(alerts) == every_channel("disdik", "MASALAH BERUBAH")
    assert "ada_sekolah" in alerts[0].teks and "3 dari 100 baris" in alerts[0].teks


def test_rejected_batch_names_quarantine_reasons_with_counts_only(engine, kotak):
    bid = batch(engine, "dapodik", "peserta_didik", "32.71", "20251", "rejected",
                dq=[("jenis_kelamin_l_p", "warning", False, 7), ("status_dikenal", "warning", False, 2)],
                quarantined=["jenis_kelamin_l_p"] * 7 + ["status_dikenal,jenis_kelamin_l_p"] * 2, received=50)
    scan_and_send(engine, at=NIGHT)
    alerts = kotak.take()
    assert summary(alerts) == every_channel("disdik", "MASALAH BARU")
    text = alerts[0].teks
    assert "9 dari 50" in text and "jenis_kelamin_l_p: 9" in text and "status_dikenal: 2" in text
    assert f"batch {bid}" in text
    for a in alerts:
        assert "Siti" not in a.teks and "3271014502900001" not in a.teks


def test_missing_denominator_goes_to_disdukcapil_and_capaian_jumps_to_the_owner_of_the_bidang(engine, kotak):
    from spm.warehouse.layanan import sync_dim_layanan

    sync_dim_layanan(engine)
    batch(engine, "spm", "mart_capaian_spm", "32.01", "2026-T3", "missing")
    batch(engine, "spm", "mart_capaian_spm", "32", "2026-T3", "missing")  # the province: no alert of its own
    with engine.begin() as conn:
        bid = start_batch(conn, "spm", "mart_capaian_spm", "32.71", "2026-T3", "r1")
        for kode, now_v, before, ok in (("pend_dasar", 95.0, 55.0, False), ("kes_balita", 80.0, 20.0, False),
                                        ("pend_paud", 60.0, 58.0, True)):
            conn.execute(sa.insert(dq_result).values(
                batch_id=bid, suite="lintas_sumber", expectation="capaian_stabil_terhadap_periode_lalu",
                kolom=kode, severity="warning", success=ok, element_count=1, unexpected_count=int(not ok),
                observed_value=json.dumps({"capaian": now_v, "sebelumnya": before, "periode_sebelumnya": "2026-T2",
                                           "batas_poin": 30.0}), details=None, checked_at=T0))
        finish_batch(conn, bid, "published")
    scan_and_send(engine, at=NIGHT)
    alerts = kotak.take()
    assert summary(alerts) == (every_channel("disdukcapil", "MASALAH BARU") + every_channel("disdik", "MASALAH BARU")
                               + every_channel("dinkes", "MASALAH BARU"))
    by_owner = {a.pemilik: a.teks for a in alerts if a.saluran == "telegram"}
    assert "2025-2" in by_owner["disdukcapil"] and "32.01" in by_owner["disdukcapil"]
    assert "pend_dasar" in by_owner["disdik"] and "+40.0 poin" in by_owner["disdik"]
    assert "kes_balita" in by_owner["dinkes"] and "pend_paud" not in json.dumps(by_owner)


def test_refused_inbox_file_is_told_once(engine, kotak):
    with engine.begin() as conn:
        conn.execute(sa.insert(inbox_file).values(
            content_hash="ab" * 32, source="dukcapil", file_name="penduduk_32.71.xlsx", status="rejected",
            message="line 3: nik 3271014502900001 Siti Rahayu", processed_at=T0))
    scan_and_send(engine, at=NIGHT)
    alerts = kotak.take()
    assert summary(alerts) == every_channel("disdukcapil", "MASALAH BARU")
    assert all("penduduk_32.71.xlsx" in a.teks and "Siti" not in a.teks for a in alerts)
    scan_and_send(engine, at=NIGHT + timedelta(days=5))
    assert kotak.take() == []


def test_freshness_check_alerts_late_feeds_once_and_announces_when_fresh(engine, kotak):
    cfg = load_konfigurasi()
    deadline = datetime(2026, 11, 21, 0, 0, tzinfo=timezone.utc)  # 07:00 WIB
    with engine.begin() as conn:  # penduduk loaded 2 days ago, kelahiran last night
        for entity, when in (("penduduk", deadline - timedelta(days=2)), ("kelahiran", deadline - timedelta(hours=5))):
            bid = start_batch(conn, "dukcapil", entity, "32.71", "2025-2", "r0")
            finish_batch(conn, bid, "unchanged")
            conn.execute(sa.text("UPDATE etl_batch SET finished_at = :t WHERE batch_id = :b"), {"t": when, "b": bid})
    s = check_freshness_and_send(engine, ["32.71"], deadline, at=deadline)
    alerts = kotak.take()
    # dukcapil/penduduk is stale; dapodik sekolah + peserta_didik and satusehat never loaded.
    assert s["terlambat"] == 4
    assert summary(alerts) == (every_channel("disdukcapil", "MASALAH BARU") + every_channel("disdik", "MASALAH BARU")
                               + every_channel("disdik", "MASALAH BARU") + every_channel("dinkes", "MASALAH BARU"))
    assert any("dukcapil/penduduk 32.71" in a.judul for a in alerts)
    assert not any("kelahiran" in a.judul for a in alerts)
    nxt = deadline + timedelta(days=1)
    check_freshness_and_send(engine, ["32.71"], nxt, at=nxt)
    alerts = kotak.take()  # the four still late are grouped; kelahiran is newly late
    assert summary(alerts) == every_channel("disdukcapil", "MASALAH BARU")
    assert all("dukcapil/kelahiran 32.71" in a.judul for a in alerts)
    with engine.begin() as conn:
        for entity in ("penduduk", "kelahiran"):
            bid = start_batch(conn, "dukcapil", entity, "32.71", "2025-2", "r2")
            finish_batch(conn, bid, "published")
            conn.execute(sa.text("UPDATE etl_batch SET finished_at = :t WHERE batch_id = :b"),
                         {"t": nxt + timedelta(hours=20), "b": bid})
    last = nxt + timedelta(days=1)
    check_freshness_and_send(engine, ["32.71"], last, at=last)
    alerts = kotak.take()
    assert summary(alerts) == every_channel("disdukcapil", "SELESAI") + every_channel("disdukcapil", "SELESAI")
    assert cfg.pengingat > timedelta(days=2)


def test_daily_digest_per_owner_once_a_day(engine, kotak):
    batch(engine, "dukcapil", "penduduk", "32.71", "2025-2", "failed", dq=[("kolom_lengkap", "critical", False, None)])
    batch(engine, "dapodik", "sekolah", "32.71", "20251", "rejected", quarantined=["npsn_8_digit"] * 20)
    s = scan_and_send(engine, at=NIGHT)  # 01:00 local: no digest yet
    assert s["ringkasan"] == []
    kotak.take()
    morning = NIGHT + timedelta(hours=6, minutes=20)  # 07:20 local
    s = scan_and_send(engine, at=morning)
    assert sorted(s["ringkasan"]) == ["disdik", "disdukcapil", "tim_data"]  # dinkes has nothing open
    alerts = kotak.take()
    assert summary(alerts) == (every_channel("disdukcapil", "RINGKASAN HARIAN 2026-11-21")
                               + every_channel("disdik", "RINGKASAN HARIAN 2026-11-21")
                               + every_channel("tim_data", "RINGKASAN HARIAN 2026-11-21"))
    team = next(a.teks for a in alerts if a.pemilik == "tim_data" and a.saluran == "telegram")
    assert "2 masalah terbuka" in team and "[disdik]" in team and "[disdukcapil]" in team
    own = next(a.teks for a in alerts if a.pemilik == "disdik" and a.saluran == "telegram")
    assert "1 masalah terbuka" in own and "kolom_lengkap" not in own
    assert scan_and_send(engine, at=morning + timedelta(hours=1))["ringkasan"] == []
    assert kotak.take() == []


def test_an_owner_nobody_can_reach_is_relayed_to_the_data_team(engine, kotak, monkeypatch):
    kotak.fail_webhook.add("dinkes")
    monkeypatch.delenv("AIRFLOW_VAR_SPM_PERINGATAN_EMAIL_DINKES")
    monkeypatch.delenv("AIRFLOW_VAR_SPM_PERINGATAN_TELEGRAM_DINKES")
    batch(engine, "satusehat", "pasien", "32.71", "2026-11-19T00:00:00/2026-11-20T00:00:00", "failed",
          dq=[("kolom_lengkap", "critical", False, None)])
    s = scan_and_send(engine, at=NIGHT)
    alerts = kotak.take()
    assert {(a.saluran, a.pemilik) for a in alerts} == {("email", "tim_data"), ("webhook", "tim_data"),
                                                         ("telegram", "tim_data")}
    assert all("tidak terkirim ke Dinas Kesehatan" in a.teks for a in alerts)
    assert s["terkirim"] == 1 and s["tidak_terkirim"] == 0
    with engine.connect() as conn:
        log = conn.execute(sa.select(peringatan_kirim.c.pemilik, peringatan_kirim.c.saluran,
                                     peringatan_kirim.c.berhasil)).all()
    assert ("dinkes", "webhook", False) in log and ("tim_data", "email", True) in log


def test_no_channel_configured_keeps_the_problem_for_later(engine, kotak, monkeypatch):
    for owner in ("DISDUKCAPIL", "TIM_DATA"):
        for name in (f"AIRFLOW_VAR_SPM_PERINGATAN_EMAIL_{owner}", f"AIRFLOW_VAR_SPM_PERINGATAN_TELEGRAM_{owner}",
                     f"AIRFLOW_CONN_SPM_WEBHOOK_{owner}"):
            monkeypatch.delenv(name)
    batch(engine, "dukcapil", "kelahiran", "32.71", "2025", "failed", dq=[("ada_baris", "critical", False, None)])
    s = scan_and_send(engine, at=NIGHT)
    assert (s["terkirim"], s["tidak_terkirim"], s["tanpa_saluran"]) == (0, 0, 1)
    assert kotak.take() == []
    monkeypatch.setenv("AIRFLOW_VAR_SPM_PERINGATAN_EMAIL_DISDUKCAPIL", "disdukcapil@pemda.example")
    scan_and_send(engine, at=NIGHT + timedelta(hours=1))
    assert summary(kotak.take()) == Counter({("email", "disdukcapil", "[SPM] MASALAH BARU"): 1})


def test_resources_waiting_too_long_for_their_patient_alert_dinkes_until_the_patient_arrives(engine, kotak):
    from spm.warehouse.tables import rujukan_pasien_tertunda

    bid = batch(engine, "satusehat", "kunjungan", "32.71", "2026-11-10/2026-11-11", "published")
    with engine.begin() as conn:
        conn.execute(sa.insert(rujukan_pasien_tertunda), [
            {"kode_kab_kota": "32.71", "entitas": "kunjungan", "resource_id": f"enc-{i}", "pasien_id": "P1",
             "batch_id": bid, "sejak": NIGHT - timedelta(days=3)} for i in range(2)])
    scan_and_send(engine, at=NIGHT)  # 3 days: within the 7 allowed, no alert
    assert kotak.take() == []
    s = scan_and_send(engine, at=NIGHT + timedelta(days=5))
    alerts = kotak.take()
    assert summary(alerts) == every_channel("dinkes", "MASALAH BARU") and s["rujukan_tertunda"] == 1
    assert all("2 rekam menunggu data pasiennya" in a.teks and "P1" not in a.teks for a in alerts)
    with engine.begin() as conn:  # the patient arrived: what the health publish does
        conn.execute(sa.delete(rujukan_pasien_tertunda))
    scan_and_send(engine, at=NIGHT + timedelta(days=5, hours=1))
    assert summary(kotak.take()) == every_channel("dinkes", "SELESAI")


def test_an_inbox_file_that_breaks_its_load_is_told_to_its_owner_by_name(engine, kotak, tmp_path, monkeypatch):
    """A population file whose load stops on an unexpected error is refused alone and Disdukcapil is
    told which file (not only the data team, without the name, through a failed task)."""
    import spm.ingest.kependudukan as kependudukan
    from tests.ingest.test_kependudukan_inbox import penduduk_lines

    with_wilayah(engine)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "dkb_3271_2024-2.csv").write_text("\n".join(penduduk_lines()) + "\n")

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(kependudukan, "validation_parameters", broken)
    [result] = kependudukan.ingest_inbox(engine, inbox, "run-1")
    assert result["status"] == "rejected"
    scan_and_send(engine, at=datetime.now(timezone.utc))
    alerts = kotak.take()
    assert summary(alerts) == every_channel("disdukcapil", "MASALAH BARU")
    assert all("dkb_3271_2024-2.csv" in a.teks for a in alerts)


def _row_ids(engine, bid, name, ids, kolom):
    with engine.begin() as conn:
        conn.execute(sa.update(dq_result).where(dq_result.c.batch_id == bid, dq_result.c.expectation == name)
                     .values(kolom=kolom, details={"failed_row_ids": ids}))


def test_quarantined_population_rows_of_a_published_batch_tell_disdukcapil_file_row_and_column(engine, kotak):
    bid = batch(engine, "dukcapil", "penduduk", "32.71", "2025-2", "published",
                dq=[("jumlah_tidak_negatif", "warning", False, 2), ("umur_0_100", "warning", True, 0)],
                quarantined=["jumlah_tidak_negatif"] * 2, received=606)
    _row_ids(engine, bid, "jumlah_tidak_negatif", [14, 215], "jumlah")
    with engine.begin() as conn:
        conn.execute(sa.insert(inbox_file).values(
            source="dukcapil", entity="penduduk", file_name="dkb_3271_2025-2.csv", content_hash="h" * 64,
            kode_wilayah="32.71", periode="2025-2", status="published", batch_id=bid, processed_at=T0))
    # Quarantined rows of another source below the limit stay in its quality page, as before.
    batch(engine, "dapodik", "peserta_didik", "32.71", "20251", "published",
          dq=[("status_dikenal", "warning", False, 1)], quarantined=["status_dikenal"], received=500)
    scan_and_send(engine, at=NIGHT)
    alerts = kotak.take()
    assert summary(alerts) == every_channel("disdukcapil", "MASALAH BARU")
    text = alerts[0].teks
    assert "dkb_3271_2025-2.csv" in text and "jumlah_tidak_negatif (kolom jumlah): 2 baris" in text
    assert "baris sumber 14, 215" in text and "dihitung tanpa baris tersebut" in text
    for a in alerts:
        assert "Siti" not in a.teks and "3271014502900001" not in a.teks

    # The next semester's file, clean, resolves it.
    batch(engine, "dukcapil", "penduduk", "32.71", "2025-2", "published", dq=[("umur_0_100", "warning", True, 0)])
    scan_and_send(engine, at=NIGHT + timedelta(hours=1))
    assert summary(kotak.take()) == every_channel("disdukcapil", "SELESAI")


def test_a_failed_plausibility_gate_of_a_published_batch_tells_its_owner(engine, kotak):
    batch(engine, "dapodik", "peserta_didik", "32.71", "20251", "published",
          dq=[("jumlah_dekat_semester_lalu", "warning", False, None), ("status_dikenal", "warning", True, 0)])
    scan_and_send(engine, at=NIGHT)
    alerts = kotak.take()
    assert summary(alerts) == every_channel("disdik", "MASALAH BARU")
    assert "jumlah_dekat_semester_lalu: gagal pada tingkat batch" in alerts[0].teks
    assert "catatan mutu" in alerts[0].teks
    # The source answers with the same data: still noted, not resolved, not re-sent.
    batch(engine, "dapodik", "peserta_didik", "32.71", "20251", "unchanged")
    scan_and_send(engine, at=NIGHT + timedelta(hours=1))
    assert kotak.take() == []
