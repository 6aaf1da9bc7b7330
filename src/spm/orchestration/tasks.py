"""Plain functions behind the task bodies; each resolves the warehouse at run time, never at parse time."""

from __future__ import annotations

import functools
import logging
from datetime import date
from pathlib import Path
from typing import Any

from spm.errors import ConfigError, InputError, WarehouseError

log = logging.getLogger(__name__)


def fail_fast(func):
    """Errors that a retry cannot fix (bad config or input, schema behind) fail the task at once."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ConfigError, InputError) as exc:
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
