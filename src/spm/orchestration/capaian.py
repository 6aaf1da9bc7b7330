"""DAG spm_hitung_capaian: rebuild mart_capaian_spm when a source it reads has published."""

from __future__ import annotations

import functools
import logging
import operator
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, task, task_group

from spm.orchestration import params, tasks
from spm.orchestration.assets import (
    FACT_INPUT_MUTU, FACT_KELAHIRAN, FACT_KUNJUNGAN, FACT_OBSERVASI, FACT_PENDUDUK, FACT_PESERTA_DIDIK,
    MART_CAPAIAN_SPM, MART_INDEKS_SPM, emit,
)
from spm.orchestration.factory import SpmDagParams, create_dag
from spm.warehouse.status import BatchStatus

log = logging.getLogger(__name__)


def quarter_params() -> dict[str, Param]:
    """Run conf of the quarterly DAGs (DESIGN §10): kab/kota, year and quarter, any past one included."""
    return {
        "kode_wilayah": params.kode_wilayah("kab/kota codes (a province code: all its kab/kota); empty = Variable spm_kode_wilayah"),
        "tahun": params.tahun("report year"),
        "triwulan": params.pilihan([1, 2, 3, 4], "quarter (year-to-date); empty = every quarter up to the run's"),
    }


# The published sources any figure depends on (a health window publishes all four FHIR tables
# together; two of them stand for the set).
CAPAIAN_SOURCES = (FACT_PENDUDUK, FACT_KELAHIRAN, FACT_PESERTA_DIDIK, FACT_KUNJUNGAN, FACT_OBSERVASI, FACT_INPUT_MUTU)

HITUNG_CAPAIAN = SpmDagParams(
    dag_id="spm_hitung_capaian",
    tags=("indikator", "capaian"),
    # Any newly published source changes some figure: recompute then (an Asset-triggered run).
    schedule=functools.reduce(operator.or_, CAPAIAN_SOURCES),
    retries=2,
    doc_md="""
### Hitung capaian SPM

Rebuilds `mart_capaian_spm` (sasaran, terlayani, capaian raw and capped, per desa, kecamatan and
kab/kota, for L, P and semua) for every configured kab/kota and quarter (year-to-date), inside the
warehouse, from the rules of the versioned catalog `config/katalog_layanan.yaml` and the factors of
`config/faktor_sasaran.yaml` (DESIGN §5); then `mart_indeks_spm` (nilai = 0.8 × capaian dibatasi +
0.2 × mutu from the OPD inputs, bidang and daerah means, labels; `config/indeks_spm.yaml`).

Runs when `fact_penduduk`, `fact_kelahiran`, `fact_peserta_didik`, the FHIR facts or `fact_input_mutu` is
published, for the kab/kota and quarters the published partitions feed (named in the events), or by
hand with params `kode_wilayah`, `tahun`, `triwulan` (default: every quarter of the run's year up to
the run's quarter). One mapped task group per kab/kota computes its quarters in turn, then its index, so runs never write
the same rows at once. Gates: no population for the reference semester or an earlier one means no
capaian for that quarter (the batch says `missing`, the task is skipped when no quarter has one); a jenis layanan whose source has no data for the period is left out;
a capaian moving more than the bound in `config/kualitas.yaml` is flagged in `dq_result`.

Then, for every province with two or more configured kab/kota (the Variable and the run's
`kode_wilayah`; a province code stands for all its kab/kota), its rows: sasaran summed over its
computed kab/kota, terlayani the distinct persons over them, `kab_kota_dimuat`/`kab_kota_total`, its
own pendidikan menengah and khusus, and its index (`spm.indicators.provinsi`).
""",
    params=quarter_params(),
)


# How far before the run's trigger time to look again for events it was not given (see below).
LATE_EVENT_SLACK = timedelta(minutes=5)


def asset_event_extras(triggering_asset_events) -> list[tuple[str, dict]]:
    """(asset name, extra) of every event that triggered the run; empty for a run by hand."""
    if not triggering_asset_events:
        return []
    return [(getattr(asset, "name", str(asset)), dict(event.extra or {}))
            for asset, events in triggering_asset_events.items() for event in events]


def late_event_extras(inlet_events, run_after) -> list[tuple[str, dict]]:
    """(asset name, extra) of the sources' events from shortly before the run's trigger time on.

    Airflow queues one wake-up per (Asset, DAG): when two mapped ingests publish the same Asset
    moments apart, the second event can land after the run is triggered yet before its queue row
    is cleared, so no run is ever given it (and when it is the night's last event no later run
    consumes it either). Reading them again here makes this run compute what they feed; a later
    run given the same events recomputes the same rows, which changes nothing."""
    since = (run_after - LATE_EVENT_SLACK).isoformat()
    return [(asset.name, dict(event.extra or {}))
            for asset in CAPAIAN_SOURCES for event in inlet_events[asset].after(since)]


def create_hitung_capaian_dag() -> DAG:
    with create_dag(HITUNG_CAPAIAN) as dag:

        @task
        def check_warehouse_schema() -> str:
            return tasks.check_warehouse_schema()

        @task(inlets=list(CAPAIAN_SOURCES))
        def resolve_targets(params=None, dag_run=None, triggering_asset_events=None,
                            inlet_events=None) -> list[dict[str, Any]]:
            events = asset_event_extras(triggering_asset_events)
            if events:
                events += late_event_extras(inlet_events, dag_run.run_after)
            return capaian_plan(dict(params), dag_run.run_after, events)

        @task(outlets=[MART_CAPAIAN_SPM])
        def compute_capaian(target: dict, run_id=None, outlet_events=None):
            result = capaian_compute(target, run_id)
            emit(outlet_events, {MART_CAPAIAN_SPM: tasks.asset_extra(result)})
            return result

        @task(outlets=[MART_INDEKS_SPM])
        def compute_indeks(capaian: dict, run_id=None, outlet_events=None):
            result = indeks_compute(capaian, run_id)
            emit(outlet_events, {MART_INDEKS_SPM: tasks.asset_extra(result)})
            return result

        @task_group
        def kab_kota(target: dict):
            # One mapped group per kab/kota: a kab/kota skipped for lack of population skips only
            # its own index, never the others' (a task mapped over all capaian would skip with it).
            compute_indeks(compute_capaian(target))

        # After every kab/kota (a skipped one leaves the others' roll-up to go ahead; a failed one stops it).
        @task(trigger_rule="none_failed")
        def resolve_provinces(targets: list[dict], params=None) -> list[dict[str, Any]]:
            return provinsi_plan(dict(params), targets)

        @task(outlets=[MART_CAPAIAN_SPM, MART_INDEKS_SPM])
        def compute_provinsi(target: dict, run_id=None, outlet_events=None):
            result = provinsi_compute(target, run_id)
            emit(outlet_events, {MART_CAPAIAN_SPM: tasks.asset_extra(result),
                                 MART_INDEKS_SPM: tasks.asset_extra(result)})
            return result

        targets = resolve_targets()
        check_warehouse_schema() >> targets
        provinces = resolve_provinces(targets)
        kab_kota.expand(target=targets) >> provinces
        compute_provinsi.expand(target=provinces)
    return dag


# --- the plain functions its tasks call ----------------------------------------

def quarters_of_year(tahun: int, run_after) -> list[int]:
    """Every quarter of a past year; of the run's year, those begun by the run's date."""
    if tahun < run_after.year:
        return [1, 2, 3, 4]
    if tahun > run_after.year:
        return []
    return list(range(1, (run_after.month - 1) // 3 + 2))


def _years_touched(asset: str, extra: dict[str, Any], run_year: int) -> set[int]:
    """The report years whose figures a published source partition feeds (DESIGN §5: sasaran of year
    T from population semester T-1/2 or earlier and births of T-1; Dapodik semester TTTT1 feeds
    quarters 3-4 of TTTT and TTTT2 quarters 1-2 of the next year; FHIR the years of its services)."""
    periode = str(extra.get("periode") or "")
    if asset == "fact_penduduk" and periode[:4].isdigit():
        return set(range(int(periode[:4]) + 1, run_year + 1))
    if asset == "fact_kelahiran" and periode[:4].isdigit():
        return {int(periode[:4]) + 1}
    if asset == "fact_peserta_didik" and periode.isdigit() and len(periode) == 5:
        tahun, semester = int(periode[:4]), int(periode[4])
        return {tahun} if semester == 1 else {tahun + 1}
    if asset in ("fact_kunjungan", "fact_observasi"):
        return {int(y) for y in extra.get("tahun_layanan") or []}
    if asset == "fact_input_mutu" and "-T" in periode:
        return {int(periode.split("-T")[0])}
    return set()


def _quarters_touched(asset: str, extra: dict[str, Any], tahun: int, run_after) -> list[int]:
    quarters = quarters_of_year(tahun, run_after)
    periode = str(extra.get("periode") or "")
    if asset == "fact_peserta_didik" and periode.isdigit():
        wanted = {3, 4} if periode.endswith("1") else {1, 2}
        return [q for q in quarters if q in wanted]
    if asset == "fact_input_mutu" and "-T" in periode:
        return [q for q in quarters if q == int(periode.split("-T")[1])]
    return quarters


def capaian_targets(params: dict[str, Any], run_after, events: list[tuple[str, dict]] | None = None) -> list[dict]:
    """What spm_hitung_capaian computes: one entry per kab/kota, {"kode_kab_kota", "kuartal": [[tahun,
    triwulan], ...]}, so that one task writes all of a kab/kota's rows (the quarters of a year share
    its mart_terlayani_bulanan rows). By hand: the params (default: every quarter of the run's year
    so far). On Asset events: only the kab/kota and quarters the published partitions feed."""
    if params.get("tahun") or params.get("kode_wilayah") or params.get("triwulan") or not events:
        tahun = int(params.get("tahun") or run_after.year)
        if params.get("triwulan"):
            quarters = [int(params["triwulan"])]
        else:
            quarters = quarters_of_year(tahun, run_after) if tahun <= run_after.year else []
        return [{"kode_kab_kota": kode, "kuartal": [[tahun, q] for q in quarters]}
                for kode in tasks.kode_wilayah_list(params) if quarters]
    wanted: dict[str, set[tuple[int, int]]] = {}
    for asset, extra in events:
        for part in extra.get("partitions") or [extra]:
            kode = part.get("kode_kab_kota")
            if not kode:
                continue
            for tahun in sorted(_years_touched(asset, part, run_after.year)):
                for q in _quarters_touched(asset, part, tahun, run_after):
                    wanted.setdefault(kode, set()).add((tahun, q))
    return [{"kode_kab_kota": kode, "kuartal": [list(k) for k in sorted(quarters)]}
            for kode, quarters in sorted(wanted.items()) if quarters]


@tasks.fail_fast
def capaian_plan(params: dict[str, Any], run_after, events: list[tuple[str, dict]] | None = None) -> list[dict]:
    targets = capaian_targets(params, run_after, events)
    if events and not params.get("kode_wilayah"):
        # A hub's patients may live in a kab/kota this Pemda does not report (a neighbour): its
        # events name that one too, but only the configured kab/kota are computed.
        from airflow.sdk import Variable

        configured = Variable.get("spm_kode_wilayah", default=None, deserialize_json=True)
        if configured:
            wanted = set(tasks.expand_provinces([configured] if isinstance(configured, str) else list(configured)))
            wanted |= {k.split(".")[0] for k in wanted}  # a province's own OPD input: its roll-up
            targets = [t for t in targets if t["kode_kab_kota"] in wanted]
    if not targets:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("the published partitions feed no quarter up to the run's date: nothing to compute")
    for t in targets:
        log.info("capaian %s: %s", t["kode_kab_kota"], ", ".join(f"{y}-T{q}" for y, q in t["kuartal"]))
    return targets


@tasks.fail_fast
def capaian_compute(target: dict, run_id: str) -> dict:
    """The target's quarters one after another, each in its own transaction. A quarter without its
    denominator is recorded as `missing` and left out (never computed against a missing sasaran);
    when none has one, the task is skipped with the reason."""
    from spm.indicators.capaian import compute_capaian
    from spm.reference import is_provinsi

    kode = target["kode_kab_kota"]
    if is_provinsi(kode):  # an event of the province's own OPD workbook: compute_provinsi recomputes it
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{kode} is a province (its own OPD input was published): its rows are computed "
                                   "by compute_provinsi after its kab/kota")
    engine = tasks.warehouse_engine()
    published, missing = [], []
    for tahun, triwulan in target["kuartal"]:
        result = compute_capaian(engine, kode, int(tahun), int(triwulan), run_id)
        (published if result["status"] == BatchStatus.PUBLISHED else missing).append(result)
    for r in missing:
        log.warning("capaian %s %s not computed: %s", kode, r["periode"], r["message"])
    if not published:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{kode}: no capaian computed: " + "; ".join(
            f"{r['periode']}: {r['message']}" for r in missing))
    return {"kode_kab_kota": kode, "periode": [r["periode"] for r in published],
            "batch_id": [r["batch_id"] for r in published],
            "rows_published": sum(r["rows_published"] for r in published),
            "missing": [r["periode"] for r in missing]}


@tasks.fail_fast
def indeks_compute(capaian: dict, run_id: str) -> dict:
    from spm.indicators.indeks import compute_indeks

    engine = tasks.warehouse_engine()
    results = []
    for periode in capaian["periode"]:
        tahun, triwulan = (int(x) for x in periode.split("-T"))
        results.append((periode, compute_indeks(engine, capaian["kode_kab_kota"], tahun, triwulan, run_id)))
    refused = [(p, r) for p, r in results if r.get("status") == BatchStatus.REJECTED]
    for p, r in refused:  # an approved quarter whose index would change: kept, alerted (spm.warehouse.persetujuan)
        log.warning("indeks %s %s not written: %s", capaian["kode_kab_kota"], p, r["message"])
    # The Asset event names only the quarters whose index was written: a refused one has nothing to publish.
    return {"kode_kab_kota": capaian["kode_kab_kota"], "periode": [p for p, r in results if (p, r) not in refused],
            "batch_id": [r.get("batch_id") for _, r in results],
            "rows_published": sum(r.get("rows_published") or 0 for _, r in results),
            "terkunci": [p for p, _ in refused]}


# DESIGN §7: where kab/kota of one province are loaded, the mart holds the provinsi row too; a
# deployment of one kab/kota computes none.
MIN_KAB_KOTA_PROVINSI = 2


def provinsi_targets(targets: list[dict], configured: list[str]) -> list[dict]:
    """The provinces to roll up after the run's kab/kota: those with at least MIN_KAB_KOTA_PROVINSI
    configured kab/kota, for every quarter the run computed for one of them."""
    from spm.indicators.provinsi import provinsi_of

    per_provinsi: dict[str, set[str]] = {}
    for kode in configured:
        per_provinsi.setdefault(provinsi_of(kode), set()).add(kode)
    wanted: dict[str, set[tuple[int, int]]] = {}
    for t in targets:
        prov = provinsi_of(t["kode_kab_kota"])
        if len(per_provinsi.get(prov, ())) >= MIN_KAB_KOTA_PROVINSI:
            wanted.setdefault(prov, set()).update((int(y), int(q)) for y, q in t["kuartal"])
    return [{"kode_provinsi": prov, "kuartal": [list(k) for k in sorted(quarters)]}
            for prov, quarters in sorted(wanted.items())]


def configured_kab_kota(params: dict[str, Any]) -> list[str]:
    """The kab/kota the deployment reports: the Variable's and the run's `kode_wilayah`, provinces
    expanded. A hand rerun of one kab/kota of a province the Variable lists still rolls it up; a run
    without either (events only, no Variable) reports no province."""
    from airflow.sdk import Variable

    codes: list[str] = []
    for given in (Variable.get("spm_kode_wilayah", default=None, deserialize_json=True), params.get("kode_wilayah")):
        if given:
            codes += [given] if isinstance(given, str) else list(given)
    return tasks.expand_provinces(codes) if codes else []


@tasks.fail_fast
def provinsi_plan(params: dict[str, Any], targets: list[dict] | None) -> list[dict]:
    # targets is None when resolve_targets was skipped (nothing to compute): nothing to roll up.
    planned = provinsi_targets(targets or [], configured_kab_kota(params))
    if not planned:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"no provinsi with {MIN_KAB_KOTA_PROVINSI} or more configured kab/kota among "
                                   "those computed: no provinsi rows")
    return planned


@tasks.fail_fast
def provinsi_compute(target: dict, run_id: str) -> dict:
    """The province's quarters one after another: its capaian rows, then its index (each quarter in
    its own transactions). A quarter none of its kab/kota has is recorded as `missing`."""
    from spm.indicators.indeks import compute_indeks
    from spm.indicators.provinsi import compute_capaian_provinsi

    engine = tasks.warehouse_engine()
    kode = target["kode_provinsi"]
    published, missing = [], []
    for tahun, triwulan in target["kuartal"]:
        result = compute_capaian_provinsi(engine, kode, int(tahun), int(triwulan), run_id)
        if result["status"] != BatchStatus.PUBLISHED:
            missing.append(result)
            log.warning("capaian provinsi %s %s not computed: %s", kode, result["periode"], result["message"])
            continue
        published.append((result, compute_indeks(engine, kode, int(tahun), int(triwulan), run_id)))
    if not published:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"provinsi {kode}: no capaian computed: " + "; ".join(
            f"{r['periode']}: {r['message']}" for r in missing))
    # kode_kab_kota: the marts' partition key, the province's code on provinsi rows.
    return {"kode_kab_kota": kode, "periode": [c["periode"] for c, _ in published],
            "batch_id": [c["batch_id"] for c, _ in published] + [i["batch_id"] for _, i in published],
            "rows_published": sum(c["rows_published"] + (i.get("rows_published") or 0) for c, i in published),
            "kab_kota_dimuat": sorted({k for c, _ in published for k in c["kab_kota_dimuat"]}),
            "missing": [r["periode"] for r in missing]}
