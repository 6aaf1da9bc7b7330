"""spm_terbitkan_laporan run for real with dag.test() against a warehouse the pipeline filled."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from spm.orchestration.laporan import laporan_quarters
from spm.reporting.publish import FORMATS, read_manifest, publication_of
from tests.reporting.conftest import KODE, TAHUN, TRIWULAN

pytestmark = pytest.mark.airflow


def test_dag_publishes_the_quarter_under_spm_home(dag_of, laporan_url, airflow_db, monkeypatch):
    from openpyxl import load_workbook

    monkeypatch.setenv("SPM_WAREHOUSE_URL", laporan_url)
    t = publication_of(KODE, TAHUN, TRIWULAN)
    for jenis in FORMATS:
        t.path(jenis).unlink(missing_ok=True)
    run = dag_of("spm_terbitkan_laporan").test(run_conf={"kode_wilayah": [KODE], "tahun": TAHUN, "triwulan": TRIWULAN})
    assert run.state == "success"
    assert t.is_complete()
    manifest = read_manifest(t)
    assert manifest["tahun"] == TAHUN and manifest["triwulan"] == TRIWULAN and manifest["batch_ids"]
    assert t.path("pdf").read_bytes().startswith(b"%PDF")
    assert "Indeks" in load_workbook(t.path("xlsx")).sheetnames


def test_a_quarter_without_figures_is_a_skip_not_a_red_run(dag_of, laporan_url, airflow_db, monkeypatch):
    monkeypatch.setenv("SPM_WAREHOUSE_URL", laporan_url)
    run = dag_of("spm_terbitkan_laporan").test(run_conf={"kode_wilayah": [KODE], "tahun": TAHUN, "triwulan": 4})
    assert run.state == "success"
    ti = next(t for t in run.get_task_instances() if t.task_id == "publish_report")
    assert ti.state == "skipped" and ti.try_number == 1  # no retry can create a missing capaian
    assert not publication_of(KODE, TAHUN, 4).is_complete()


RUN_AFTER = datetime(2026, 11, 22, tzinfo=timezone.utc)


def test_asset_events_name_the_quarters_to_publish():
    extras = [{"kode_kab_kota": "32.71", "periode": "2026-T3", "batch_id": 9},
              {"kode_kab_kota": "32.71", "periode": "2026-T3", "batch_id": 10},
              {"kode_kab_kota": "32.01", "periode": "2025-T4"}]
    assert laporan_quarters({}, RUN_AFTER, extras) == [
        {"kode_kab_kota": "32.01", "tahun": 2025, "triwulan": 4},
        {"kode_kab_kota": "32.71", "tahun": 2026, "triwulan": 3}]


def test_params_win_over_asset_events_and_any_past_quarter_can_be_run():
    extras = [{"kode_kab_kota": "32.71", "periode": "2026-T3"}]
    assert laporan_quarters({"kode_wilayah": ["32.04"], "tahun": 2024, "triwulan": 2}, RUN_AFTER, extras) == [
        {"kode_kab_kota": "32.04", "tahun": 2024, "triwulan": 2}]
    assert [q["triwulan"] for q in laporan_quarters({"kode_wilayah": ["32.04"], "tahun": 2024}, RUN_AFTER, [])] == [
        1, 2, 3, 4]


def test_dag_runs_when_the_index_mart_is_published():
    from airflow.sdk import Asset

    from spm.orchestration.laporan import create_terbitkan_laporan_dag

    condition = create_terbitkan_laporan_dag().timetable.asset_condition
    assert isinstance(condition, Asset)  # that one Asset, not a time schedule
    assert (condition.name, condition.uri) == ("mart_indeks_spm", "spm://warehouse/mart_indeks_spm")
