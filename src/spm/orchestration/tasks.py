"""Plain functions behind the task bodies; each resolves the warehouse at run time, never at parse time."""

from __future__ import annotations

import functools
import logging
from datetime import date
from pathlib import Path
from typing import Any

from spm.errors import ConfigError, InputError, WarehouseError
from spm.sources.http import SourceAuthError

log = logging.getLogger(__name__)


def fail_fast(func):
    """Errors that a retry cannot fix (bad config or input, schema behind) fail the task at once."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ConfigError, InputError, SourceAuthError) as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc
        except WarehouseError as exc:
            if "spm db upgrade" not in str(exc):
                raise  # unreachable server: worth a retry
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from exc

    return wrapper


def warehouse_engine():
    from spm.settings import warehouse_url_from_airflow
    from spm.warehouse.db import get_engine

    return get_engine(warehouse_url_from_airflow())


@fail_fast
def check_warehouse_schema() -> str:
    """Fail early, with the fix in the message, when the warehouse schema is behind the code."""
    from spm.warehouse.db import current_revision, describe, require_current_schema

    engine = warehouse_engine()
    require_current_schema(engine)
    log.info("warehouse %s at revision %s", describe(engine), current_revision(engine))
    return current_revision(engine)


CODE_LIST_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.csv$"  # a file name in the code-list folder, no path


def wilayah_inbox() -> Path:
    """Where operators put a Kemendagri code list for spm_muat_wilayah: the only folder its `file` param reads."""
    from spm.settings import spm_home

    return spm_home() / "inbox" / "wilayah"


def code_list_path(name: str) -> Path:
    """The code list `name` in wilayah_inbox(). A path, a name of another shape, or a link leading out of
    the folder is refused: a run's conf must not make a worker read any other file (the
    pseudonymisation secret, say)."""
    import re

    folder = wilayah_inbox()
    if not isinstance(name, str) or not re.fullmatch(CODE_LIST_NAME, name):
        raise InputError(f"file {name[:80]!r}: give the name of a .csv code list in {folder} (letters, digits, . _ -; "
                         "no folder or path)")
    path = folder / name
    if not path.resolve().is_relative_to(folder.resolve()) or not path.is_file():
        raise InputError(f"file {name!r}: no such code list in {folder}")
    return path


@fail_fast
def load_dim_wilayah(params: dict[str, Any]) -> dict[str, Any]:
    """Merge the code list named by the run's params (default: the shipped list) into dim_wilayah."""
    from spm.warehouse.wilayah import current_count, load_wilayah

    file = params.get("file") or None
    berlaku = params.get("berlaku_mulai") or None
    result = load_wilayah(
        warehouse_engine(),
        code_list_path(file) if file else None,
        date.fromisoformat(berlaku) if berlaku else None,
        params.get("sumber") or None,
    )
    counts = current_count(warehouse_engine())
    log.info("dim_wilayah: %s opened, %s closed, current %s", result.opened, result.closed, counts)
    return {"opened": result.opened, "closed": result.closed, "berlaku_mulai": result.berlaku_mulai.isoformat(),
            "current": counts}


@fail_fast
def sync_dim_layanan() -> int:
    from spm.warehouse.layanan import sync_dim_layanan as sync

    return sync(warehouse_engine())


# --- spm_ingest_kependudukan -----------------------------------------------------------------------

def kode_wilayah_list(params: dict[str, Any]) -> list[str]:
    """The run's kab/kota list: the `kode_wilayah` param, else the `spm_kode_wilayah` Variable."""
    codes = params.get("kode_wilayah")
    if not codes:
        from airflow.sdk import Variable

        codes = Variable.get("spm_kode_wilayah", default=None, deserialize_json=True)
    if not codes:
        raise ConfigError("no kab/kota to load: set the Variable spm_kode_wilayah (JSON list, e.g. [\"32.71\"]) "
                          "or the run param kode_wilayah")
    if isinstance(codes, str):
        codes = [codes]
    return list(dict.fromkeys(codes))  # a code listed twice would map two tasks onto one partition


@fail_fast
def kependudukan_partitions(params: dict[str, Any], entity: str, run_after) -> list[dict]:
    from spm.ingest.kependudukan import default_semester, partitions

    tahun, semester = params.get("tahun"), params.get("semester")
    if not tahun or not semester:
        default = default_semester(run_after.date())
        tahun, semester = tahun or default[0], semester or default[1]
    return [p for p in partitions(kode_wilayah_list(params), int(tahun), int(semester)) if p["entity"] == entity]


@fail_fast
def kependudukan_extract(partition: dict, run_id: str) -> dict:
    from spm.ingest.kependudukan import extract_api
    from spm.sources.connections import get_connection
    from spm.sources.dukcapil import CONN_ID, DukcapilClient

    with DukcapilClient(get_connection(CONN_ID)) as client:
        return extract_api(warehouse_engine(), partition, run_id, client)


@fail_fast
def kependudukan_validate(staged: dict) -> dict:
    from spm.ingest.kependudukan import validate_partition

    result = validate_partition(warehouse_engine(), staged)
    if result["status"] in ("failed", "rejected"):
        raise InputError(f"{result['entity']} {result['kode_kab_kota']} {result['periode']}: {result['message']} "
                         f"(batch {result['batch_id']}, see `spm status`)")
    return result


def kependudukan_publish(validated: dict) -> dict:
    """Publish, or skip (no Asset event) when the source had nothing new."""
    from spm.ingest.kependudukan import publish_partition

    result = publish_partition(warehouse_engine(), validated)
    if result["status"] != "published":
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{result['entity']} {result['kode_kab_kota']} {result['periode']}: "
                                   f"{result['status']}: {result['message']}")
    return result


def asset_extra(result: dict) -> dict:
    keys = ("kode_kab_kota", "periode", "batch_id", "rows_received", "rows_published", "rows_quarantined")
    return {k: result[k] for k in keys if k in result}


def dukcapil_inbox() -> Path:
    from spm.settings import spm_home

    return spm_home() / "inbox" / "dukcapil"


@fail_fast
def kependudukan_inbox(run_id: str) -> list[dict]:
    from spm.ingest.kependudukan import ingest_inbox

    inbox = dukcapil_inbox()
    inbox.mkdir(parents=True, exist_ok=True)
    results = ingest_inbox(warehouse_engine(), inbox, run_id)
    for r in results:
        log.info("inbox %s: %s %s", r["file"], r["status"], r["message"])
    return results


def announce_inbox(results: list[dict], outlet_events, assets: dict) -> dict:
    """An Asset event per entity that an inbox file published, naming its partitions; with nothing
    published (an empty inbox, files seen before) the task is skipped and no event wakes anyone."""
    extras: dict[str, list[dict]] = {}
    for r in results:
        if r["status"] == "published" and r.get("entity") in assets:
            extras.setdefault(r["entity"], []).append(asset_extra(r) | {"file": r["file"]})
    if not extras:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("no inbox file published in this run: no Asset event")
    for entity, partitions in extras.items():
        outlet_events[assets[entity]].extra = {"partitions": partitions}
    return {entity: len(p) for entity, p in extras.items()}


def check_rejected_files(results: list[dict]) -> None:
    rejected = [r for r in results if r["status"] not in ("published", "unchanged", "duplicate")]
    if rejected:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"{len(rejected)} inbox file(s) rejected, see {dukcapil_inbox() / 'rejected'}: "
            + "; ".join(f"{r['file']}: {r['message']}" for r in rejected))


# --- spm_hitung_capaian ----------------------------------------------------------------------------

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
                for kode in kode_wilayah_list(params) if quarters]
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


@fail_fast
def capaian_plan(params: dict[str, Any], run_after, events: list[tuple[str, dict]] | None = None) -> list[dict]:
    targets = capaian_targets(params, run_after, events)
    if events and not params.get("kode_wilayah"):
        # A hub's patients may live in a kab/kota this Pemda does not report (a neighbour): its
        # events name that one too, but only the configured kab/kota are computed.
        from airflow.sdk import Variable

        configured = Variable.get("spm_kode_wilayah", default=None, deserialize_json=True)
        if configured:
            wanted = {configured} if isinstance(configured, str) else set(configured)
            targets = [t for t in targets if t["kode_kab_kota"] in wanted]
    if not targets:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("the published partitions feed no quarter up to the run's date: nothing to compute")
    for t in targets:
        log.info("capaian %s: %s", t["kode_kab_kota"], ", ".join(f"{y}-T{q}" for y, q in t["kuartal"]))
    return targets


@fail_fast
def capaian_compute(target: dict, run_id: str) -> dict:
    """The target's quarters one after another, each in its own transaction. A quarter without its
    denominator is recorded as `missing` and left out (never computed against a missing sasaran);
    when none has one, the task is skipped with the reason."""
    from spm.indicators.capaian import compute_capaian

    engine = warehouse_engine()
    kode = target["kode_kab_kota"]
    published, missing = [], []
    for tahun, triwulan in target["kuartal"]:
        result = compute_capaian(engine, kode, int(tahun), int(triwulan), run_id)
        (published if result["status"] == "published" else missing).append(result)
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


@fail_fast
def indeks_compute(capaian: dict, run_id: str) -> dict:
    from spm.indicators.indeks import compute_indeks

    engine = warehouse_engine()
    results = []
    for periode in capaian["periode"]:
        tahun, triwulan = (int(x) for x in periode.split("-T"))
        results.append(compute_indeks(engine, capaian["kode_kab_kota"], tahun, triwulan, run_id))
    return {"kode_kab_kota": capaian["kode_kab_kota"], "periode": list(capaian["periode"]),
            "batch_id": [r.get("batch_id") for r in results],
            "rows_published": sum(r.get("rows_published") or 0 for r in results)}


# --- spm_terbitkan_laporan -------------------------------------------------------------------------

@fail_fast
def laporan_quarters(params: dict[str, Any], run_after, extras: list[dict]) -> list[dict]:
    """The (kab/kota, year, quarter) to publish: the params; else the quarters whose index was just
    rebuilt (the triggering Asset events); else every quarter of the run's year so far."""
    if not (params.get("tahun") or params.get("kode_wilayah") or params.get("triwulan")) and extras:
        quarters = set()
        for extra in extras:
            periodes = extra.get("periode")
            for periode in periodes if isinstance(periodes, list) else [periodes]:
                if extra.get("kode_kab_kota") and "-T" in str(periode or ""):
                    tahun, triwulan = (int(x) for x in str(periode).split("-T"))
                    quarters.add((extra["kode_kab_kota"], tahun, triwulan))
        if quarters:
            return [{"kode_kab_kota": k, "tahun": t, "triwulan": q} for k, t, q in sorted(quarters)]
    return [{"kode_kab_kota": t["kode_kab_kota"], "tahun": y, "triwulan": q}
            for t in capaian_targets(params, run_after) for y, q in t["kuartal"]]


@fail_fast
def laporan_plan(params: dict[str, Any], run_after, extras: list[dict]) -> list[dict]:
    """laporan_quarters, and on Asset events also every quarter whose index was published after its
    report was written (or that has none). Under Celery a quarter's report was sometimes never
    written although its index was (an index event that, it seems, reached no report run; the cause
    is not confirmed): the next report run catches such a quarter up."""
    quarters = laporan_quarters(params, run_after, extras)
    if params.get("tahun") or params.get("kode_wilayah") or params.get("triwulan") or not extras:
        return quarters
    from spm.reporting.terbit import stale_quarters

    named = {(q["kode_kab_kota"], q["tahun"], q["triwulan"]) for q in quarters}
    late = [q for q in stale_quarters(warehouse_engine()) if (q["kode_kab_kota"], q["tahun"], q["triwulan"]) not in named]
    for q in late:
        log.info("laporan %s %s triwulan %s: its index is newer than its report (an event no run received)",
                 q["kode_kab_kota"], q["tahun"], q["triwulan"])
    return sorted(quarters + late, key=lambda q: (q["kode_kab_kota"], q["tahun"], q["triwulan"]))


@fail_fast
def laporan_publish(quarter: dict) -> dict:
    from spm.reporting.terbit import terbitkan

    engine = warehouse_engine()
    if not capaian_exists(engine, quarter["kode_kab_kota"], int(quarter["tahun"]), int(quarter["triwulan"])):
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{quarter['kode_kab_kota']} {quarter['tahun']} triwulan {quarter['triwulan']}: "
                                   "no capaian computed for this quarter (see spm_hitung_capaian): no report")
    result = terbitkan(engine, quarter["kode_kab_kota"], int(quarter["tahun"]), int(quarter["triwulan"]))
    log.info("laporan %s %s triwulan %s: %s", result["kode_kab_kota"], result["tahun"], result["triwulan"],
             result["folder"])
    return result


def capaian_exists(engine, kode: str, tahun: int, triwulan: int) -> bool:
    import sqlalchemy as sa

    from spm.warehouse.tables_marts import mart_capaian_spm as m

    with engine.connect() as conn:
        return conn.execute(sa.select(m.c.kode_wilayah).where(
            m.c.kode_wilayah == kode, m.c.tahun == tahun, m.c.triwulan == triwulan).limit(1)).first() is not None
