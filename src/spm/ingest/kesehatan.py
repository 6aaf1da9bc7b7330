"""Health ingest (`spm_ingest_kesehatan`): Patient, Encounter, Observation and Condition resources of
one kab/kota's FHIR hub (DESIGN §3.3), for one `_lastUpdated` window.

Unit of work. One kab/kota × window (`dari` ≤ meta.lastUpdated < `sampai`), all four resource types
together, is published whole or not at all: one `etl_batch` per type (entity `pasien`, `kunjungan`,
`observasi`, `kondisi`; periode `<dari>/<sampai>` in UTC), and one transaction merges all four into
the published tables. A type whose pages cannot all be fetched (after the client's bounded retries),
a critical expectation that fails, or a quarantined share above `batas_karantina_persen` fails all
four batches: nothing of the window is published and a rerun starts over. A clinical resource whose
patient is not loaded yet (it comes in a later window, or was loaded before this warehouse existed)
is valid data: it is published, counted as soon as its patient arrives (the indicators join
patients when they compute), and reported per batch while it stays unresolved
(spm.ingest.kesehatan_references), with an alert past `kesehatan.batas_umur_rujukan_hari`.

Extract streams and validates, in four stages joined by bounded queues: a download thread follows
the `next` links and decodes each page (straight into the kept fields with msgspec typed Structs;
a page that does not fit them is parsed the general way, with orjson), asking for the next page as
soon as one is decoded; a flatten thread turns pages into typed rows; the loading thread gathers them in
chunks of `VALIDATE_CHUNK` rows and validates each chunk with the GX suite; a staging thread stages
it (COPY on PostgreSQL) with its quarantined rows in one short transaction while the next chunk is
validated and the next pages download. No
process is started: under Celery's prefork pool a task may not have children, and a child of an
Airflow 3 task would inherit the supervisor's blocked metadata URL (parallelism belongs to Airflow
tasks). The next type starts to download while the last chunk of the previous one is validated. The
queues keep memory to a few pages plus two chunks whatever the window size. The validate step then only
writes each batch's verdict (dq_result, critical expectations, quarantine limit); a batch the stream
could not validate (a resource id met again in a later chunk, a broken quality configuration) is
validated there from staging, in chunks, as before. A new run of a window first removes the staged
rows of that window's batches a killed worker left `running`.

Upsert by resource id. Staging keeps one row per id (a resource met twice in a batch keeps its newest
version). Publishing (sql/core/fact_*_merge.sql) replaces a published row only when the staged
version has a newer meta.lastUpdated, and inserts ids not yet published: an older or equal version
changes nothing, so loading a window twice changes nothing. `rows_published` counts the rows the
batch inserted or replaced.

Privacy (DESIGN §4). `person_key` = HMAC of the NIK (identifier system
https://fhir.kemkes.go.id/id/nik) when it is valid (16 digits whose birth-date part agrees with
birthDate and gender); else HMAC of `<kab/kota>:<Patient id>` (namespace `satusehat`), flagged
`nik_valid = false`. The NIK never leaves the flattening function, and names are never read: neither
reaches staging, quarantine, messages or logs.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from spm.errors import ConfigError, InputError, RowAccountingError
from spm.ingest import kesehatan_references as rujukan
# The window's parts stay importable from here (tests, benchmarks, the DAG's tasks).
from spm.ingest.kesehatan_spec import (  # noqa: F401
    CHUNK_ENV, ENTITY_OF, FLUSH_ROWS, KONDISI, KUNJUNGAN, OBSERVASI, PASIEN, SOURCE, SPECS, TYPE_OF, VALIDATE_CHUNK,
    Window, default_window, hub_connections, parse_instant, validate_chunk_rows, windows,
)
from spm.ingest.kesehatan_stream import PageProducer, StreamValidation, gc_frozen, stream_type
from spm.ingest.kesehatan_validation import (  # noqa: F401
    conclude, dedup_batch, observation_bounds, validate_batch, validation_parameters,
)
from spm.ingest.wap import discard, open_batch, publish_guard, record_staged
from spm.privacy import pseudonym_secret
from spm.sources.fhir_resources import (  # noqa: F401
    ICD10_SYSTEM, LOINC_SYSTEM, flatten_condition, flatten_encounter, flatten_observation, flatten_patient, flattener, parse_date,
    parse_datetime,
)
from spm.sources.fhir_typed import page_flattener
from spm.sources.satusehat import CONN_ID, SatusehatClient, gc_paused
from spm.warehouse.audit import close_published, now
from spm.warehouse.bulk import refresh_statistics
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.tables import dim_wilayah, etl_batch, quarantine
from spm.warehouse.status import BatchStatus, REFUSED

log = logging.getLogger(__name__)
# A merge this large (a backfill) leaves the fact table's statistics stale for the queries after it
# in the same transaction. Smaller ones (nightly windows) do not ANALYZE: its lock would make two
# hubs' publications wait for each other.
ANALYZE_AFTER_ROWS = 50_000

# --- extract ---------------------------------------------------------------------------------------

def _start_batches(engine: sa.Engine, w: Window, run_id: str | None) -> dict[str, int]:
    """One running batch per type. Staging rows of this kab/kota's finished batches go (the audit
    keeps dq_result and quarantine; staging only serves the batch in flight), and so do those of
    batches of the same window that are still `running`: a worker killed mid-window leaves them
    behind, and a new run of the window supersedes them (they are marked failed, so a late task of
    the old run stops instead of publishing half a window)."""
    with engine.begin() as conn:
        ids = {entity: open_batch(conn, SOURCE, entity, w.kode_kab_kota, w.periode, run_id, (spec.staging,))
               for entity, spec in SPECS.items()}
        for entity, spec in SPECS.items():
            finished = sa.select(etl_batch.c.batch_id).where(
                etl_batch.c.source == SOURCE, etl_batch.c.entity == entity,
                etl_batch.c.kode_wilayah == w.kode_kab_kota, etl_batch.c.status != BatchStatus.RUNNING)
            conn.execute(sa.delete(spec.staging).where(spec.staging.c.kode_kab_kota == w.kode_kab_kota,
                                                       spec.staging.c.batch_id.in_(finished)))
    return ids


def _discard(engine: sa.Engine, batch_ids: dict[str, int], message: str) -> None:
    """Fail every still-running batch of the window and drop its staged rows."""
    with engine.begin() as conn:
        discard(conn, {batch_id: (SPECS[entity].staging,) for entity, batch_id in batch_ids.items()}, message)
    log.error("window failed, nothing published: %s", message)


def _current_desa(engine: sa.Engine) -> frozenset[str]:
    """Codes of every current desa/kelurahan (what the patients' staged-batch query joins)."""
    d = dim_wilayah
    with engine.connect() as conn:
        return frozenset(conn.execute(sa.select(d.c.kode).where(
            d.c.berlaku_sampai.is_(None), d.c.tingkat == "desa_kelurahan")).scalars())


def _stream_parameters(w: Window) -> dict[str, dict[str, Any]] | None:
    """Suite parameters of the four types, or None (validated after the download, where a broken
    configuration fails the validate step with its message as before)."""
    try:
        return {entity: validation_parameters(entity, w) for entity in SPECS}
    except ConfigError:
        return None


def extract(engine: sa.Engine, window: dict, run_id: str | None, client: SatusehatClient,
            secret: bytes | None = None, validate: bool = True) -> dict[str, Any]:
    """Fetch and stage the four resource types of one kab/kota × window, validating each chunk while
    the next pages download (patients first, so that the others' references can be resolved).

    Returns the window with one staged outcome per entity (with the stream validation's results,
    unless the batch is left to validate_window). Raises (after failing all four batches and
    dropping their staged rows) when a type cannot be fetched completely.
    """
    w = Window.from_dict(window)
    secret = secret or pseudonym_secret()
    batch_ids = _start_batches(engine, w, run_id)
    parameters = _stream_parameters(w) if validate else None
    known_desa = _current_desa(engine) if parameters is not None else None
    counts: dict[str, tuple[int, str, dict[str, Any] | None]] = {}
    dropped: dict[str, int] = {}
    producers: dict[str, PageProducer] = {}
    entities = list(SPECS)

    def download(entity: str) -> None:
        producers[entity] = PageProducer(client, w, entity, page_flattener(entity, secret, w.kode_kab_kota)).start()

    try:
        # The next type downloads while the last chunk of this one is validated and staged. The
        # objects that exist now are frozen out of the per-chunk collections (see StreamValidation.chunk).
        with gc_paused(), gc_frozen():
            download(entities[0])
            for n, (entity, spec) in enumerate(SPECS.items()):
                validation = None
                if parameters is not None:
                    validation = StreamValidation(engine, spec, w, batch_ids[entity], parameters[entity],
                                                   known_desa)
                following = entities[n + 1] if n + 1 < len(entities) else None
                counts[entity] = stream_type(
                    engine, w, entity, batch_ids[entity], client, producers[entity].flatten, validation,
                    producer=producers[entity],
                    on_downloaded=(lambda e=following: download(e)) if following else None)
                if validation is not None:
                    dropped[entity] = validation.duplicates
                log.info("%s %s: %d staged%s", TYPE_OF[entity], w.label(), counts[entity][0],
                         ", validated" if counts[entity][2] is not None else "")
    except BaseException as exc:
        for producer in producers.values():
            producer.close()
        done = ", ".join(f"{TYPE_OF[e]} {n}" for e, (n, _, _) in counts.items()) or "none"
        failed = TYPE_OF[next(e for e in SPECS if e not in counts)]
        _discard(engine, batch_ids, f"{w.label()}: {failed} could not be fetched completely, window not "
                                    f"published (staged before: {done}): {type(exc).__name__}: {exc}")
        raise
    with engine.begin() as conn:
        staged = {entity: record_staged(conn, batch_ids[entity], received, checksum)
                  for entity, (received, checksum, _) in counts.items()}
        refresh_statistics(conn, *(spec.staging for spec in SPECS.values()))  # for the verdict and the merge
    batches = {}
    for entity, (_, _, results) in counts.items():
        batches[entity] = staged[entity].to_dict()
        if results is not None:
            batches[entity]["validation"] = results
        elif dropped.get(entity):
            batches[entity]["dropped"] = dropped[entity]  # older versions left out while streaming
    return {**w.to_dict(), "periode": w.periode, "batches": batches}



def validate_window(engine: sa.Engine, extracted: dict[str, Any]) -> dict[str, Any]:
    """Conclude the four batches, patients first: the verdict of a batch validated while it streamed,
    else its validation now. If one fails, the window fails whole (and the batches after it count as
    never validated: their quarantined rows are withdrawn)."""
    w = Window.from_dict(extracted)
    out = {**extracted, "batches": dict(extracted["batches"])}
    ids = {entity: r["batch_id"] for entity, r in extracted["batches"].items()}
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(etl_batch.c.batch_id, etl_batch.c.status)
                                     .where(etl_batch.c.batch_id.in_(list(ids.values())))).all())
    stale = sorted(f"{e} batch {i} is {statuses.get(i)}" for e, i in ids.items() if statuses.get(i) != BatchStatus.RUNNING)
    if stale:
        raise InputError(f"{w.label()}: {'; '.join(stale)}, its staged rows are gone: run the window again")
    try:
        for entity, spec in SPECS.items():
            staged = out["batches"][entity]
            if staged["status"] != BatchStatus.STAGED:
                continue
            streamed = staged.get("validation")
            if streamed is not None:
                result = conclude(engine, spec, staged["batch_id"], streamed)
            else:
                result = validate_batch(engine, spec, w, staged["batch_id"], validation_parameters(entity, w),
                                        dropped_before=staged.get("dropped", 0))
            out["batches"][entity] = {**result.to_dict(), "rows_received": staged["rows_received"]}
            if result.status != BatchStatus.VALIDATED:
                break
    except Exception as exc:
        _discard(engine, ids, f"{w.label()}: validation stopped: {type(exc).__name__}: {exc}")
        raise
    bad = next((e for e, r in out["batches"].items() if r["status"] in REFUSED), None)
    if bad:
        message = f"{w.label()}: window not published: {bad} batch {out['batches'][bad]['status']}: " \
                  f"{out['batches'][bad]['message']}"
        unjudged = [r["batch_id"] for r in out["batches"].values() if r["status"] == BatchStatus.STAGED]
        if unjudged:
            with engine.begin() as conn:
                conn.execute(sa.delete(quarantine).where(quarantine.c.batch_id.in_(unjudged)))
        _discard(engine, ids, message)
        out["message"] = message
        for entity, r in out["batches"].items():
            if r["status"] in (BatchStatus.STAGED, BatchStatus.VALIDATED):
                out["batches"][entity] = {k: v for k, v in {**r, "status": BatchStatus.FAILED, "message": message}.items()
                                          if k not in ("validation", "dropped")}
    return out



def failed_message(result: dict[str, Any]) -> str | None:
    """One line naming what failed in a validated window, or None."""
    if result.get("message"):
        return f"{result['message']} (see `spm status`)"
    for entity, r in result["batches"].items():
        if r["status"] in REFUSED:
            return f"{entity} {result['kode_kab_kota']} {result['periode']}: {r['message']} (batch {r['batch_id']}, " \
                   "see `spm status`)"
    return None



# --- publish ---------------------------------------------------------------------------------------

def publish_window(engine: sa.Engine, validated: dict[str, Any]) -> dict[str, Any]:
    """Merge the four validated batches into the published tables in one transaction."""
    w = Window.from_dict(validated)
    problem = failed_message(validated)
    if problem:
        raise InputError(problem)
    out = {**validated, "batches": dict(validated["batches"])}
    ids = {e: r["batch_id"] for e, r in validated["batches"].items()}
    limit_days = rujukan.age_limit_days()
    try:
        return _merge_window(engine, w, validated, out, ids, limit_days)
    except RowAccountingError as exc:
        # Rolled back; the batches are closed (their staging kept for the audit): a retry would
        # find the same rows missing.
        with engine.begin() as conn:
            conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id.in_(list(ids.values())),
                                                    etl_batch.c.status == BatchStatus.RUNNING)
                         .values(status=BatchStatus.FAILED, finished_at=now(), message=f"{w.label()}: {exc}"[:2000]))
        raise


def _merge_window(engine: sa.Engine, w: Window, validated: dict[str, Any], out: dict[str, Any],
                  ids: dict[str, int], limit_days: int) -> dict[str, Any]:
    with engine.begin() as conn:
        before = rujukan.affected(conn, w.kode_kab_kota, ids)
        for entity, spec in SPECS.items():
            r = validated["batches"][entity]
            batch = publish_guard(conn, spec, r["batch_id"])
            if batch.status != BatchStatus.RUNNING:
                raise InputError(f"{entity} {w.label()}: batch {batch.batch_id} is {batch.status}, not ready to "
                                 "publish; run the window again")
            passing = conn.execute(sa.select(sa.func.count()).select_from(spec.staging).where(
                spec.staging.c.batch_id == batch.batch_id, spec.staging.c.lolos.is_(True))).scalar_one()
            _, published = run_sql_file(conn, spec.publish_sql, {
                "batch_id": batch.batch_id, "kode_kab_kota": w.kode_kab_kota, "lolos": True})
            # The merge's INSERT wrote every row of this batch (the published ones it replaced were
            # deleted first); counting them back would scan the whole table. A passing row it did not
            # write has a published version as new or newer (the merge's NOT EXISTS).
            unchanged = passing - published
            message = (batch.message + "; " if batch.message else "") + f"{published} new or newer rows merged" + (
                f"; {unchanged} already published as they are" if unchanged else "") + (
                f"; {batch.rows_duplicate} older version(s) within the batch dropped" if batch.rows_duplicate else "")
            close_published(conn, batch.batch_id, published, message, unchanged=unchanged)
            if published >= ANALYZE_AFTER_ROWS:
                refresh_statistics(conn, spec.fact)  # the residence and waiting-list queries below read it
            out["batches"][entity] = {**r, "status": BatchStatus.PUBLISHED, "rows_published": published,
                                      "rows_duplicate": batch.rows_duplicate, "rows_unchanged": unchanged,
                                      "message": message}
        published_at = now()
        rujukan.update_pending(conn, w.kode_kab_kota, ids, published_at)
        waiting = rujukan.report(conn, w.kode_kab_kota, ids, published_at, limit_days)
        for entity, observed in waiting.items():
            out["batches"][entity]["rujukan_tertunda"] = observed
        # Whose figures may have changed: where the window's persons live, in which service years.
        out["partitions"] = rujukan.merge_affected(before, rujukan.affected(conn, w.kode_kab_kota, ids))
    return out


def ingest(engine: sa.Engine, window: dict, run_id: str | None, client: SatusehatClient,
           secret: bytes | None = None) -> dict[str, Any]:
    """Extract, validate and publish one window in a row (benchmarks, CLI); the DAG runs the steps as tasks."""
    validated = validate_window(engine, extract(engine, window, run_id, client, secret))
    problem = failed_message(validated)
    if problem:
        raise InputError(problem)
    return publish_window(engine, validated)


def connect_client(conn_id: str = CONN_ID, **kwargs) -> SatusehatClient:
    from spm.sources.connections import get_connection

    return SatusehatClient(get_connection(conn_id), **kwargs)
