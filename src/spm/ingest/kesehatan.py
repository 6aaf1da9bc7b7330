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
(spm.ingest.kesehatan_rujukan), with an alert past `kesehatan.batas_umur_rujukan_hari`.

Extract streams and validates, in three stages joined by bounded queues: a download thread follows
the `next` links and parses each page (orjson, collector paused), asking for the next page as soon as
one is parsed; a flatten thread turns pages into typed rows; the loading thread gathers them in
chunks of `VALIDATE_CHUNK` rows, validates each chunk with the GX suite, then stages it (COPY on
PostgreSQL) with its quarantined rows in one short transaction, while the next pages download. No
process is started: under Celery's prefork pool a task may not have children, and a child of an
Airflow 3 task would inherit the supervisor's blocked metadata URL (parallelism belongs to Airflow
tasks). The next type starts to download while the last chunk of the previous one is validated. The
queues keep memory to a few pages plus one chunk whatever the window size. The validate step then only
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

import gc
import hashlib
import json
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta, timezone
from itertools import repeat
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError, InputError
from spm.ingest import kesehatan_rujukan as rujukan
from spm.ingest.wap import BatchOutcome, EntitySpec, _plain, quarantine_rejection
from spm.privacy import nik_valid, person_key, pseudonym_secret
from spm.sources.http import SourceUnavailable
from spm.sources.satusehat import CONN_ID, RESOURCE_TYPES, SatusehatClient, conn_id_for, gc_paused
from spm.warehouse.audit import finish_batch, now, start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.tables import (
    dim_wilayah, dq_result, etl_batch, fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien, quarantine,
    staging_kondisi, staging_kunjungan, staging_observasi, staging_pasien,
)

log = logging.getLogger(__name__)
SOURCE = "satusehat"
WIB = timezone(timedelta(hours=7))  # default zone of a bare date or a zone-less time (Asia/Jakarta)

NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"
ADMINISTRATIVE_CODE = "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
LOINC_SYSTEM = "http://loinc.org"
LOINC_SISTOLIK, LOINC_DIASTOLIK = "8480-6", "8462-4"
CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

FLUSH_ROWS = 20_000  # staged rows per transaction (a batch left to validate after the download)
PARSED_PAGES = 4  # downloaded and parsed pages (~5 MB of dicts each) waiting to be flattened
PREFETCH_PAGES = 64  # flattened pages (~0.5 MB each) waiting while the loader validates and stages a chunk
VALIDATE_CHUNK = 100_000  # rows validated (then staged) at once: small enough to overlap the download, few GX runs
CHUNK_ENV = "SPM_HEALTH_VALIDATE_CHUNK_ROWS"  # a smaller chunk (tests: several chunks from a small window)

PASIEN = EntitySpec(
    source=SOURCE, entity="pasien", staging=staging_pasien,
    columns=("pasien_id", "last_updated", "person_key", "jenis_id", "nik_valid", "jenis_kelamin",
             "tanggal_lahir", "kode_desa"),
    suite="fhir_patient", publish_sql="core/fact_pasien_merge.sql", natural_key=("pasien_id",), fact=fact_pasien,
)
KUNJUNGAN = EntitySpec(
    source=SOURCE, entity="kunjungan", staging=staging_kunjungan,
    columns=("kunjungan_id", "last_updated", "pasien_id", "status", "kelas", "tanggal_mulai", "organisasi_id",
             "kode_alasan", "sistem_alasan"),
    suite="fhir_encounter", publish_sql="core/fact_kunjungan_merge.sql", natural_key=("kunjungan_id",),
    fact=fact_kunjungan,
)
OBSERVASI = EntitySpec(
    source=SOURCE, entity="observasi", staging=staging_observasi,
    columns=("observasi_id", "last_updated", "pasien_id", "status", "tanggal_efektif", "kode", "sistem_kode",
             "nilai", "satuan", "nilai_sistolik", "nilai_diastolik", "nilai_kode"),
    suite="fhir_observation", publish_sql="core/fact_observasi_merge.sql", natural_key=("observasi_id",),
    fact=fact_observasi,
)
KONDISI = EntitySpec(
    source=SOURCE, entity="kondisi", staging=staging_kondisi,
    columns=("kondisi_id", "last_updated", "pasien_id", "status_klinis", "status_verifikasi", "tanggal_onset", "kode",
             "sistem_kode"),
    suite="fhir_condition", publish_sql="core/fact_kondisi_merge.sql", natural_key=("kondisi_id",),
    fact=fact_kondisi,
)
# Patients first: the window's published patients resolve its other types' references.
SPECS = {"pasien": PASIEN, "kunjungan": KUNJUNGAN, "observasi": OBSERVASI, "kondisi": KONDISI}
ENTITY_OF = dict(zip(RESOURCE_TYPES, SPECS))  # Patient -> pasien, ...
TYPE_OF = {entity: kind for kind, entity in ENTITY_OF.items()}


# --- windows -----------------------------------------------------------------------------------

def validate_chunk_rows() -> int:
    """Rows per validation chunk: VALIDATE_CHUNK, or a positive integer in $SPM_HEALTH_VALIDATE_CHUNK_ROWS."""
    text = os.environ.get(CHUNK_ENV)
    if not text:
        return VALIDATE_CHUNK
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"{CHUNK_ENV}={text!r}: expected a positive number of rows")
    return int(text)


def parse_instant(value: Any, name: str) -> datetime:
    """An ISO date (midnight WIB) or date-time (without a zone: WIB) as an aware datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, dtime.min)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = (datetime.combine(date.fromisoformat(text), dtime.min) if len(text) == 10
                      else datetime.fromisoformat(text))
        except ValueError:
            raise ConfigError(f"{name} {value!r} is not an ISO date or date-time (e.g. 2025-01-01 or "
                              "2025-01-01T00:00:00+07:00)") from None
    else:
        raise ConfigError(f"{name} {value!r} is not an ISO date or date-time")
    return moment.replace(tzinfo=WIB) if moment.tzinfo is None else moment


def default_window(run_after: datetime) -> tuple[datetime, datetime]:
    """The calendar day (WIB) before the run's date: what a nightly run loads."""
    if run_after.tzinfo is None:
        run_after = run_after.replace(tzinfo=timezone.utc)
    hari = run_after.astimezone(WIB).date()
    sampai = datetime.combine(hari, dtime.min, tzinfo=WIB)
    return sampai - timedelta(days=1), sampai


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Window:
    kode_kab_kota: str
    dari: datetime
    sampai: datetime
    conn_id: str = CONN_ID

    @property
    def periode(self) -> str:
        return f"{utc_text(self.dari)}/{utc_text(self.sampai)}"

    def as_dict(self) -> dict[str, str]:
        return {"kode_kab_kota": self.kode_kab_kota, "dari": self.dari.isoformat(),
                "sampai": self.sampai.isoformat(), "conn_id": self.conn_id}

    @classmethod
    def of(cls, d: dict[str, Any]) -> "Window":
        return cls(d["kode_kab_kota"], parse_instant(d["dari"], "dari"), parse_instant(d["sampai"], "sampai"),
                   d.get("conn_id") or CONN_ID)

    def label(self) -> str:
        return f"{self.kode_kab_kota} {self.periode}"


def _check_kab_kota(kode: str) -> None:
    parts = str(kode).split(".")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ConfigError(f"{kode!r} is not a kabupaten/kota code (PP.KK, e.g. 32.71)")


def connection_defined(conn_id: str) -> bool:
    from spm.sources.connections import get_connection

    try:
        get_connection(conn_id)
    except ConfigError as exc:
        if "is not defined" in str(exc):
            return False
        raise
    return True


def hub_connections(kode_wilayah: list[str], defined: Callable[[str], bool] = connection_defined) -> dict[str, str]:
    """kab/kota -> connection id of its FHIR hub: `spm_satusehat_<PPKK>` when defined, else `spm_satusehat`.
    A hub serves one kab/kota, so the shared `spm_satusehat` may stand for one of them only."""
    out = {kode: conn_id_for(kode) if defined(conn_id_for(kode)) else CONN_ID for kode in kode_wilayah}
    shared = [kode for kode, conn in out.items() if conn == CONN_ID]
    if len(shared) > 1:
        raise ConfigError(
            f"kab/kota {', '.join(shared)} would all read the one hub of connection {CONN_ID!r}: a FHIR hub "
            "serves one kab/kota; define " + ", ".join(conn_id_for(k) for k in shared) + " (one per hub)")
    return out


def windows(kode_wilayah: list[str], dari: Any, sampai: Any, conn_ids: dict[str, str] | None = None) -> list[dict]:
    """One window per kab/kota (same bounds for all)."""
    start, end = parse_instant(dari, "dari"), parse_instant(sampai, "sampai")
    if start >= end:
        raise ConfigError(f"dari {start.isoformat()} must be before sampai {end.isoformat()}")
    out = []
    for kode in kode_wilayah:
        _check_kab_kota(kode)
        out.append(Window(kode, start, end, (conn_ids or {}).get(kode, CONN_ID)).as_dict())
    return out


# --- flattening (one resource -> one staged row, in the spec's column order) ---------------------

def _text(value: Any, size: int) -> str | None:
    """A value as stored text: blank or structured is NULL; cut to the staging column size (an
    overlong value is invalid anyway and the suite says so, but must not break the bulk load)."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = value if isinstance(value, str) else str(value)
    return text.strip()[:size] or None


def parse_datetime(value: Any) -> datetime | None:
    """A FHIR dateTime/instant with a time as an aware datetime (zone-less: WIB); else None."""
    if not isinstance(value, str) or len(value) < 16:
        return None  # partial dates (YYYY, YYYY-MM, YYYY-MM-DD) carry no instant
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=WIB) if moment.tzinfo is None else moment


def parse_date(value: Any) -> date | None:
    """A full FHIR date `YYYY-MM-DD` (a partial one is unknown here); else None."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _ref_id(reference: Any, kind: str) -> str | None:
    """`Patient/<id>` (or an absolute URL ending so) -> `<id>`; a reference to another type -> None."""
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference")
    if not isinstance(ref, str):
        return None
    parts = ref.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != kind:
        return None
    return parts[-1][:64] or None


def _coding(concept: Any, system: str) -> tuple[str | None, str | None]:
    """(code, system) of a CodeableConcept: the coding of `system` if any, else the first coding."""
    if not isinstance(concept, dict):
        return None, None
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return None, None
    first = None
    for coding in codings:
        if not isinstance(coding, dict):
            continue
        if coding.get("system") == system:
            return _text(coding.get("code"), 32), system
        if first is None:
            first = coding
    if first is None:
        return None, None
    return _text(first.get("code"), 32), _text(first.get("system"), 128)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _last_updated(resource: dict) -> datetime | None:
    meta = resource.get("meta")
    return parse_datetime(meta.get("lastUpdated")) if isinstance(meta, dict) else None


def dotted_desa(code: Any) -> str | None:
    """An undotted village code `3271011001` in the dotted Kemendagri form `32.71.01.1001`; any other
    shape is kept as it came (cut to size) so that the suite names it."""
    text = _text(code, 32)
    if text is None:
        return None
    if len(text) == 10 and text.isdigit():
        return f"{text[:2]}.{text[2:4]}.{text[4:6]}.{text[6:]}"
    return text


def _village(resource: dict) -> str | None:
    addresses = resource.get("address")
    if not isinstance(addresses, list) or not addresses or not isinstance(addresses[0], dict):
        return None
    for ext in addresses[0].get("extension") or ():
        if isinstance(ext, dict) and ext.get("url") == ADMINISTRATIVE_CODE:
            for part in ext.get("extension") or ():
                if isinstance(part, dict) and part.get("url") == "village":
                    return dotted_desa(part.get("valueCode"))
    return None


def _nik(resource: dict) -> str | None:
    for ident in resource.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("system") == NIK_SYSTEM:
            value = ident.get("value")
            return value.strip() if isinstance(value, str) else None
    return None


GENDER = {"male": "L", "female": "P"}


def flatten_patient(resource: dict, secret: bytes, kode_kab_kota: str) -> tuple:
    """PASIEN.columns of a Patient; the NIK is only hashed, the name never read."""
    pid = _text(resource.get("id"), 64)
    lahir = parse_date(resource.get("birthDate"))
    gender = resource.get("gender")
    jk = GENDER.get(gender) if isinstance(gender, str) else None
    nik = _nik(resource)
    if nik_valid(nik, lahir, None if jk is None else jk == "P"):
        key, jenis_id, valid = person_key(secret, nik), "nik", True
    elif pid:
        key, jenis_id, valid = person_key(secret, f"{kode_kab_kota}:{pid}", "satusehat"), "fhir", False
    else:
        key, jenis_id, valid = None, None, False
    if jk is None and isinstance(gender, str):
        jk = _text(gender, 8)  # other/unknown: kept so the suite can name it
    return (pid, _last_updated(resource), key, jenis_id, valid, jk, lahir, _village(resource))


def flatten_encounter(resource: dict) -> tuple:
    """KUNJUNGAN.columns of an Encounter (the first ICD-10 reasonCode; else the first coding)."""
    period = resource.get("period")
    klass = resource.get("class")
    kode, sistem = None, None
    for reason in resource.get("reasonCode") or ():
        code, system = _coding(reason, ICD10_SYSTEM)
        if code is not None and (kode is None or (system == ICD10_SYSTEM and sistem != ICD10_SYSTEM)):
            kode, sistem = code, system
        if sistem == ICD10_SYSTEM:
            break
    return (
        _text(resource.get("id"), 64), _last_updated(resource), _ref_id(resource.get("subject"), "Patient"),
        _text(resource.get("status"), 32), _text(klass.get("code"), 16) if isinstance(klass, dict) else None,
        parse_datetime(period.get("start")) if isinstance(period, dict) else None,
        _ref_id(resource.get("serviceProvider"), "Organization"), kode, sistem,
    )


def flatten_observation(resource: dict) -> tuple:
    """OBSERVASI.columns of an Observation: valueQuantity, blood-pressure components, or a coded result."""
    kode, sistem = _coding(resource.get("code"), LOINC_SYSTEM)
    nilai = satuan = sistolik = diastolik = nilai_kode = None
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict):
        nilai = _number(quantity.get("value"))
        satuan = _text(quantity.get("code") or quantity.get("unit"), 32)
    concept = resource.get("valueCodeableConcept")
    if isinstance(concept, dict):
        nilai_kode = _coding(concept, LOINC_SYSTEM)[0]
    for component in resource.get("component") or ():
        if not isinstance(component, dict):
            continue
        code = _coding(component.get("code"), LOINC_SYSTEM)[0]
        value = component.get("valueQuantity")
        value = _number(value.get("value")) if isinstance(value, dict) else None
        if code == LOINC_SISTOLIK:
            sistolik = value
        elif code == LOINC_DIASTOLIK:
            diastolik = value
    effective = resource.get("effectiveDateTime")
    if effective is None and isinstance(resource.get("effectivePeriod"), dict):
        effective = resource["effectivePeriod"].get("start")
    return (
        _text(resource.get("id"), 64), _last_updated(resource), _ref_id(resource.get("subject"), "Patient"),
        _text(resource.get("status"), 32), parse_datetime(effective), kode, sistem, nilai, satuan, sistolik,
        diastolik, nilai_kode,
    )


def flatten_condition(resource: dict) -> tuple:
    """KONDISI.columns of a Condition."""
    kode, sistem = _coding(resource.get("code"), ICD10_SYSTEM)
    status = _coding(resource.get("clinicalStatus"), CLINICAL_SYSTEM)[0]
    verifikasi = _coding(resource.get("verificationStatus"), VERIFICATION_SYSTEM)[0]
    return (
        _text(resource.get("id"), 64), _last_updated(resource), _ref_id(resource.get("subject"), "Patient"),
        status, verifikasi, parse_datetime(resource.get("onsetDateTime")), kode, sistem,
    )


def flattener(entity: str, secret: bytes, kode_kab_kota: str) -> Callable[[dict], tuple]:
    if entity == "pasien":
        return lambda resource: flatten_patient(resource, secret, kode_kab_kota)
    return {"kunjungan": flatten_encounter, "observasi": flatten_observation, "kondisi": flatten_condition}[entity]


# --- extract ---------------------------------------------------------------------------------------

def _start_batches(engine: sa.Engine, w: Window, run_id: str | None) -> dict[str, int]:
    """One running batch per type. Staging rows of this kab/kota's finished batches go (the audit
    keeps dq_result and quarantine; staging only serves the batch in flight), and so do those of
    batches of the same window that are still `running`: a worker killed mid-window leaves them
    behind, and a new run of the window supersedes them (they are marked failed, so a late task of
    the old run stops instead of publishing half a window)."""
    with engine.begin() as conn:
        abandoned = conn.execute(sa.select(etl_batch.c.batch_id, etl_batch.c.entity).where(
            etl_batch.c.source == SOURCE, etl_batch.c.entity.in_(list(SPECS)),
            etl_batch.c.kode_wilayah == w.kode_kab_kota, etl_batch.c.periode == w.periode,
            etl_batch.c.status == "running")).all()
        for batch_id, entity in abandoned:
            conn.execute(sa.delete(SPECS[entity].staging).where(SPECS[entity].staging.c.batch_id == batch_id))
            finish_batch(conn, batch_id, "failed", message=f"{w.label()}: abandoned unfinished (worker stopped?); "
                                                           "its staged rows were removed by a new run of the window")
        if abandoned:
            log.warning("%s: %d unfinished batch(es) of an earlier run removed", w.label(), len(abandoned))
        ids = {entity: start_batch(conn, SOURCE, entity, w.kode_kab_kota, w.periode, run_id) for entity in SPECS}
        for entity, spec in SPECS.items():
            finished = sa.select(etl_batch.c.batch_id).where(
                etl_batch.c.source == SOURCE, etl_batch.c.entity == entity,
                etl_batch.c.kode_wilayah == w.kode_kab_kota, etl_batch.c.status != "running")
            conn.execute(sa.delete(spec.staging).where(spec.staging.c.kode_kab_kota == w.kode_kab_kota,
                                                       spec.staging.c.batch_id.in_(finished)))
    return ids


def _discard(engine: sa.Engine, batch_ids: dict[str, int], message: str) -> None:
    """Fail every still-running batch of the window and drop its staged rows."""
    with engine.begin() as conn:
        for entity, batch_id in batch_ids.items():
            spec = SPECS[entity]
            conn.execute(sa.delete(spec.staging).where(spec.staging.c.batch_id == batch_id))
            status = conn.execute(sa.select(etl_batch.c.status).where(etl_batch.c.batch_id == batch_id)).scalar_one()
            if status == "running":
                finish_batch(conn, batch_id, "failed", message=message)
    log.error("window failed, nothing published: %s", message)


@contextmanager
def gc_frozen():
    """Move every object alive now out of the collector's sight until the block ends (gc.freeze)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Stop(Exception):
    pass


def _staging_columns(spec: EntitySpec) -> tuple[str, ...]:
    return ("batch_id", "kode_kab_kota", "periode", "row_id", *spec.columns)


class _StreamValidation:
    """Validates one type's rows chunk by chunk while the next pages download, before they are staged.

    Same checks and the same results as validating the staged batch afterwards (validate_batch):
    a chunk keeps one row per resource id (the newest meta.lastUpdated, then the last received) and
    only those rows are validated; a patient's desa is resolved against the same table the
    staged-batch query joins (current desa of dim_wilayah); rows failing warning expectations go to quarantine in the
    transaction that stages the chunk, and every row is staged with its `lolos` already decided
    (_validate_and_stage).
    An id met again in a later chunk (rare: a resource updated while the window was paged) is found
    when the stream ends: then this validation is undone and the batch is validated whole by
    validate_batch, as before. The verdict on the batch (dq_result, critical, quarantine limit) is
    written by validate_window."""

    def __init__(self, engine: sa.Engine, spec: EntitySpec, w: Window, batch_id: int, parameters: dict[str, Any],
                 known_desa: frozenset[str] | None) -> None:
        self.engine, self.spec, self.w, self.batch_id = engine, spec, w, batch_id
        self.parameters = parameters
        self.known_desa = known_desa
        self.results = _Results(spec, parameters, keep_gx=False)  # each chunk stores its own GX result
        self.duplicates = 0
        self.chunks = 0

    def expect(self, total: int | None) -> None:
        """The stream announced `total` resources (logged; the chunks are validated in this process)."""
        if total is not None:
            log.info("%s %s: %d resources announced, validated in chunks of %d", self.spec.entity, self.w.label(),
                     total, validate_chunk_rows())

    def _dedup(self, rows: list[tuple]) -> list[tuple]:
        """One row per id within the chunk (dedup_batch's rule); ids are column 1, lastUpdated column 2."""
        newest: dict[str, int] = {}
        dropped: list[int] = []
        for pos, row in enumerate(rows):
            rid = row[1]
            if rid is None:
                continue
            prev = newest.setdefault(rid, pos)
            if prev == pos:
                continue
            older, newer = rows[prev][2], row[2]
            if older is not None and (newer is None or older > newer):
                dropped.append(pos)  # the one kept is newer: this later arrival loses
            else:
                dropped.append(prev)
                newest[rid] = pos
        if not dropped:
            return rows
        self.duplicates += len(dropped)
        gone = set(dropped)
        return [row for pos, row in enumerate(rows) if pos not in gone]

    def _derived(self, frame) -> None:
        if self.spec is PASIEN:
            known = self.known_desa
            frame["desa_dikenal"] = [code in known for code in frame["kode_desa"].tolist()]

    def chunk(self, rows: list[tuple]) -> None:
        """Validate `rows` ((row_id, *spec.columns) tuples), then stage them and quarantine the bad
        ones (_validate_and_stage)."""
        rows = self._dedup(rows)
        if not rows:
            return
        self.chunks += 1
        frame = _frame(rows, ["row_id", *self.spec.columns])
        del rows
        self._derived(frame)
        w = self.w
        report = _validate_and_stage(self.engine, self.spec.entity, frame, self.parameters,
                                     (self.batch_id, w.kode_kab_kota, w.periode), self.results.checked_at,
                                     self.chunks - 1)
        self.results.add(report, frame)
        # GX leaves reference cycles behind, and the stream runs with the collector paused: collect
        # them once per chunk, or every chunk's garbage would stay until the window ends. extract
        # froze what existed before the stream (modules, GX, Airflow), so this walks only newer objects.
        del frame, report
        gc.collect()

    def finish(self) -> dict[str, Any] | None:
        """The chunks' results (JSON), or None after undoing them when an id recurs across chunks
        (`duplicates` then says how many older versions the chunks left out)."""
        t = self.spec.staging
        id_col = t.c[self.spec.natural_key[0]]
        if self.chunks > 1:
            with self.engine.connect() as conn:
                again = conn.execute(sa.select(id_col).where(t.c.batch_id == self.batch_id, id_col.is_not(None))
                                     .group_by(id_col).having(sa.func.count() > 1).limit(1)).first()
            if again is not None:
                with self.engine.begin() as conn:
                    conn.execute(sa.delete(quarantine).where(quarantine.c.batch_id == self.batch_id))
                    conn.execute(sa.update(t).where(t.c.batch_id == self.batch_id).values(lolos=None))
                log.info("%s %s: a resource recurs across chunks; the batch is validated whole after the download",
                         self.spec.entity, self.w.label())
                return None
        return {**self.results.as_dict(), "duplicates": self.duplicates}


def _validate_and_stage(engine: sa.Engine, entity: str, frame, parameters: dict[str, Any], prefix: tuple,
                        checked_at: datetime, bagian: int):
    """One chunk: run the suite on the chunk's frame, then stage
    every row with its `lolos` and quarantine the rows failing warning expectations, in one
    transaction, with GX's own result of the chunk (the GX Data Docs). Returns the GX report."""
    from spm.quality.gx_hasil import simpan_bagian
    from spm.quality.gx_runner import validate_frame

    spec = SPECS[entity]
    report = validate_frame(spec.suite, frame, parameters)
    bad = report.rows_to_quarantine()
    with engine.begin() as conn:
        insert_rows(conn, spec.staging, (*_staging_columns(spec), "lolos"),
                    _staged_rows(frame, spec, prefix, bad, conn.dialect.name))
        if bad:
            insert_rows(conn, quarantine, QUARANTINE_COLUMNS, _quarantine_rows(spec, prefix[0], frame, bad, checked_at))
        simpan_bagian(conn, prefix[0], spec.suite, bagian, report.gx_result, checked_at)
    return report


def _staged_rows(frame, spec: EntitySpec, prefix: tuple, bad: dict[int, list[str]], dialect: str) -> Iterable[tuple]:
    """The staging rows of a chunk's frame: (*prefix, row_id, *spec.columns, lolos), with the values
    the flattened rows held (None for missing). Column by column, as arrays: per-value conversion of
    the timestamps was a third of the cost of staging a chunk."""
    columns = [_staged_values(frame[c], spec.staging.c[c].type, dialect) for c in ("row_id", *spec.columns)]
    lolos = [rid not in bad for rid in columns[0]]
    return zip(*(repeat(v, len(lolos)) for v in prefix), *columns, lolos)


def _staged_values(s, column_type, dialect: str) -> list:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if s.dt.tz is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        values = s.to_numpy(dtype="datetime64[us]")
        if isinstance(column_type, sa.DateTime):
            text = np.datetime_as_string(values, unit="us").tolist()  # YYYY-MM-DDTHH:MM:SS.ffffff, UTC
            # SQLite: SQLAlchemy's storage format (naive UTC, a space); PostgreSQL parses ISO 8601.
            out = [t[:10] + " " + t[11:] for t in text] if dialect == "sqlite" else [t + "+00:00" for t in text]
        else:
            out = np.datetime_as_string(values, unit="D").tolist()
        for i in np.flatnonzero(np.isnat(values)).tolist():
            out[i] = None
        return out
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype):
        return s.tolist()
    return s.astype(object).where(s.notna(), None).tolist()


class _PageProducer:
    """The pages of one type in the window, downloaded and flattened ahead of the loader.

    Two threads: download (HTTP + parse, which tells the next link) and flatten. The next page is
    asked for as soon as one is parsed, so the hub renders it while this process flattens and
    validates the ones before. Items on `pages`: ("page", rows, Page), then ("done", None, None), or
    ("error", exception, None)."""

    def __init__(self, client: SatusehatClient, w: Window, entity: str, flatten: Callable[[dict], tuple]) -> None:
        self.client, self.w, self.kind, self.flatten = client, w, TYPE_OF[entity], flatten
        self.parsed: queue.Queue = queue.Queue(maxsize=PARSED_PAGES)
        self.pages: queue.Queue = queue.Queue(maxsize=PREFETCH_PAGES)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._guarded(self._download, self.parsed), daemon=True,
                                         name=f"fhir-{self.kind}"),
                        threading.Thread(target=self._guarded(self._flatten, self.pages), daemon=True,
                                         name=f"fhir-{self.kind}-flatten")]

    def start(self) -> "_PageProducer":
        for thread in self.threads:
            thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            if thread.ident is not None:
                thread.join()

    def _put(self, q: queue.Queue, item) -> None:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stop()

    def _get(self, q: queue.Queue):
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.2)
            except queue.Empty:
                continue
        raise _Stop()

    def _guarded(self, target: Callable[[], None], q: queue.Queue) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except _Stop:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed on to the loader, which fails the window
                try:
                    self._put(q, ("error", exc, None))
                except _Stop:
                    pass
        return run

    def _download(self) -> None:
        for page in self.client.pages(self.kind, self.w.dari, self.w.sampai):
            self._put(self.parsed, ("page", None, page))
        self._put(self.parsed, ("done", None, None))

    def _flatten(self) -> None:
        flatten = self.flatten
        while True:
            what, payload, page = self._get(self.parsed)
            if what == "page":
                self._put(self.pages, ("page", [flatten(r) for r in page.resources], page))
                continue
            self._put(self.pages, (what, payload, page))
            return


def stream_type(engine: sa.Engine, w: Window, entity: str, batch_id: int, client: SatusehatClient,
                flatten: Callable[[dict], tuple], validation: _StreamValidation | None = None,
                producer: _PageProducer | None = None, on_downloaded: Callable[[], None] | None = None,
                ) -> tuple[int, str, dict[str, Any] | None]:
    """Fetch every page of one type in the window into staging; (rows received, checksum of the
    pages, the stream validation's results or None when the batch is still to be validated).

    `producer` (already started) may be given by the caller; `on_downloaded` is called once the last
    page has arrived, before the last chunk is validated (extract starts the next type's download there).
    """
    spec = SPECS[entity]
    kind = TYPE_OF[entity]
    cols = _staging_columns(spec)
    prefix = (batch_id, w.kode_kab_kota, w.periode)
    digest = hashlib.sha256()
    buffer: list[tuple] = []  # (row_id, *spec.columns)
    received, total = 0, None
    limit = validate_chunk_rows() if validation is not None else FLUSH_ROWS

    def flush() -> None:
        nonlocal buffer
        if validation is not None:
            validation.chunk(buffer)  # keeps the list while its chunk is validated
        else:
            with engine.begin() as conn:
                insert_rows(conn, spec.staging, cols, ((*prefix, *row) for row in buffer))
        buffer = []

    # The collector stays paused for the whole stream (all threads): parsed pages hold no cycles and
    # are freed by reference counting; re-enabling it per page would make it walk every live page.
    with gc_paused():
        producer = producer or _PageProducer(client, w, entity, flatten).start()
        try:
            while True:
                what, payload, page = producer.pages.get()
                if what == "error":
                    raise payload
                if what == "done":
                    break
                if total is None:
                    total = page.total
                    if validation is not None:
                        validation.expect(total)
                digest.update(page.sha256.encode())
                buffer.extend((received + i, *row) for i, row in enumerate(payload, start=1))
                received += len(payload)
                if len(buffer) >= limit:
                    flush()
            producer.close()
            if on_downloaded is not None:
                on_downloaded()
            if buffer:
                flush()
        finally:
            producer.close()
    if total is not None and received < total:
        raise SourceUnavailable(f"{client.conn.conn_id}: {kind} search announced {total} resources but its pages "
                                f"held {received}; paging incomplete")
    return received, digest.hexdigest(), validation.finish() if validation is not None else None


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
    w = Window.of(window)
    secret = secret or pseudonym_secret()
    batch_ids = _start_batches(engine, w, run_id)
    parameters = _stream_parameters(w) if validate else None
    known_desa = _current_desa(engine) if parameters is not None else None
    counts: dict[str, tuple[int, str, dict[str, Any] | None]] = {}
    dropped: dict[str, int] = {}
    producers: dict[str, _PageProducer] = {}
    entities = list(SPECS)

    def download(entity: str) -> None:
        producers[entity] = _PageProducer(client, w, entity, flattener(entity, secret, w.kode_kab_kota)).start()

    try:
        # The next type downloads while the last chunk of this one is validated and staged. The
        # objects that exist now are frozen out of the per-chunk collections (see _StreamValidation.chunk).
        with gc_paused(), gc_frozen():
            download(entities[0])
            for n, (entity, spec) in enumerate(SPECS.items()):
                validation = None
                if parameters is not None:
                    validation = _StreamValidation(engine, spec, w, batch_ids[entity], parameters[entity],
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
        for entity, (received, checksum, _) in counts.items():
            conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_ids[entity])
                         .values(rows_received=received, checksum=checksum))
    batches = {}
    for entity, (received, _, results) in counts.items():
        batches[entity] = BatchOutcome(batch_ids[entity], "staged", rows_received=received).as_dict()
        if results is not None:
            batches[entity]["validation"] = results
        elif dropped.get(entity):
            batches[entity]["dropped"] = dropped[entity]  # older versions left out while streaming
    return {**w.as_dict(), "periode": w.periode, "batches": batches}


# --- validate --------------------------------------------------------------------------------------

def dedup_batch(conn: sa.Connection, spec: EntitySpec, batch_id: int) -> int:
    """Keep one staged row per resource id: the newest meta.lastUpdated (a row without one loses),
    then the last received. Returns the number of rows dropped."""
    t = spec.staging
    id_col = spec.natural_key[0]
    o = t.alias("o")
    newer = sa.or_(
        o.c.last_updated > t.c.last_updated,
        sa.and_(t.c.last_updated.is_(None), o.c.last_updated.is_not(None)),
        sa.and_(o.c.last_updated == t.c.last_updated, o.c.row_id > t.c.row_id),
        sa.and_(o.c.last_updated.is_(None), t.c.last_updated.is_(None), o.c.row_id > t.c.row_id),
    )
    superseded = sa.exists().where(o.c.batch_id == batch_id, o.c[id_col] == t.c[id_col], newer)
    return conn.execute(sa.delete(t).where(t.c.batch_id == batch_id, t.c[id_col].is_not(None), superseded)).rowcount


def chunk_query(spec: EntitySpec, w: Window, batch_id: int) -> sa.Select:
    """The validation frame's columns: the staged ones, and for patients whether the desa exists,
    resolved by a join (a value set of every desa would be far costlier for GX than a boolean).
    A clinical resource's patient is not checked: a reference to a patient not loaded yet is valid
    data (a late arrival), published and counted once the patient arrives (spm.ingest.kesehatan_rujukan)."""
    t = spec.staging
    cols = [t.c.row_id, *(t.c[c] for c in spec.columns)]
    if spec is PASIEN:
        # A current desa anywhere in the country (a patient may live outside the hub's kab/kota). The
        # join is on the code alone so that it probes dim_wilayah's primary key (SQLite would otherwise
        # scan every desa through the tingkat index for each patient).
        d = dim_wilayah
        desa = sa.and_(d.c.kode == t.c.kode_desa, d.c.berlaku_sampai.is_(None))
        return (sa.select(*cols, (d.c.tingkat == "desa_kelurahan").label("desa_dikenal"))
                .select_from(t.outerjoin(d, desa)).where(t.c.batch_id == batch_id))
    return sa.select(*cols).where(t.c.batch_id == batch_id)


DERIVED = {"pasien": "desa_dikenal"}
DATETIME_COLUMNS = ("last_updated", "tanggal_mulai", "tanggal_efektif", "tanggal_onset")


def _frame(rows: list, columns: list[str]):
    import pandas as pd

    # Plain tuples: a list of SQLAlchemy Rows makes pandas probe every row for mapping keys.
    frame = pd.DataFrame([tuple(r) for r in rows] if rows and not isinstance(rows[0], tuple) else rows,
                         columns=columns)
    for c in columns:
        if c in DATETIME_COLUMNS:
            # SQLite gives naive UTC, PostgreSQL and the flattened rows aware: one dtype for the window comparisons.
            frame[c] = pd.to_datetime(frame[c], utc=True)
        elif c == "desa_dikenal":
            frame[c] = frame[c].astype(bool)
        elif c == "tanggal_lahir":
            frame[c] = pd.to_datetime(frame[c]).dt.tz_localize("UTC")
    frame["row_id"] = frame["row_id"].astype("int64")
    return frame


@dataclass
class _Tally:
    """One expectation's outcome summed over the chunks of a batch."""
    name: str
    expectation_type: str
    kolom: str | None
    severity: str
    success: bool = True
    element_count: int | None = 0
    unexpected_count: int | None = 0
    observed_value: str | None = None
    error: str | None = None

    def add(self, o) -> None:
        self.success = self.success and o.success
        self.element_count = None if self.element_count is None or o.element_count is None else \
            self.element_count + o.element_count
        self.unexpected_count = None if self.unexpected_count is None or o.unexpected_count is None else \
            self.unexpected_count + o.unexpected_count
        self.observed_value = o.observed_value if not o.success or self.observed_value is None else self.observed_value
        self.error = self.error or o.error

    @property
    def unexpected_percent(self) -> float | None:
        if self.unexpected_count is None or not self.element_count:
            return None if self.unexpected_count is None else 0.0
        return 100.0 * self.unexpected_count / self.element_count


MEAN = "expect_column_mean_to_be_between"


def _mean_bounds(suite: str, parameters: dict[str, Any]) -> dict[str, tuple]:
    """meta.name -> (min, max, strict_min, strict_max) of the suite's column-mean expectations."""
    from spm.quality.gx_runner import load_suite_file

    def value(v):
        return parameters.get(v["$PARAMETER"]) if isinstance(v, dict) and "$PARAMETER" in v else v

    return {e["meta"]["name"]: (value(e["kwargs"].get("min_value")), value(e["kwargs"].get("max_value")),
                                bool(e["kwargs"].get("strict_min")), bool(e["kwargs"].get("strict_max")))
            for e in load_suite_file(suite)["expectations"] if e["type"] == MEAN}


class _Results:
    """A batch's expectation outcomes over its chunks. Row-level counts add up; a column mean is the
    mean over the whole batch (the chunks' means weighted by their non-null values), checked
    against the suite's bounds, so the size of a chunk never changes a verdict."""

    def __init__(self, spec: EntitySpec, parameters: dict[str, Any], keep_gx: bool = True) -> None:
        self.spec = spec
        self.keep_gx = keep_gx
        self.tallies: dict[str, _Tally] = {}
        self.failed_ids: dict[str, list[int]] = {}
        self.means: dict[str, list[float]] = {}  # name -> [sum, count]
        self.bounds = _mean_bounds(spec.suite, parameters)
        self.quarantined = self.received = 0
        self.checked_at = now()
        self.gx: list[dict[str, Any] | None] = []  # GX's own result per chunk, scrubbed (the GX Data Docs)

    def add(self, report, frame) -> dict[int, list[str]]:
        """Absorb one chunk's report; the chunk's rows to quarantine."""
        from spm.quality.gx_hasil import bersihkan

        self.received += len(frame)
        if self.keep_gx:
            self.gx.append(bersihkan(report.gx_result) if report.gx_result is not None else None)
        for o in report.outcomes:
            tally = self.tallies.setdefault(o.name, _Tally(o.name, o.expectation_type, o.kolom, o.severity))
            if o.expectation_type == MEAN and o.name in self.bounds and o.error is None and o.observed_value:
                count = int(frame[o.kolom].notna().sum())
                part = self.means.setdefault(o.name, [0.0, 0])
                part[0] += float(json.loads(o.observed_value)) * count
                part[1] += count
            tally.add(o)
            if not o.success and len(self.failed_ids.setdefault(o.name, [])) < 200:
                self.failed_ids[o.name].extend(o.failed_row_ids[:200 - len(self.failed_ids[o.name])])
        bad = report.rows_to_quarantine()
        self.quarantined += len(bad)
        return bad

    def _final_means(self) -> None:
        for name, (total, count) in self.means.items():
            tally = self.tallies[name]
            if tally.error is not None or not count:
                continue
            mean = total / count
            lo, hi, strict_lo, strict_hi = self.bounds[name]
            ok = ((lo is None or (mean > lo if strict_lo else mean >= lo))
                  and (hi is None or (mean < hi if strict_hi else mean <= hi)))
            tally.success, tally.observed_value = ok, json.dumps(mean)

    def as_dict(self) -> dict[str, Any]:
        self._final_means()
        return {"tallies": [dict(t.__dict__) for t in self.tallies.values()], "failed_ids": self.failed_ids,
                "quarantined": self.quarantined, "received": self.received,
                "checked_at": self.checked_at.isoformat(), **({"gx": self.gx} if self.keep_gx else {})}


def validate_batch(engine: sa.Engine, spec: EntitySpec, w: Window, batch_id: int, parameters: dict[str, Any],
                   dropped_before: int = 0) -> BatchOutcome:
    """Run the entity's suite over the staged batch in chunks; store dq_result and quarantine; mark
    `lolos`; decide whether the batch may be published (like spm.ingest.wap.validate, chunked).
    The path of a batch the stream could not validate; `dropped_before` older versions were
    already left out while streaming."""
    from spm.quality.gx_runner import validate_frame

    with engine.begin() as conn:
        duplicates = dedup_batch(conn, spec, batch_id) + dropped_before
    query = chunk_query(spec, w, batch_id)
    columns = [c.name for c in query.selected_columns]
    results = _Results(spec, parameters)
    last = -1
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query.where(spec.staging.c.row_id > last).order_by(spec.staging.c.row_id)
                                .limit(validate_chunk_rows())).all()
        if not rows:
            break
        last = rows[-1][0]
        frame = _frame(rows, columns)
        del rows
        report = validate_frame(spec.suite, frame, parameters)
        bad = results.add(report, frame)
        if bad:
            _quarantine(engine, spec, batch_id, frame, bad, results.checked_at)
    with engine.begin() as conn:
        conn.execute(sa.update(spec.staging).where(spec.staging.c.batch_id == batch_id,
                                                   spec.staging.c.lolos.is_(None)).values(lolos=True))
    return _conclude(engine, spec, batch_id, {**results.as_dict(), "duplicates": duplicates})


def _conclude(engine: sa.Engine, spec: EntitySpec, batch_id: int, results: dict[str, Any]) -> BatchOutcome:
    """Store a batch's dq_result rows (and GX's own results) and decide whether it may be published."""
    from spm.quality.gx_hasil import simpan as simpan_hasil_gx

    tallies = [_Tally(**t) for t in results["tallies"]]
    failed_ids = results["failed_ids"]
    quarantined, received, duplicates = results["quarantined"], results["received"], results["duplicates"]
    checked_at = datetime.fromisoformat(results["checked_at"])
    with engine.begin() as conn:
        insert_rows(conn, dq_result, (
            "batch_id", "suite", "expectation", "kolom", "severity", "success", "element_count",
            "unexpected_count", "unexpected_percent", "observed_value", "details", "checked_at"), (
            (batch_id, spec.suite, t.name, t.kolom, t.severity, t.success, t.element_count, t.unexpected_count,
             t.unexpected_percent, t.observed_value,
             {"type": t.expectation_type, "failed_row_ids": failed_ids.get(t.name, []), "error": t.error,
              "chunks_of": validate_chunk_rows()}, checked_at)
            for t in tallies))
        if "gx" in results:  # validated from staging; a streamed batch stored each chunk's result as it went
            simpan_hasil_gx(conn, batch_id, spec.suite, results["gx"], checked_at)  # one page per chunk
        critical = [t for t in tallies if t.severity == "critical" and not t.success]
        failed = [t for t in tallies if not t.success]
        status = "validated"
        message = f"{spec.suite}: {len(tallies) - len(failed)}/{len(tallies)} passed" + (
            "; failed: " + ", ".join(f"{t.name} ({t.severity}, {t.unexpected_count if t.unexpected_count is not None else 'batch'})"
                                     for t in failed) if failed else "")
        if critical:
            status = "failed"
            message = "critical expectation failed, nothing published: " + ", ".join(
                f"{t.name} ({t.unexpected_count if t.unexpected_count is not None else 'batch'})" for t in critical)
        elif quarantine_rejection(quarantined, received):
            status = "rejected"
            message = quarantine_rejection(quarantined, received)
        values = {"rows_quarantined": quarantined, "rows_duplicate": duplicates, "message": message}
        if status == "validated":
            conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id).values(**values))
        else:
            finish_batch(conn, batch_id, status, **values)
    log.info("batch %s (%s) %s: %s", batch_id, spec.entity, status, message)
    return BatchOutcome(batch_id, status, message, received + duplicates, 0, quarantined)


QUARANTINE_COLUMNS = ("batch_id", "natural_key", "failed_expectations", "row_data", "quarantined_at")


def _quarantine_rows(spec: EntitySpec, batch_id: int, frame, bad: dict[int, list[str]],
                     checked_at: datetime) -> Iterable[tuple]:
    records = frame.set_index("row_id", drop=False)
    id_col = spec.natural_key[0]
    for rid, names in sorted(bad.items()):
        # Staged columns hold no NIK or name: the row is safe to keep as it is.
        rec = {k: _json_value(v) for k, v in records.loc[rid].to_dict().items()}
        yield (batch_id, "" if rec.get(id_col) is None else str(rec[id_col]), ",".join(names), rec, checked_at)


def _quarantine(engine: sa.Engine, spec: EntitySpec, batch_id: int, frame, bad: dict[int, list[str]],
                checked_at: datetime) -> None:
    t = spec.staging
    with engine.begin() as conn:
        insert_rows(conn, quarantine, QUARANTINE_COLUMNS, _quarantine_rows(spec, batch_id, frame, bad, checked_at))
        ids = list(bad)
        for i in range(0, len(ids), 500):
            conn.execute(sa.update(t).where(t.c.batch_id == batch_id, t.c.row_id.in_(ids[i:i + 500]))
                         .values(lolos=False))


def _json_value(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def kesehatan_config() -> dict[str, Any]:
    cfg = load_yaml("kualitas.yaml").get("kesehatan")
    if not isinstance(cfg, dict):
        raise ConfigError("kualitas.yaml has no `kesehatan:` section (nik_valid_min_persen, batas_fisiologis)")
    return cfg


def observation_bounds(cfg: dict[str, Any] | None = None) -> dict[str, float]:
    """Suite parameters `loinc_<code>_min` / `_maks` (`29463-7` -> `loinc_29463_7_min`) from kualitas.yaml kesehatan.batas_fisiologis."""
    cfg = cfg if cfg is not None else kesehatan_config()
    bounds = cfg.get("batas_fisiologis")
    if not isinstance(bounds, dict) or not bounds:
        raise ConfigError("kualitas.yaml: kesehatan.batas_fisiologis (LOINC code -> {min, maks}) is missing")
    params: dict[str, float] = {}
    for code, b in bounds.items():
        try:
            lo, hi = float(b["min"]), float(b["maks"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"kualitas.yaml: kesehatan.batas_fisiologis.{code} needs numbers min and maks") from None
        if lo >= hi:
            raise ConfigError(f"kualitas.yaml: kesehatan.batas_fisiologis.{code}: min {lo} is not below maks {hi}")
        name = "loinc_" + str(code).replace("-", "_")  # GX parameter names are identifiers
        params[f"{name}_min"], params[f"{name}_maks"] = lo, hi
    return params


def _suite_parameters(suite: str) -> set[str]:
    from spm.quality.gx_runner import load_suite_file

    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if set(node) == {"$PARAMETER"}:
                found.add(node["$PARAMETER"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(load_suite_file(suite)["expectations"])
    return found


def validation_parameters(entity: str, w: Window) -> dict[str, Any]:
    import pandas as pd

    cfg = kesehatan_config()
    params: dict[str, Any] = {"dari": pd.Timestamp(w.dari).tz_convert("UTC"),
                              "sampai": pd.Timestamp(w.sampai).tz_convert("UTC")}
    if entity == "pasien":
        try:
            value = float(cfg["nik_valid_min_persen"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError("kualitas.yaml: kesehatan.nik_valid_min_persen (a percentage) is missing or not a "
                              "number") from None
        if not 0 <= value <= 100:
            raise ConfigError(f"kualitas.yaml: kesehatan.nik_valid_min_persen {value} is not between 0 and 100")
        params["nik_valid_min"] = value / 100.0
    if entity == "observasi":
        params.update(observation_bounds(cfg))
    needed = _suite_parameters(SPECS[entity].suite)
    missing = sorted(needed - set(params))
    if missing:
        raise ConfigError(f"expectations/{SPECS[entity].suite}.json needs parameter(s) {', '.join(missing)}: add "
                          "them to kualitas.yaml kesehatan.batas_fisiologis (LOINC code -> {min, maks})")
    unused = sorted(k for k in params if k not in needed and k not in ("dari", "sampai"))
    if unused:
        raise ConfigError(f"kualitas.yaml kesehatan: {', '.join(unused)} is not checked by expectations/"
                          f"{SPECS[entity].suite}.json (add an expectation for the code, or remove the bound)")
    return params


def validate_window(engine: sa.Engine, extracted: dict[str, Any]) -> dict[str, Any]:
    """Conclude the four batches, patients first: the verdict of a batch validated while it streamed,
    else its validation now. If one fails, the window fails whole (and the batches after it count as
    never validated: their quarantined rows are withdrawn)."""
    w = Window.of(extracted)
    out = {**extracted, "batches": dict(extracted["batches"])}
    ids = {entity: r["batch_id"] for entity, r in extracted["batches"].items()}
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(etl_batch.c.batch_id, etl_batch.c.status)
                                     .where(etl_batch.c.batch_id.in_(list(ids.values())))).all())
    stale = sorted(f"{e} batch {i} is {statuses.get(i)}" for e, i in ids.items() if statuses.get(i) != "running")
    if stale:
        raise InputError(f"{w.label()}: {'; '.join(stale)}, its staged rows are gone: run the window again")
    try:
        for entity, spec in SPECS.items():
            staged = out["batches"][entity]
            if staged["status"] != "staged":
                continue
            streamed = staged.get("validation")
            if streamed is not None:
                result = _conclude(engine, spec, staged["batch_id"], streamed)
            else:
                result = validate_batch(engine, spec, w, staged["batch_id"], validation_parameters(entity, w),
                                        dropped_before=staged.get("dropped", 0))
            out["batches"][entity] = {**result.as_dict(), "rows_received": staged["rows_received"]}
            if result.status != "validated":
                break
    except Exception as exc:
        _discard(engine, ids, f"{w.label()}: validation stopped: {type(exc).__name__}: {exc}")
        raise
    bad = next((e for e, r in out["batches"].items() if r["status"] in ("failed", "rejected")), None)
    if bad:
        message = f"{w.label()}: window not published: {bad} batch {out['batches'][bad]['status']}: " \
                  f"{out['batches'][bad]['message']}"
        unjudged = [r["batch_id"] for r in out["batches"].values() if r["status"] == "staged"]
        if unjudged:
            with engine.begin() as conn:
                conn.execute(sa.delete(quarantine).where(quarantine.c.batch_id.in_(unjudged)))
        _discard(engine, ids, message)
        out["message"] = message
        for entity, r in out["batches"].items():
            if r["status"] in ("staged", "validated"):
                out["batches"][entity] = {k: v for k, v in {**r, "status": "failed", "message": message}.items()
                                          if k not in ("validation", "dropped")}
    return out


def failed_message(result: dict[str, Any]) -> str | None:
    """One line naming what failed in a validated window, or None."""
    if result.get("message"):
        return f"{result['message']} (see `spm status`)"
    for entity, r in result["batches"].items():
        if r["status"] in ("failed", "rejected"):
            return f"{entity} {result['kode_kab_kota']} {result['periode']}: {r['message']} (batch {r['batch_id']}, " \
                   "see `spm status`)"
    return None


# --- publish ---------------------------------------------------------------------------------------

def publish_window(engine: sa.Engine, validated: dict[str, Any]) -> dict[str, Any]:
    """Merge the four validated batches into the published tables in one transaction."""
    w = Window.of(validated)
    problem = failed_message(validated)
    if problem:
        raise InputError(problem)
    out = {**validated, "batches": dict(validated["batches"])}
    ids = {e: r["batch_id"] for e, r in validated["batches"].items()}
    limit_days = rujukan.age_limit_days()
    with engine.begin() as conn:
        before = rujukan.affected(conn, w.kode_kab_kota, ids)
        for entity, spec in SPECS.items():
            r = validated["batches"][entity]
            batch = conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == r["batch_id"])).one()
            if batch.status != "running":
                raise InputError(f"{entity} {w.label()}: batch {batch.batch_id} is {batch.status}, not ready to "
                                 "publish; run the window again")
            unvalidated = conn.execute(sa.select(sa.func.count()).select_from(spec.staging).where(
                spec.staging.c.batch_id == batch.batch_id, spec.staging.c.lolos.is_(None))).scalar_one()
            if unvalidated:
                raise RuntimeError(f"batch {batch.batch_id} has {unvalidated} staged rows not yet validated")
            _, published = run_sql_file(conn, spec.publish_sql, {
                "batch_id": batch.batch_id, "kode_kab_kota": w.kode_kab_kota, "lolos": True})
            # The merge's INSERT wrote every row of this batch (the published ones it replaced were
            # deleted first); counting them back would scan the whole table.
            message = (batch.message + "; " if batch.message else "") + f"{published} new or newer rows merged" + (
                f"; {batch.rows_duplicate} older version(s) within the batch dropped" if batch.rows_duplicate else "")
            finish_batch(conn, batch.batch_id, "published", rows_published=published, message=message)
            out["batches"][entity] = {**r, "status": "published", "rows_published": published,
                                      "rows_duplicate": batch.rows_duplicate, "message": message}
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
