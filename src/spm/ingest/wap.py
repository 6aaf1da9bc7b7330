"""The write-audit-publish steps every source shares (DESIGN §2, §9).

1. stage: the batch lands in its `staging_*` table (replacing the partition's previous staging rows)
   with an `etl_batch` row; a batch whose source checksum equals the published one stops here as
   `unchanged`.
2. validate: the staged rows are read back as a DataFrame and checked with the entity's GX suite;
   every expectation gives a `dq_result` row (and GX's own scrubbed result a `dq_validation_result`
   row, for the GX Data Docs), rows failing warning expectations go to `quarantine`, critical
   failures or too many quarantined rows stop the batch.
3. publish: one transaction runs the entity's `sql/core/*_publish.sql` (replace the fact partition
   with the batch's passing rows) and closes the `etl_batch` row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError
from spm.quality.gx_hasil import simpan as simpan_hasil_gx
from spm.warehouse.audit import close_published, finish_batch, last_published_checksum, now, start_batch
from spm.warehouse.bulk import insert_rows, replace_partition
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.tables import dq_result, etl_batch, quarantine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntitySpec:
    source: str
    entity: str
    staging: sa.Table
    columns: tuple[str, ...]  # staged columns besides batch_id, kode_kab_kota, periode, row_id
    suite: str
    publish_sql: str  # relative to sql/
    natural_key: tuple[str, ...]
    fact: sa.Table


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: int
    status: str  # staged | unchanged | validated | published | failed | rejected | missing
    message: str = ""
    rows_received: int = 0
    rows_published: int = 0
    rows_quarantined: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def quarantine_limit_percent() -> float:
    return float(load_yaml("kualitas.yaml")["batas_karantina_persen"])


def quarantine_min_rows() -> int:
    return int(load_yaml("kualitas.yaml").get("batas_karantina_minimal_baris", 0))


def quarantine_rejection(quarantined: int, received: int) -> str | None:
    """Why a batch with `quarantined` of `received` rows failing warning expectations is not
    published, or None. The share applies only above a minimum count, so that one odd row in a
    small nightly batch does not stop it (its rows are still quarantined and reported)."""
    share = 100.0 * quarantined / received if received else 0.0
    limit, minimum = quarantine_limit_percent(), quarantine_min_rows()
    if share <= limit or quarantined <= minimum:
        return None
    return (f"{quarantined} of {received} rows ({share:.1f} %) failed warning expectations, above the "
            f"{limit:.1f} % limit in kualitas.yaml (applied above {minimum} rows); nothing published")


def stage(
    engine: sa.Engine, spec: EntitySpec, kode_kab_kota: str, periode: str, rows: Sequence[dict],
    checksum: str, run_id: str | None,
) -> BatchOutcome:
    with engine.begin() as conn:
        batch_id = start_batch(conn, spec.source, spec.entity, kode_kab_kota, periode, run_id)
        # This batch replaces the partition's staging rows: an earlier batch still `running` (its task
        # gave up, or another load of the partition) can never publish and is closed as superseded.
        conn.execute(sa.update(etl_batch).where(
            etl_batch.c.source == spec.source, etl_batch.c.entity == spec.entity,
            etl_batch.c.kode_wilayah == kode_kab_kota, etl_batch.c.periode == periode,
            etl_batch.c.status == "running", etl_batch.c.batch_id != batch_id,
        ).values(status="failed", finished_at=now(),
                 message=f"superseded by batch {batch_id}, a newer load of the partition; not published"))
        published = last_published_checksum(conn, spec.source, spec.entity, kode_kab_kota, periode)
        if published == checksum:
            msg = "source unchanged since the published batch (same checksum); nothing republished"
            finish_batch(conn, batch_id, "unchanged", checksum=checksum, rows_received=len(rows), message=msg)
            return BatchOutcome(batch_id, "unchanged", msg, len(rows))
        cols = ("batch_id", "kode_kab_kota", "periode", "row_id", *spec.columns)
        replace_partition(
            conn, spec.staging, {"kode_kab_kota": kode_kab_kota, "periode": periode}, cols,
            ((batch_id, kode_kab_kota, periode, r["row_id"], *(r[c] for c in spec.columns)) for r in rows),
        )
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id)
                     .values(checksum=checksum, rows_received=len(rows)))
    return BatchOutcome(batch_id, "staged", rows_received=len(rows))


def record_status(engine: sa.Engine, spec: EntitySpec, kode_kab_kota: str, periode: str, run_id: str | None,
                  status: str, message: str) -> BatchOutcome:
    """A batch that never got data (source missing, refused, unreachable): kept for the audit trail."""
    with engine.begin() as conn:
        batch_id = start_batch(conn, spec.source, spec.entity, kode_kab_kota, periode, run_id)
        finish_batch(conn, batch_id, status, message=message)
    return BatchOutcome(batch_id, status, message)


def fail(engine: sa.Engine, batch_id: int, message: str, status: str = "failed") -> None:
    with engine.begin() as conn:
        finish_batch(conn, batch_id, status, message=message)


# The warehouse connection failed: the task's retry carries on with the same `running` batch (a
# batch left behind by the last retry is failed by the partition's next stage, `superseded`).
TRANSIENT_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError)


@contextmanager
def settled_on_error(engine: sa.Engine, batch_id: int, step: str) -> Iterator[None]:
    """Whatever error stops `step` of a batch, the batch does not stay `running`: it is failed with
    the error named (its staged rows stay for the audit until the partition's next batch), and the
    error goes on to the caller. A lost warehouse connection is left to the task's retry."""
    try:
        yield
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        try:
            with engine.begin() as conn:
                conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id,
                                                        etl_batch.c.status == "running")
                             .values(status="failed", finished_at=now(),
                                     message=f"{step} stopped: {type(exc).__name__}: {exc}"[:2000]))
        except Exception:  # noqa: BLE001 - the warehouse itself may be what failed; the first error matters
            log.warning("batch %s could not be marked failed after %s stopped", batch_id, step, exc_info=True)
        raise


# Errors of the deployment, not of a file: the file stays in its inbox and the task fails (retried).
DEPLOYMENT_ERRORS = (ConfigError, *TRANSIENT_ERRORS)


def load_or_refuse(file_name: str, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Load one inbox file with `load`. Anything but a deployment error that stops it refuses this file
    alone (status `rejected`, the error named, no batch: the alert for a refused file goes to its
    owner by name), so one bad file never blocks the files after it, night after night."""
    try:
        return load()
    except DEPLOYMENT_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the file did, it must not stay in the inbox
        log.warning("inbox file %s could not be loaded: %s", file_name, type(exc).__name__)
        message = f"{file_name}: tidak dapat dimuat ({type(exc).__name__}: {exc})"[:2000]
        return {"file": file_name, "status": "rejected", "message": message, "problems": [message], "warnings": []}


class RowsChecksum:
    """Order-independent checksum of a multiset of rows, in one pass holding nothing (threads
    deliver pages in any order; a file is checksummed as it is read)."""

    MOD = 2**256

    def __init__(self) -> None:
        self.total = 0
        self.count = 0

    def add(self, row: tuple) -> None:
        self.add_bytes(repr(row).encode())

    def add_bytes(self, line: bytes) -> None:
        self.total = (self.total + int.from_bytes(hashlib.sha256(line).digest(), "big")) % self.MOD
        self.count += 1

    def hexdigest(self) -> str:
        return hashlib.sha256(f"{self.count}:{self.total:064x}".encode()).hexdigest()


def inbox_limit_bytes() -> int:
    """kualitas.yaml inbox.ukuran_maks_mb: the largest inbox file read at all."""
    value = (load_yaml("kualitas.yaml").get("inbox") or {}).get("ukuran_maks_mb")
    try:
        mb = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"kualitas.yaml: inbox.ukuran_maks_mb {value!r} is not a number of megabytes") from None
    if mb <= 0:
        raise ConfigError(f"kualitas.yaml: inbox.ukuran_maks_mb {mb} must be above 0")
    return int(mb * 1024 * 1024)


def oversize(path: Path) -> str | None:
    """Why an inbox file is too large to be read, or None. Checked before a byte of it is read, so a
    file far larger than any kab/kota's data (a whole province, a dump) cannot exhaust the worker."""
    size, limit = path.stat().st_size, inbox_limit_bytes()
    if size <= limit:
        return None
    return (f"{path.name}: berkas {size / 1024 / 1024:.3g} MB, lebih besar dari batas {limit / 1024 / 1024:.3g} MB "
            "(kualitas.yaml inbox.ukuran_maks_mb); tidak dibaca. Kirim satu berkas per kab/kota dan periode")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def staged_frame(engine: sa.Engine, spec: EntitySpec, batch_id: int):
    import pandas as pd

    cols = ["row_id", *spec.columns]
    with engine.connect() as conn:
        result = conn.execute(
            sa.select(*(spec.staging.c[c] for c in cols)).where(spec.staging.c.batch_id == batch_id)
            .order_by(spec.staging.c.row_id)
        )
        frame = pd.DataFrame(result.all(), columns=cols)
    for c in cols:
        if isinstance(spec.staging.c[c].type, sa.Integer):
            frame[c] = frame[c].astype("Int64")
    return frame


def validate(engine: sa.Engine, spec: EntitySpec, batch_id: int, parameters: dict[str, Any],
             row_data: Callable[[dict], dict] | None = None) -> BatchOutcome:
    """Run the suite, store results and quarantine; decide whether the batch may be published."""
    with settled_on_error(engine, batch_id, f"validation of {spec.entity}"):
        return _validate(engine, spec, batch_id, parameters, row_data)


def _validate(engine: sa.Engine, spec: EntitySpec, batch_id: int, parameters: dict[str, Any],
              row_data: Callable[[dict], dict] | None) -> BatchOutcome:
    from spm.quality.gx_runner import validate_frame

    frame = staged_frame(engine, spec, batch_id)
    report = validate_frame(spec.suite, frame, parameters)
    checked_at = now()
    bad_rows = report.rows_to_quarantine()
    records = frame.set_index("row_id", drop=False)
    with engine.begin() as conn:
        insert_rows(conn, dq_result, (
            "batch_id", "suite", "expectation", "kolom", "severity", "success", "element_count",
            "unexpected_count", "unexpected_percent", "observed_value", "details", "checked_at"), (
            (batch_id, spec.suite, o.name, o.kolom, o.severity, o.success, o.element_count, o.unexpected_count,
             o.unexpected_percent, o.observed_value,
             {"type": o.expectation_type, "failed_row_ids": list(o.failed_row_ids[:200]), "error": o.error},
             checked_at)
            for o in report.outcomes
        ))
        # GX's own result (scrubbed) for the Data Docs, replaced when the batch is validated again.
        simpan_hasil_gx(conn, batch_id, spec.suite, report.gx_result, checked_at)

        def quarantine_rows() -> Iterable[tuple]:
            for rid, names in sorted(bad_rows.items()):
                rec = {k: _plain(v) for k, v in records.loc[rid].to_dict().items()}
                key = "|".join("" if rec.get(k) is None else str(rec.get(k)) for k in spec.natural_key)
                yield (batch_id, key, ",".join(names), row_data(rec) if row_data else rec, checked_at)

        insert_rows(conn, quarantine,
                    ("batch_id", "natural_key", "failed_expectations", "row_data", "quarantined_at"),
                    quarantine_rows())
        conn.execute(sa.update(spec.staging).where(spec.staging.c.batch_id == batch_id).values(lolos=True))
        bad_ids = list(bad_rows)
        for i in range(0, len(bad_ids), 500):
            conn.execute(sa.update(spec.staging).where(
                spec.staging.c.batch_id == batch_id, spec.staging.c.row_id.in_(bad_ids[i:i + 500])
            ).values(lolos=False))
        received = len(frame)
        status, message = "validated", report.summary()
        if report.critical_failures:
            status = "failed"
            message = "critical expectation failed, nothing published: " + ", ".join(
                f"{o.name} ({o.unexpected_count if o.unexpected_count is not None else 'batch'})"
                for o in report.critical_failures)
        elif quarantine_rejection(len(bad_rows), received):
            status = "rejected"
            message = quarantine_rejection(len(bad_rows), received)
        values = {"rows_quarantined": len(bad_rows), "message": message}
        if status == "validated":
            conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id).values(**values))
        else:
            finish_batch(conn, batch_id, status, **values)
    log.info("batch %s %s: %s", batch_id, status, message)
    return BatchOutcome(batch_id, status, message, received, 0, len(bad_rows))


def publish(engine: sa.Engine, spec: EntitySpec, batch_id: int, sql_params: dict[str, Any]) -> BatchOutcome:
    """Replace the fact partition with the batch's passing rows, in one transaction."""
    with settled_on_error(engine, batch_id, f"publication of {spec.entity}"):
        return _publish(engine, spec, batch_id, sql_params)


def _publish(engine: sa.Engine, spec: EntitySpec, batch_id: int, sql_params: dict[str, Any]) -> BatchOutcome:
    with engine.begin() as conn:
        batch = conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == batch_id)).one()
        if batch.status != "running":
            return BatchOutcome(batch_id, batch.status, batch.message or "", batch.rows_received, 0,
                                batch.rows_quarantined)
        unvalidated = conn.execute(sa.select(sa.func.count()).select_from(spec.staging).where(
            spec.staging.c.batch_id == batch_id, spec.staging.c.lolos.is_(None))).scalar_one()
        if unvalidated:
            raise RuntimeError(f"batch {batch_id} has {unvalidated} staged rows not yet validated; validate first")
        run_sql_file(conn, spec.publish_sql, {**sql_params, "batch_id": batch_id, "lolos": True})
        published = conn.execute(
            sa.select(sa.func.count()).select_from(spec.fact).where(spec.fact.c.batch_id == batch_id)
        ).scalar_one()
        message = f"published {published} rows" + (
            f"; {batch.rows_quarantined} quarantined" if batch.rows_quarantined else "")
        close_published(conn, batch_id, published, (batch.message + "; " if batch.message else "") + message)
        # Older batches' staging rows of this partition were replaced at stage time; this batch's stay
        # for the audit until the next one.
    return BatchOutcome(batch_id, "published", message, batch.rows_received, published, batch.rows_quarantined)


def _plain(value):
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if hasattr(value, "item") else value
