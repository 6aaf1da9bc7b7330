"""Plain functions every DAG's tasks share (fail fast, the warehouse, the kab/kota list, Asset extras);
each DAG's own ones live beside its builder. Each resolves the warehouse at run time, never at parse time."""

from __future__ import annotations

import functools
import logging
from typing import Any

from spm.errors import ConfigError, InputError, WarehouseError
from spm.reference import is_provinsi
from spm.sources.http import SourceAuthError

__all__ = ["asset_extra", "check_warehouse_schema", "fail_fast", "kode_wilayah_list", "warehouse_engine"]

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
    from spm.warehouse.db import airflow_engine  # not at DAG parse time

    return airflow_engine()


@fail_fast
def check_warehouse_schema() -> str:
    """Fail early, with the fix in the message, when the warehouse schema is behind the code."""
    from spm.warehouse.db import current_revision, describe, require_current_schema

    engine = warehouse_engine()
    require_current_schema(engine)
    log.info("warehouse %s at revision %s", describe(engine), current_revision(engine))
    return current_revision(engine)


def kode_wilayah_list(params: dict[str, Any]) -> list[str]:
    """The run's kab/kota list: the `kode_wilayah` param, else the `spm_kode_wilayah` Variable; a
    province code in either stands for all its kab/kota."""
    codes = params.get("kode_wilayah")
    if not codes:
        from airflow.sdk import Variable

        codes = Variable.get("spm_kode_wilayah", default=None, deserialize_json=True)
    if not codes:
        raise ConfigError("no kab/kota to load: set the Variable spm_kode_wilayah (JSON list, e.g. [\"32.71\"]) "
                          "or the run param kode_wilayah")
    if isinstance(codes, str):
        codes = [codes]
    return expand_provinces(codes)


def expand_provinces(codes: list[str]) -> list[str]:
    """A province (`32`) stands for all its kab/kota in the warehouse's dim_wilayah (a provinsi
    deployment); kab/kota codes stay as given. Each code once: a code listed twice would map two
    tasks onto one partition."""
    if not any(is_provinsi(c) for c in codes):
        return list(dict.fromkeys(codes))
    from spm.warehouse.wilayah import kab_kota_of

    out: list[str] = []
    with warehouse_engine().connect() as conn:
        for kode in codes:
            if not is_provinsi(kode):
                out.append(kode)
                continue
            kab_kota = kab_kota_of(conn, kode)
            if not kab_kota:
                raise ConfigError(f"kode_wilayah {kode}: no provinsi with kab/kota in dim_wilayah (load the region "
                                  "codes: DAG spm_muat_wilayah or `spm wilayah load`)")
            out.extend(kab_kota)
    return list(dict.fromkeys(out))


def asset_extra(result: dict) -> dict:
    keys = ("kode_kab_kota", "periode", "batch_id", "rows_received", "rows_published", "rows_quarantined")
    return {k: result[k] for k in keys if k in result}
