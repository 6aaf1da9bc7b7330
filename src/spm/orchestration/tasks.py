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


@fail_fast
def load_dim_wilayah(params: dict[str, Any]) -> dict[str, Any]:
    """Merge the code list named by the run's params (default: the shipped list) into dim_wilayah."""
    from spm.warehouse.wilayah import current_count, load_wilayah

    file = params.get("file") or None
    berlaku = params.get("berlaku_mulai") or None
    result = load_wilayah(
        warehouse_engine(),
        Path(file) if file else None,
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
    return list(codes)


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


def check_rejected_files(results: list[dict]) -> None:
    rejected = [r for r in results if r["status"] not in ("published", "unchanged", "duplicate")]
    if rejected:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"{len(rejected)} inbox file(s) rejected, see {dukcapil_inbox() / 'rejected'}: "
            + "; ".join(f"{r['file']}: {r['message']}" for r in rejected))


# --- spm_hitung_capaian ----------------------------------------------------------------------------

@fail_fast
def capaian_quarters(params: dict[str, Any], run_after) -> list[dict]:
    """The (kab/kota, year, quarter) to compute: the params, else every quarter of the run's year so far."""
    tahun = params.get("tahun") or run_after.year
    if params.get("triwulan"):
        quarters = [int(params["triwulan"])]
    elif params.get("tahun") and int(params["tahun"]) < run_after.year:
        quarters = [1, 2, 3, 4]
    else:
        quarters = list(range(1, (run_after.month - 1) // 3 + 2))
    return [{"kode_kab_kota": kode, "tahun": int(tahun), "triwulan": q}
            for kode in kode_wilayah_list(params) for q in quarters]


@fail_fast
def capaian_compute(quarter: dict, run_id: str) -> dict:
    from spm.indicators.capaian import compute_capaian

    result = compute_capaian(warehouse_engine(), quarter["kode_kab_kota"], quarter["tahun"], quarter["triwulan"],
                             run_id)
    if result["status"] != "published":  # no population at all: an alert, not a quiet skip
        raise InputError(f"{result['kode_kab_kota']} {result['periode']}: {result['message']}")
    return result


@fail_fast
def indeks_compute(capaian: dict, run_id: str) -> dict:
    from spm.indicators.indeks import compute_indeks

    tahun, triwulan = (int(x) for x in capaian["periode"].split("-T"))
    return compute_indeks(warehouse_engine(), capaian["kode_kab_kota"], tahun, triwulan, run_id)


# --- spm_terbitkan_laporan -------------------------------------------------------------------------

@fail_fast
def laporan_quarters(params: dict[str, Any], run_after, extras: list[dict]) -> list[dict]:
    """The (kab/kota, year, quarter) to publish: the params; else the quarters whose index was just
    rebuilt (the triggering Asset events); else every quarter of the run's year so far."""
    if params.get("tahun") or params.get("kode_wilayah") or not extras:
        return capaian_quarters(params, run_after)
    quarters = set()
    for extra in extras:
        if extra.get("kode_kab_kota") and "-T" in str(extra.get("periode", "")):
            tahun, triwulan = (int(x) for x in extra["periode"].split("-T"))
            quarters.add((extra["kode_kab_kota"], tahun, triwulan))
    if not quarters:
        return capaian_quarters(params, run_after)
    return [{"kode_kab_kota": k, "tahun": t, "triwulan": q} for k, t, q in sorted(quarters)]


@fail_fast
def laporan_publish(quarter: dict) -> dict:
    from spm.reporting.terbit import terbitkan

    result = terbitkan(warehouse_engine(), quarter["kode_kab_kota"], int(quarter["tahun"]), int(quarter["triwulan"]))
    log.info("laporan %s %s triwulan %s: %s", result["kode_kab_kota"], result["tahun"], result["triwulan"],
             result["folder"])
    return result
