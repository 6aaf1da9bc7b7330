"""Task callbacks the DAG factory puts in every DAG's default_args (Airflow 3 notifiers).

`task_failure_notifier` (on_failure_callback, after the last retry): a technical failure goes to the data
team, grouped per DAG × task × partition (kab/kota and period or window of a mapped task, else the
map index: the same partition failing every night is one open problem,
re-sent only after the reminder interval). A failure that is a data-quality gate (a batch stopped by
a critical expectation, rejected for its quarantine share, a capaian without population, or a task
listed in `tugas_mutu_data`) is left to `spm_kirim_peringatan`, which tells the owner of the data.

`task_recovery_notifier` (on_success_callback): when a task with an open technical problem succeeds, the
problem is resolved and the data team is told once.

Alerts carry only ids (DAG, task, run, map index, try), the exception class and a link to the task
log; an exception's text is included only for the project's own configuration and warehouse errors,
whose messages are written by this project and never quote source rows.

Imports are deferred: this module is imported by the DAG factory at parse time.
"""

from __future__ import annotations

import logging
import re

from airflow.sdk import BaseNotifier
from spm.warehouse.status import BatchStatus

log = logging.getLogger(__name__)
_BATCH_REF = re.compile(r"\bbatch (\d+)\b")


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _gated_batch(engine, run_id: str | None, message: str) -> bool:
    """Whether the failure names a batch of this run stopped by a quality gate (the scan alerts its owner)."""
    import sqlalchemy as sa

    from spm.alerts.detection import CAPAIAN_ENTITY, CAPAIAN_SOURCE
    from spm.warehouse.tables import dq_result, etl_batch

    if not run_id:
        return False
    ids = {int(x) for x in _BATCH_REF.findall(message)}
    with engine.connect() as conn:
        for b in conn.execute(sa.select(etl_batch).where(
                etl_batch.c.run_id == run_id, etl_batch.c.status.in_((BatchStatus.FAILED, BatchStatus.REJECTED, BatchStatus.MISSING)))):
            named = b.batch_id in ids or (b.kode_wilayah in message and b.periode in message)
            if not named:
                continue
            capaian = (b.source, b.entity) == (CAPAIAN_SOURCE, CAPAIAN_ENTITY)
            if b.status == BatchStatus.REJECTED or (b.status == BatchStatus.MISSING and capaian):
                return True
            if b.status == BatchStatus.FAILED and conn.execute(sa.select(sa.func.count()).select_from(dq_result).where(
                    dq_result.c.batch_id == b.batch_id, dq_result.c.severity == "critical",
                    dq_result.c.success.is_(False))).scalar_one():
                return True
    return False


def data_cause(engine, cfg, task_id: str, run_id: str | None, exc: BaseException | None) -> bool:
    from spm.errors import InputError

    if task_id.split(".")[-1] in cfg.tugas_mutu_data:
        return True
    for e in _chain(exc):
        if isinstance(e, InputError) and _gated_batch(engine, run_id, str(e)):
            return True
    return False


# What names a partition in the dicts mapped tasks hand on (window, partition, quarter, target).
PARTITION_KEYS = ("entity", "kode_kab_kota", "periode", "dari", "sampai", "tahun", "triwulan", "kuartal")


def partition_of(context) -> str | None:
    """The partition a mapped task worked on (kab/kota, period or window), from its resolved input."""
    task = context.get("task")
    kwargs = getattr(task, "op_kwargs", None) or {}
    for value in kwargs.values():
        if isinstance(value, dict) and value.get("kode_kab_kota"):
            return "|".join(f"{k}={value[k]}" for k in PARTITION_KEYS if value.get(k) is not None)
    return None


def _fingerprint(dag_id: str, task_id: str, map_index: int | None, partition: str | None = None) -> str:
    """Keyed by what failed: a mapped task's partition when it names one (so the next night's small
    window does not resolve a failed backfill), else the map index."""
    where = partition if partition else str(-1 if map_index is None else map_index)
    return f"teknis:{dag_id}:{task_id}:{where}"[:255]


def _ids(context) -> tuple[str, str, str | None, int | None, int | None, str | None]:
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or context["dag"].dag_id
    task_id = getattr(ti, "task_id", None) or context["task"].task_id
    run_id = getattr(ti, "run_id", None) or context.get("run_id")
    map_index = getattr(ti, "map_index", None)
    try_number = getattr(ti, "try_number", None)
    try:
        log_url = ti.log_url if ti is not None else None
    except Exception:  # the URL needs the api-server base URL from config; an alert without it is still useful
        log_url = None
    return dag_id, task_id, run_id, map_index, try_number, log_url


def technical_problem(cfg, context):
    """The technical problem of a failed task, from ids and the exception class only."""
    from spm.alerts.messages import Finding
    from spm.errors import ConfigError, WarehouseError

    dag_id, task_id, run_id, map_index, try_number, log_url = _ids(context)
    exc = context.get("exception")
    chain = list(_chain(exc if isinstance(exc, BaseException) else None))
    kinds = [type(e).__name__ for e in chain] or ["(tanpa exception)"]
    lines = [f"DAG: {dag_id}", f"Task: {task_id}" + (f" [map_index {map_index}]" if map_index not in (None, -1) else ""),
             f"Run: {run_id}", f"Percobaan: {try_number}", f"Jenis galat: {' <- '.join(kinds)}"]
    own = next((e for e in chain if isinstance(e, (ConfigError, WarehouseError))), None)
    if own is not None:  # our own messages say what to fix and never quote source data
        lines.append(f"Pesan: {str(own).splitlines()[0][:300]}")
    if log_url:
        lines.append(f"Log: {log_url}")
    else:
        lines.append("Log: Airflow UI > DAG > run > task (log)")
    return Finding(
        _fingerprint(dag_id, task_id, map_index, partition_of(context)), "teknis", cfg.tim_data,
        f"{dag_id}.{task_id} gagal ({kinds[0]})", tuple(lines), content=kinds,
        detail={"dag_id": dag_id, "task_id": task_id, "run_id": run_id, "map_index": map_index,
                "exception": kinds[0]})


def _engine():
    from spm.warehouse.db import airflow_engine

    return airflow_engine()


def record_failure(context, engine=None, cfg=None) -> dict | None:
    """Handle one failed task; returns what was done (for logs and tests)."""
    from spm.alerts.state import Sender, now, reconcile
    from spm.config.peringatan import load_konfigurasi
    from spm.alerts.channels import send

    cfg = cfg or load_konfigurasi()
    dag_id, task_id, run_id, _, _, _ = _ids(context)
    m = technical_problem(cfg, context)
    exc = context.get("exception")
    try:
        engine = engine or _engine()
        if data_cause(engine, cfg, task_id, run_id, exc if isinstance(exc, BaseException) else None):
            log.info("%s.%s failed on a data-quality gate: spm_kirim_peringatan tells the data owner", dag_id, task_id)
            return {"penyebab": "data"}
        sender = Sender(engine, cfg, now())
        counts = reconcile(engine, cfg, [m], None, sender)
        return {"penyebab": "teknis", **counts}
    except Exception as exc_state:  # noqa: BLE001 - the warehouse may be what failed: alert without state
        log.warning("alert state unavailable (%s): sending the technical alert ungrouped", type(exc_state).__name__)
        from spm.alerts.messages import problem_message

        p = problem_message("baru", m, cfg.pemilik[cfg.tim_data].nama)
        ok = any(h.berhasil for h in send(cfg.pemilik[cfg.tim_data].saluran, p))
        return {"penyebab": "teknis", "tanpa_keadaan": True, "terkirim": ok}


def record_recovery(context, engine=None, cfg=None) -> dict | None:
    """A task succeeded: resolve (and announce once) its open technical problem, if any."""
    import sqlalchemy as sa

    from spm.alerts.state import Sender, now, reconcile
    from spm.config.peringatan import load_konfigurasi
    from spm.warehouse.tables_peringatan import STATUS_OPEN, peringatan

    dag_id, task_id, _, map_index, _, _ = _ids(context)
    fp = _fingerprint(dag_id, task_id, map_index, partition_of(context))
    engine = engine or _engine()
    with engine.connect() as conn:
        open_ = conn.execute(sa.select(sa.func.count()).select_from(peringatan).where(
            peringatan.c.fingerprint == fp, peringatan.c.status == STATUS_OPEN)).scalar_one()
    if not open_:
        return None
    cfg = cfg or load_konfigurasi()
    return reconcile(engine, cfg, [], peringatan.c.fingerprint == fp, Sender(engine, cfg, now()))


class TaskFailureNotifier(BaseNotifier):
    """on_failure_callback: technical failures to the data team (see module docstring)."""

    def notify(self, context) -> None:
        try:
            result = record_failure(context)
            log.info("failure callback: %s", result)
        except Exception:  # a callback must never hide the task's own failure
            log.exception("failure callback could not send the alert")


class TaskRecoveryNotifier(BaseNotifier):
    """on_success_callback: resolve the task's open technical problem, announced once."""

    def notify(self, context) -> None:
        try:
            result = record_recovery(context)
            if result:
                log.info("success callback: %s", result)
        except Exception:  # the warehouse may not have the alert tables yet (before `spm db upgrade`)
            log.debug("success callback skipped", exc_info=True)


task_failure_notifier = TaskFailureNotifier()
task_recovery_notifier = TaskRecoveryNotifier()
