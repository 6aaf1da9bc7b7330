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

Extract streams and validates, in four stages joined by bounded queues: a download thread per
part of the window (the connection's `paralel` searches at once, for a backfill) follows the `next`
links and decodes each page (straight into the kept fields with msgspec typed Structs; a page that
does not fit them is parsed the general way, with orjson), asking for the next page as soon as one
is decoded; a flatten thread turns pages into typed rows; the loading thread gathers them in
chunks of `VALIDATE_CHUNK` rows and validates each chunk with the GX suite; a staging thread stages
it (COPY on PostgreSQL) with its quarantined rows in one short transaction while the next chunk is
validated and the next pages download. No
process is started: under Celery's prefork pool a task may not have children, and a child of an
Airflow 3 task would inherit the supervisor's blocked metadata URL (parallelism belongs to Airflow
tasks). The next type starts to download while the last chunk of the previous one is validated. The
queues keep memory to a few pages plus two chunks whatever the window size. Each type is then judged
(`judge`: its verdict in dq_result, critical expectations, quarantine limit); a batch the stream
could not validate (a resource id met again in a later chunk, a broken quality configuration) is
validated then from staging, in chunks. `ingest` (the DAG's one task per window) merges each judged
type at once in the window's open publishing transaction on PostgreSQL, while the next streams
(spm.ingest.kesehatan_publish). A new run of a window first removes the staged rows of that
window's batches a killed worker left `running`.

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
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from spm.errors import ConfigError, InputError, RowAccountingError
from spm.ingest import kesehatan_references as rujukan
# The window's parts stay importable from here (tests, benchmarks, the DAG's tasks).
from spm.ingest.kesehatan_spec import (  # noqa: F401
    CHUNK_ENV, ENTITY_OF, FLUSH_ROWS, KONDISI, KUNJUNGAN, OBSERVASI, PASIEN, SOURCE, SPECS, STREAM_ORDER, TYPE_OF,
    VALIDATE_CHUNK,
    Window, default_window, hub_connections, parse_instant, validate_chunk_rows, windows,
)
from spm.ingest.kesehatan_stream import PageProducer, StreamValidation, gc_frozen, stream_type
from spm.ingest.kesehatan_validation import (  # noqa: F401
    conclude, dedup_batch, observation_bounds, validate_batch, validation_parameters,
)
from spm.ingest.kesehatan_publish import (  # noqa: F401
    ANALYZE_AFTER_ROWS, WindowPublisher, fail_unbalanced, failed_message, publish_window,
)
from spm.ingest.wap import discard, open_batch, record_staged
from spm.privacy import pseudonym_secret
from spm.sources.fhir_resources import (  # noqa: F401
    ICD10_SYSTEM, LOINC_SYSTEM, flatten_condition, flatten_encounter, flatten_observation, flatten_patient, flattener, parse_date,
    parse_datetime,
)
from spm.sources.fhir_typed import page_flattener
from spm.sources.satusehat import CONN_ID, SatusehatClient, gc_paused
from spm.warehouse.bulk import refresh_statistics
from spm.warehouse.tables import dim_wilayah, etl_batch, quarantine
from spm.warehouse.status import BatchStatus, REFUSED

log = logging.getLogger(__name__)
SUPERSEDE_LOCK_TIMEOUT_S = 60

# --- extract ---------------------------------------------------------------------------------------

def _start_batches(engine: sa.Engine, w: Window, run_id: str | None) -> dict[str, int]:
    """One running batch per type. Staging rows of this kab/kota's finished batches go (the audit
    keeps dq_result and quarantine; staging only serves the batch in flight), and so do those of
    batches of the same window that are still `running`: a worker killed mid-window leaves them
    behind, and a new run of the window supersedes them (they are marked failed, so a late task of
    the old run stops instead of publishing half a window)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # An older run of this window may hold a batch row in its open publishing transaction while
            # it waits for its own stream, which may wait on this transaction: a bounded wait turns
            # that cycle (invisible to PostgreSQL) into an error this task's retry gets past.
            conn.execute(sa.text(f"SET LOCAL lock_timeout = '{SUPERSEDE_LOCK_TIMEOUT_S}s'"))
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


def _stream(engine: sa.Engine, w: Window, batch_ids: dict[str, int], client: SatusehatClient, secret: bytes,
            validate: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """Stream the four types into staging in STREAM_ORDER, validating each chunk while the next
    pages download; yields (entity, staged outcome) as each type ends, with the stream validation's
    results (or `dropped` when the batch is left to validate whole). The next type is already
    downloading when its predecessor is yielded."""
    parameters = _stream_parameters(w) if validate else None
    known_desa = _current_desa(engine) if parameters is not None else None
    producers: dict[str, PageProducer] = {}
    entities = list(STREAM_ORDER)

    def download(entity: str) -> None:
        producers[entity] = PageProducer(client, w, entity, page_flattener(entity, secret, w.kode_kab_kota)).start()

    try:
        download(entities[0])
        for n, entity in enumerate(entities):
            spec = SPECS[entity]
            validation = None
            if parameters is not None:
                validation = StreamValidation(engine, spec, w, batch_ids[entity], parameters[entity], known_desa)
            following = entities[n + 1] if n + 1 < len(entities) else None
            # The next type downloads while the last chunk of this one is validated and staged. The
            # objects that exist now are frozen out of the per-chunk collections (see
            # StreamValidation.chunk); the collector runs again while the caller judges the type.
            with gc_paused(), gc_frozen():
                received, checksum, results = stream_type(
                    engine, w, entity, batch_ids[entity], client, producers[entity].flatten, validation,
                    producer=producers[entity],
                    on_downloaded=(lambda e=following: download(e)) if following else None)
            log.info("%s %s: %d staged%s", TYPE_OF[entity], w.label(), received,
                     ", validated" if results is not None else "")
            with engine.begin() as conn:
                staged = record_staged(conn, batch_ids[entity], received, checksum).to_dict()
                refresh_statistics(conn, spec.staging)  # for the verdict and the merge
            if results is not None:
                staged["validation"] = results
            elif validation is not None and validation.duplicates:
                staged["dropped"] = validation.duplicates  # older versions left out while streaming
            yield entity, staged
    finally:
        for producer in producers.values():
            producer.close()


def _not_fetched(w: Window, staged: dict[str, Any], exc: BaseException) -> str:
    done = ", ".join(f"{TYPE_OF[e]} {b['rows_received']}" for e, b in staged.items()) or "none"
    failed = TYPE_OF[next((e for e in STREAM_ORDER if e not in staged), STREAM_ORDER[-1])]
    return (f"{w.label()}: {failed} could not be fetched completely, window not published (staged before: "
            f"{done}): {type(exc).__name__}: {exc}")


def extract(engine: sa.Engine, window: dict, run_id: str | None, client: SatusehatClient,
            secret: bytes | None = None, validate: bool = True) -> dict[str, Any]:
    """Fetch and stage the four resource types of one kab/kota × window: the first step of
    `ingest`, alone (then validate_window and publish_window).

    Returns the window with one staged outcome per entity (with the stream validation's results,
    unless the batch is left to validate_window). Raises (after failing all four batches and
    dropping their staged rows) when a type cannot be fetched completely.
    """
    w = Window.from_dict(window)
    batch_ids = _start_batches(engine, w, run_id)
    batches: dict[str, dict[str, Any]] = {}
    stream = _stream(engine, w, batch_ids, client, secret or pseudonym_secret(), validate)
    try:
        for entity, staged in stream:
            batches[entity] = staged
    except BaseException as exc:
        stream.close()
        _discard(engine, batch_ids, _not_fetched(w, batches, exc))
        raise
    return {**w.to_dict(), "periode": w.periode, "batches": {e: batches[e] for e in SPECS}}


def judge(engine: sa.Engine, w: Window, entity: str, staged: dict[str, Any]) -> dict[str, Any]:
    """The verdict on one staged batch: its stream validation's, or its validation now from staging."""
    spec = SPECS[entity]
    streamed = staged.get("validation")
    if streamed is not None:
        result = conclude(engine, spec, staged["batch_id"], streamed)
    else:
        result = validate_batch(engine, spec, w, staged["batch_id"], validation_parameters(entity, w),
                                dropped_before=staged.get("dropped", 0))
    return {**result.to_dict(), "rows_received": staged["rows_received"]}


def _refused(w: Window, entity: str, judged: dict[str, Any]) -> str:
    return f"{w.label()}: window not published: {entity} batch {judged['status']}: {judged['message']}"


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
        for entity in SPECS:
            if out["batches"][entity]["status"] != BatchStatus.STAGED:
                continue
            out["batches"][entity] = judge(engine, w, entity, out["batches"][entity])
            if out["batches"][entity]["status"] != BatchStatus.VALIDATED:
                break
    except Exception as exc:
        _discard(engine, ids, f"{w.label()}: validation stopped: {type(exc).__name__}: {exc}")
        raise
    bad = next((e for e, r in out["batches"].items() if r["status"] in REFUSED), None)
    if bad:
        message = _refused(w, bad, out["batches"][bad])
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


def ingest(engine: sa.Engine, window: dict, run_id: str | None, client: SatusehatClient,
           secret: bytes | None = None, timings: dict[str, float] | None = None) -> dict[str, Any]:
    """Extract, validate and publish one window (the DAG's task): each type is judged as soon as it
    is staged and, on PostgreSQL, merged in the window's open publishing transaction while the next
    type streams (spm.ingest.kesehatan_publish). All or nothing: a type that cannot be fetched, a
    refused verdict or a failed merge rolls the transaction back and fails the four batches.
    `timings`, when given, receives the seconds until the last type was judged (`stream_s`) and
    from then to the commit (`commit_s`)."""
    w = Window.from_dict(window)
    secret = secret or pseudonym_secret()
    limit_days = rujukan.age_limit_days()
    batch_ids = _start_batches(engine, w, run_id)
    out: dict[str, Any] = {**w.to_dict(), "periode": w.periode, "batches": {}}
    publisher = WindowPublisher(engine, w, batch_ids, out, limit_days)
    staged: dict[str, dict[str, Any]] = {}
    stream = _stream(engine, w, batch_ids, client, secret, True)
    step = "fetch"
    started = time.perf_counter()
    try:
        for entity, batch in stream:
            staged[entity] = batch
            step = "judge"
            judged = judge(engine, w, entity, batch)
            if judged["status"] in REFUSED:
                raise InputError(_refused(w, entity, judged) + " (see `spm status`)")
            step = "publish"
            publisher.merge(entity, judged)
            step = "fetch"
        judged_at = time.perf_counter()
        step = "publish"
        result = publisher.commit()
    except BaseException as exc:
        try:
            stream.close()
        finally:
            publisher.abort()  # first: its open transaction holds the batches' rows
        if publisher.committed:  # interrupted once the window was published: it stays published
            log.error("%s: published, then interrupted: %s: %s", w.label(), type(exc).__name__, exc)
            raise
        unbalanced = next((e for e in (exc, publisher.error) if isinstance(e, RowAccountingError)), None)
        if unbalanced is not None:  # the publishing thread's own failure, found after the main thread's
            fail_unbalanced(engine, w, batch_ids, unbalanced)
        elif step == "fetch":
            _discard(engine, batch_ids, _not_fetched(w, staged, exc))
        elif step == "judge" and isinstance(exc, InputError):
            _discard(engine, batch_ids, str(exc).removesuffix(" (see `spm status`)"))
        else:
            stage = "validation" if step == "judge" else "publishing"
            _discard(engine, batch_ids, f"{w.label()}: {stage} stopped: {type(exc).__name__}: {exc}")
        raise
    if timings is not None:
        timings.update(stream_s=judged_at - started, commit_s=time.perf_counter() - judged_at)
    return {**result, "batches": {e: result["batches"][e] for e in SPECS}}


def connect_client(conn_id: str = CONN_ID, **kwargs) -> SatusehatClient:
    from spm.sources.connections import get_connection

    return SatusehatClient(get_connection(conn_id), **kwargs)
