"""Which kab/kota and quarters spm_hitung_capaian computes, by hand and on Asset events."""

from datetime import datetime, timezone

from spm.orchestration.capaian import capaian_targets
from spm.orchestration.laporan import laporan_quarters

RUN = datetime(2026, 11, 22, 1, tzinfo=timezone.utc)  # quarter 4 of 2026


def _quarters(targets):
    return {t["kode_kab_kota"]: [tuple(q) for q in t["kuartal"]] for t in targets}


def test_by_hand_the_params_else_every_quarter_of_the_year_so_far():
    assert _quarters(capaian_targets({"kode_wilayah": ["32.71", "32.72"], "tahun": 2026, "triwulan": 3}, RUN)) == {
        "32.71": [(2026, 3)], "32.72": [(2026, 3)]}
    assert _quarters(capaian_targets({"kode_wilayah": ["32.71"], "tahun": 2025}, RUN)) == {
        "32.71": [(2025, 1), (2025, 2), (2025, 3), (2025, 4)]}
    early = datetime(2026, 2, 1, tzinfo=timezone.utc)
    assert _quarters(capaian_targets({"kode_wilayah": ["32.71"]}, early)) == {"32.71": [(2026, 1)]}
    assert capaian_targets({"kode_wilayah": ["32.71"], "tahun": 2027}, RUN) == []


def test_events_name_only_the_kab_kota_and_quarters_their_partitions_feed():
    events = [
        ("fact_penduduk", {"kode_kab_kota": "32.71", "periode": "2025-2"}),  # sasaran of 2026
        ("fact_penduduk", {"kode_kab_kota": "32.72", "periode": "2026-1"}),  # feeds 2027 only: not yet
        ("fact_peserta_didik", {"kode_kab_kota": "32.73", "periode": "20252"}),  # quarters 1-2 of 2026
        ("fact_kunjungan", {"kode_kab_kota": "32.74", "tahun_layanan": [2025]}),  # a late update of 2025
        # A hub's window: where its persons live (a resident of 32.76 served by 32.77's hub), which years.
        ("fact_observasi", {"kode_kab_kota": "32.77", "partitions": [
            {"kode_kab_kota": "32.76", "tahun_layanan": [2026]}, {"kode_kab_kota": "32.77", "tahun_layanan": []}]}),
        ("fact_input_mutu", {"partitions": [{"kode_kab_kota": "32.75", "periode": "2026-T3"}]}),
    ]
    assert _quarters(capaian_targets({}, RUN, events)) == {
        "32.71": [(2026, 1), (2026, 2), (2026, 3), (2026, 4)],
        "32.73": [(2026, 1), (2026, 2)],
        "32.74": [(2025, 1), (2025, 2), (2025, 3), (2025, 4)],
        "32.75": [(2026, 3)],
        "32.76": [(2026, 1), (2026, 2), (2026, 3), (2026, 4)],
    }
    assert capaian_targets({}, RUN, [("fact_penduduk", {"kode_kab_kota": "32.72", "periode": "2026-1"})]) == []


def test_reports_follow_the_quarters_of_the_index_events():
    extras = [{"kode_kab_kota": "32.71", "periode": ["2026-T1", "2026-T2"]}, {"kode_kab_kota": "32.72",
                                                                              "periode": "2026-T3"}]
    assert laporan_quarters({}, RUN, extras) == [
        {"kode_kab_kota": "32.71", "tahun": 2026, "triwulan": 1}, {"kode_kab_kota": "32.71", "tahun": 2026, "triwulan": 2},
        {"kode_kab_kota": "32.72", "tahun": 2026, "triwulan": 3}]


def test_a_kab_kota_listed_twice_is_one_partition():
    assert capaian_targets({"kode_wilayah": ["32.71", "32.71"], "tahun": 2026, "triwulan": 1}, RUN) == [
        {"kode_kab_kota": "32.71", "kuartal": [[2026, 1]]}]


class _InletEvents:
    """The part of Airflow's inlet_events accessor late_event_extras uses: events of an Asset after a time."""

    def __init__(self, events):
        self.events, self.asked = events, []

    def __getitem__(self, asset):
        accessor = self

        class _Events:
            def after(self, since):
                accessor.asked.append((asset.name, since))
                return [e for name, e in accessor.events if name == asset.name and e.timestamp.isoformat() >= since]
        return _Events()


def test_an_event_that_landed_after_the_trigger_is_computed_too():
    # Two kab/kota publish learners moments apart: Airflow gives the run only the first event (one
    # wake-up per Asset and DAG); the second must still be computed by this run.
    from types import SimpleNamespace

    from spm.orchestration.capaian import CAPAIAN_SOURCES, LATE_EVENT_SLACK, late_event_extras

    first = ("fact_peserta_didik", {"kode_kab_kota": "32.71", "periode": "20261"})
    second = SimpleNamespace(timestamp=RUN + LATE_EVENT_SLACK / 10, extra={"kode_kab_kota": "32.72", "periode": "20261"})
    old = SimpleNamespace(timestamp=RUN - 2 * LATE_EVENT_SLACK, extra={"kode_kab_kota": "32.73", "periode": "20261"})
    inlets = _InletEvents([("fact_peserta_didik", second), ("fact_peserta_didik", old)])
    late = late_event_extras(inlets, RUN)
    assert {name for name, _ in inlets.asked} == {a.name for a in CAPAIAN_SOURCES}
    assert late == [("fact_peserta_didik", second.extra)]
    assert _quarters(capaian_targets({}, RUN, [first] + late)) == {
        "32.71": [(2026, 3), (2026, 4)], "32.72": [(2026, 3), (2026, 4)]}


def test_provinces_roll_up_where_two_or_more_of_their_kab_kota_are_configured():
    from spm.orchestration.capaian import provinsi_targets

    targets = [{"kode_kab_kota": "32.71", "kuartal": [[2026, 3]]},
               {"kode_kab_kota": "32.72", "kuartal": [[2026, 2], [2026, 3]]},
               {"kode_kab_kota": "33.74", "kuartal": [[2026, 3]]}]
    configured = ["32.71", "32.72", "32.73", "33.74"]
    # 32: every quarter one of its kab/kota computed; 33: one kab/kota only, no provinsi row.
    assert provinsi_targets(targets, configured) == [{"kode_provinsi": "32", "kuartal": [[2026, 2], [2026, 3]]}]
    # An event run computing one kab/kota of a province configured whole still rolls it up.
    assert provinsi_targets(targets[:1], configured) == [{"kode_provinsi": "32", "kuartal": [[2026, 3]]}]
    assert provinsi_targets(targets, ["32.71", "33.74"]) == []


def test_a_province_code_stands_for_its_kab_kota(engine, monkeypatch):
    import pytest

    from spm.errors import ConfigError
    from spm.orchestration import tasks
    from tests.warehouses import with_wilayah

    with_wilayah(engine)
    monkeypatch.setattr(tasks, "warehouse_engine", lambda: engine)
    jabar = tasks.kode_wilayah_list({"kode_wilayah": ["32"]})
    assert len(jabar) == 27 and jabar[:2] == ["32.01", "32.02"] and "32.71" in jabar
    assert tasks.kode_wilayah_list({"kode_wilayah": ["32.71", "32"]}).count("32.71") == 1
    assert tasks.kode_wilayah_list({"kode_wilayah": ["32.71"]}) == ["32.71"]
    with pytest.raises(ConfigError, match="kode_wilayah 99: no provinsi"):
        tasks.kode_wilayah_list({"kode_wilayah": ["99"]})


def test_a_province_named_by_hand_gets_its_report_beside_its_kab_kota(engine, monkeypatch):
    from spm.orchestration import tasks
    from tests.warehouses import with_wilayah

    with_wilayah(engine)
    monkeypatch.setattr(tasks, "warehouse_engine", lambda: engine)
    quarters = laporan_quarters({"kode_wilayah": ["32"], "tahun": 2026, "triwulan": 3}, RUN, [])
    assert {q["kode_kab_kota"] for q in quarters} >= {"32", "32.71", "32.01"} and len(quarters) == 28
    # On the events of a provinsi computation: its report, like a kab/kota's.
    assert laporan_quarters({}, RUN, [{"kode_kab_kota": "32", "periode": ["2026-T3"]}]) == [
        {"kode_kab_kota": "32", "tahun": 2026, "triwulan": 3}]


def test_the_configured_kab_kota_are_the_variables_and_the_runs(engine, monkeypatch):
    """A hand rerun of one kab/kota of a province the Variable lists still rolls the province up;
    with neither a Variable nor a run param (events only) no province is rolled up."""
    from airflow.sdk import Variable

    from spm.orchestration import capaian, tasks
    from tests.warehouses import with_wilayah

    with_wilayah(engine)
    monkeypatch.setattr(tasks, "warehouse_engine", lambda: engine)
    variable = {"value": ["32"]}
    monkeypatch.setattr(Variable, "get", staticmethod(lambda key, default=None, deserialize_json=False: variable["value"]))
    rerun = [{"kode_kab_kota": "32.71", "kuartal": [[2026, 3]]}]
    assert capaian.provinsi_plan({"kode_wilayah": ["32.71"]}, rerun) == [{"kode_provinsi": "32", "kuartal": [[2026, 3]]}]
    variable["value"] = None
    import pytest
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        capaian.provinsi_plan({}, rerun + [{"kode_kab_kota": "32.73", "kuartal": [[2026, 3]]}])
    with pytest.raises(AirflowSkipException):
        capaian.provinsi_plan({}, None)  # resolve_targets skipped


def test_a_provinces_own_opd_input_rolls_the_province_up_without_a_kab_kota_computation(monkeypatch):
    """The penerima of the province's Dinas (partition `32`) feeds only the province's rows: it plans
    the province's roll-up for that quarter, and the kab/kota step skips it with the reason."""
    import pytest
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowSkipException

    from spm.orchestration import capaian, tasks

    events = [("fact_input_mutu", {"partitions": [{"kode_kab_kota": "32", "periode": "2026-T3"}]})]
    targets = capaian_targets({}, RUN, events)
    assert targets == [{"kode_kab_kota": "32", "kuartal": [[2026, 3]]}]
    monkeypatch.setattr(Variable, "get", staticmethod(lambda key, default=None, deserialize_json=False: ["32.71", "32.72"]))
    monkeypatch.setattr(tasks, "expand_provinces", lambda codes: list(codes))
    assert capaian.capaian_plan({}, RUN, events) == targets  # kept: a province of the configured kab/kota
    assert capaian.provinsi_targets(targets, ["32.71", "32.72"]) == [{"kode_provinsi": "32", "kuartal": [[2026, 3]]}]
    with pytest.raises(AirflowSkipException, match="32 is a province"):
        capaian.capaian_compute(targets[0], "run")
    events_33 = [("fact_input_mutu", {"partitions": [{"kode_kab_kota": "33", "periode": "2026-T3"}]})]
    with pytest.raises(AirflowSkipException):  # another province's workbook: not this deployment's
        capaian.capaian_plan({}, RUN, events_33)
