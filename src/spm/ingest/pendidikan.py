"""Education ingest (`spm_ingest_pendidikan`): Dapodik schools and learners of a kab/kota × semester.

Partition: kab/kota × `semester_id` (etl_batch periode `YYYYS`, DESIGN §10: tahun × 10 + semester),
two entities: `sekolah` → `dim_sekolah`, `peserta_didik` → `fact_peserta_didik`.

Extract. The schools of the kab/kota (getSekolah, paged) are staged first; then the learner lists of
all schools are fetched by a thread pool of `paralel` workers sharing one HTTP session (the limit
protects the source, so it lives in the `spm_dapodik` connection's extra). Workers pseudonymise each
page as it arrives and hand it over a bounded queue to the one writer, which appends it to
`staging_peserta_didik` in short transactions: memory stays bounded by a few pages whatever the size
of the kab/kota. One task holds the whole partition, so it is all-or-nothing: if the list of any
school cannot be fetched (after the client's bounded retries), the batch's staged rows are deleted,
both batches fail with the NPSN(s) named, and nothing is published. A partition whose content
(checksum) equals the published one is recorded `unchanged` and not republished.

Pseudonymisation (DESIGN §4). NIK, NISN, names and the full birth date never reach the warehouse:
`person_key` = HMAC-SHA256 of the NIK when it is valid (16 digits agreeing with the birth date and
sex, `spm.privacy.nik_valid`); else of the NISN (namespace `nisn`); else of the Dapodik
`peserta_didik_id` (namespace `pd`). `jenis_id` says which, `nik_valid` keeps NIK quality
measurable per school and batch. Only birth year and month are kept, and the age at the semester
start (for validation).

Deduplication. A person may be listed by two schools in one semester (transfer: `mutasi` at the old
school, `aktif` at the new; or last year's `lulus` row beside this year's `aktif`). The fact keeps
one row per person_key and kab/kota × semester, chosen by, in order:
  1. status: `aktif` before `mutasi` before `lulus` before `keluar`;
  2. the latest `last_update` (a row without one last);
  3. the lowest `npsn`;
  4. the first listed row.
Merged listings are counted in `etl_batch.rows_duplicate` (received = published + quarantined +
duplicates). A person keyed by NIK at one school and by NISN at another (NIK missing there) is not
recognised as the same person; `nik_valid` per school shows where that can happen.

Age and residence (DESIGN §5). A semester serves one SPM year: semester Y1 (from July Y) quarters
3–4 of Y, semester Y2 (from January Y+1) quarters 1–2 of Y+1; that year is `tahun_laporan` and the
age is taken on 31 December of the year before: `umur_referensi = tahun_laporan − 1 − tahun_lahir`
(exact on 31 December). Residence `kode_desa_tinggal` = `kode_wilayah_domisili`, else the school's desa.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError, InputError
from spm.ingest.kependudukan import desa_codes, rows_checksum
from spm.ingest.wap import RowsChecksum  # noqa: F401 - used below and by tests as pdk.RowsChecksum
from spm.ingest.wap import BatchOutcome, EntitySpec, fail, publish, record_status, stage, validate
from spm.privacy import nik_valid, person_key, pseudonym_secret
from spm.sources.dapodik import CONN_ID, DapodikClient
from spm.sources.http import SourceAuthError, SourceError, SourceNotFound, SourceUnavailable
from spm.warehouse.audit import WIB, finish_batch, last_published_checksum, start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.tables import (
    dim_sekolah, dim_wilayah, etl_batch, fact_peserta_didik, staging_peserta_didik, staging_sekolah,
)

log = logging.getLogger(__name__)
SOURCE = "dapodik"

SEKOLAH = EntitySpec(
    source=SOURCE, entity="sekolah", staging=staging_sekolah,
    columns=("sekolah_id", "npsn", "nama", "bentuk_pendidikan", "status_sekolah", "kode_wilayah", "last_update"),
    suite="dapodik_sekolah", publish_sql="core/dim_sekolah_publish.sql",
    natural_key=("npsn",), fact=dim_sekolah,
)
PESERTA_DIDIK = EntitySpec(
    source=SOURCE, entity="peserta_didik", staging=staging_peserta_didik,
    columns=("person_key", "jenis_id", "nik_valid", "npsn", "bentuk_pendidikan", "kode_wilayah_sekolah",
             "jenis_kelamin", "tahun_lahir", "bulan_lahir", "umur_awal_semester", "tingkat_pendidikan_id",
             "program_kesetaraan", "kode_wilayah_domisili", "status", "last_update"),
    suite="dapodik_peserta_didik", publish_sql="core/fact_peserta_didik_publish.sql",
    natural_key=("npsn", "person_key"), fact=fact_peserta_didik,
)
SPECS = {"sekolah": SEKOLAH, "peserta_didik": PESERTA_DIDIK}

# Learner row ids are school position × this + position in the school's list: the same source gives
# the same ids whatever order the threads finish in (the dedup's last tie-break uses them).
ROWS_PER_SCHOOL = 50_000
MAX_ROW_ID = 2**31 - 1
FLUSH_ROWS = 20_000  # learner rows written to staging per transaction
_NPSN = re.compile(r"^\d{8}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- periods ---------------------------------------------------------------------------------------

def semester_id_of(tahun: int, semester: int) -> int:
    if semester not in (1, 2):
        raise ConfigError(f"semester must be 1 (ganjil) or 2 (genap), not {semester!r}")
    if not 2000 <= int(tahun) <= 2100:
        raise ConfigError(f"tahun {tahun!r} is not a plausible school year (first calendar year, e.g. 2025)")
    return int(tahun) * 10 + semester


def default_semester(run_date: date) -> tuple[int, int]:
    """The latest Dapodik semester started on or before the run date: Y1 from 1 July Y, Y2 from 1 January Y+1."""
    return (run_date.year, 1) if run_date.month >= 7 else (run_date.year - 1, 2)


def semester_start(semester_id: int) -> date:
    tahun, semester = divmod(semester_id, 10)
    return date(tahun, 7, 1) if semester == 1 else date(tahun + 1, 1, 1)


def tahun_laporan(semester_id: int) -> int:
    """The SPM year whose quarters use this semester (DESIGN §5: Q1–Q2 of Y use (Y−1)2, Q3–Q4 use Y1)."""
    tahun, semester = divmod(semester_id, 10)
    return tahun if semester == 1 else tahun + 1


@dataclass(frozen=True)
class Partition:
    kode_kab_kota: str
    semester_id: int

    @property
    def periode(self) -> str:
        return str(self.semester_id)

    def as_dict(self) -> dict[str, Any]:
        return {"kode_kab_kota": self.kode_kab_kota, "semester_id": self.semester_id}

    def label(self) -> str:
        return f"{self.kode_kab_kota} semester {self.semester_id}"


def partitions(kode_wilayah: list[str], tahun: int, semester: int) -> list[dict[str, Any]]:
    sid = semester_id_of(tahun, semester)
    out = []
    for kode in kode_wilayah:
        parts = str(kode).split(".")
        if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
            raise ConfigError(f"{kode!r} is not a kabupaten/kota code (PP.KK, e.g. 32.71)")
        out.append(Partition(kode, sid).as_dict())
    return out


# --- row shaping -----------------------------------------------------------------------------------

def _text(value: Any) -> str | None:
    """A source value as staged text, whole (staging columns of received text are TEXT): blank is
    NULL; a value longer than its published column is the suite's to reject, by name."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def parse_date(value: Any) -> date | None:
    """A `YYYY-MM-DD` that is a real calendar date, else None."""
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_last_update(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=WIB) if moment.tzinfo is None else moment


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        return int(value.strip())
    return None


def umur_pada(lahir: date, pada: date) -> int:
    """Full years of age on a date."""
    return pada.year - lahir.year - ((pada.month, pada.day) < (lahir.month, lahir.day))


@dataclass(frozen=True)
class Sekolah:
    """What a learner row needs of its school (and the row id base of its list)."""
    npsn: str
    bentuk_pendidikan: str | None
    kode_wilayah: str | None
    posisi: int  # 0-based position in the school listing


def identity(raw: dict, secret: bytes, lahir: date | None = None) -> tuple[str | None, str | None, bool]:
    """(person_key, jenis_id, nik_valid) of a learner row: NIK if valid, else NISN, else peserta_didik_id."""
    lahir = lahir or parse_date(raw.get("tanggal_lahir"))
    jk = raw.get("jenis_kelamin")
    female = True if jk == "P" else False if jk == "L" else None
    nik = raw.get("nik")
    nik = nik.strip() if isinstance(nik, str) else None
    valid = nik_valid(nik, lahir, female)
    if valid:
        return person_key(secret, nik), "nik", True
    nisn = raw.get("nisn")
    nisn = nisn.strip() if isinstance(nisn, str) else None
    if nisn and re.fullmatch(r"\d{10}", nisn):
        return person_key(secret, nisn, "nisn"), "nisn", False
    pd_id = raw.get("peserta_didik_id")
    pd_id = pd_id.strip() if isinstance(pd_id, str) else None
    if pd_id:
        return person_key(secret, pd_id, "pd"), "pd", False
    return None, None, False


def learner_row(raw: dict, sekolah: Sekolah, secret: bytes, start: date) -> tuple:
    """One staged learner row (PESERTA_DIDIK.columns order), pseudonymised: nothing identifying is kept."""
    lahir = parse_date(raw.get("tanggal_lahir"))
    key, jenis_id, valid = identity(raw, secret, lahir)
    return (
        key, jenis_id, valid, sekolah.npsn, sekolah.bentuk_pendidikan, sekolah.kode_wilayah,
        _text(raw.get("jenis_kelamin")),
        lahir.year if lahir else None,
        lahir.month if lahir else None,
        umur_pada(lahir, start) if lahir else None,
        _int(raw.get("tingkat_pendidikan_id")),
        _text(raw.get("program_kesetaraan")),
        _text(raw.get("kode_wilayah_domisili")),
        _text(raw.get("status")),
        parse_last_update(raw.get("last_update")),
    )


def school_row(raw: dict, row_id: int) -> dict:
    return {
        "row_id": row_id,
        "sekolah_id": _text(raw.get("sekolah_id")),
        "npsn": _text(raw.get("npsn")),
        "nama": _text(raw.get("nama")),
        "bentuk_pendidikan": _text(raw.get("bentuk_pendidikan")),
        "status_sekolah": _text(raw.get("status_sekolah")),
        "kode_wilayah": _text(raw.get("kode_wilayah")),
        "last_update": parse_last_update(raw.get("last_update")),
    }


def dedup_schools(rows: list[dict]) -> tuple[list[dict], int]:
    """One row per npsn (a listing page asked twice may repeat schools): the latest last_update,
    then the first listed. Rows without npsn stay (the suite quarantines them)."""
    best: dict[str, dict] = {}
    kept: list[dict] = []
    for row in rows:
        npsn = row["npsn"]
        if npsn is None:
            kept.append(row)
            continue
        other = best.get(npsn)
        if other is None or (row["last_update"] or datetime.min.replace(tzinfo=WIB)) > (
                other["last_update"] or datetime.min.replace(tzinfo=WIB)):
            best[npsn] = row
    kept += best.values()
    kept.sort(key=lambda r: r["row_id"])
    return kept, len(rows) - len(kept)


# --- extract ---------------------------------------------------------------------------------------

def extract(engine: sa.Engine, partition: dict, run_id: str | None, client: DapodikClient,
            secret: bytes | None = None) -> dict[str, Any]:
    """Fetch and stage the schools and all their learners of one partition.

    Returns the partition with a `sekolah` and a `peserta_didik` outcome (BatchOutcome as dict).
    Raises (after recording the failure) when the source refuses the token, breaks the contract or
    cannot deliver a school's learner list.
    """
    p = Partition(partition["kode_kab_kota"], int(partition["semester_id"]))
    secret = secret or pseudonym_secret()
    try:
        raw_schools = [r for page in client.sekolah_pages(p.kode_kab_kota, p.semester_id) for r in page]
    except SourceNotFound as exc:
        return _missing(engine, p, run_id, f"source has no {p.label()} yet; previous data kept ({exc})")
    except SourceError as exc:
        for spec in (SEKOLAH, PESERTA_DIDIK):
            record_status(engine, spec, p.kode_kab_kota, p.periode, run_id, "failed", f"getSekolah: {exc}")
        raise
    if not raw_schools:
        return _missing(engine, p, run_id, f"source lists no school for {p.label()} (not synchronised yet?); "
                                           "previous data kept")
    rows, duplicates = dedup_schools([school_row(r, i) for i, r in enumerate(raw_schools, start=1)])
    sekolah = stage(engine, SEKOLAH, p.kode_kab_kota, p.periode, rows, rows_checksum(rows, SEKOLAH.columns), run_id)
    with engine.begin() as conn:
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == sekolah.batch_id)
                     .values(rows_received=len(raw_schools), rows_duplicate=duplicates))
    schools = [Sekolah(r["npsn"], r["bentuk_pendidikan"], r["kode_wilayah"], i)
               for i, r in enumerate(rows) if r["npsn"] and _NPSN.match(r["npsn"])]
    if len(schools) * ROWS_PER_SCHOOL > MAX_ROW_ID:
        msg = f"{p.label()}: {len(schools)} schools exceed what one partition can hold ({MAX_ROW_ID // ROWS_PER_SCHOOL})"
        _fail_both(engine, sekolah, None, msg)
        raise InputError(msg)
    try:
        peserta = stream_learners(engine, p, run_id, client, schools, secret)
    except Exception as exc:
        _fail_both(engine, sekolah, None, f"learner lists incomplete, partition not published: {exc}")
        raise
    return {**p.as_dict(), "sekolah": {**sekolah.as_dict(), "rows_received": len(raw_schools)},
            "peserta_didik": peserta.as_dict()}


def _missing(engine: sa.Engine, p: Partition, run_id: str | None, msg: str) -> dict[str, Any]:
    out = {**p.as_dict()}
    for name, spec in SPECS.items():
        out[name] = record_status(engine, spec, p.kode_kab_kota, p.periode, run_id, "missing", msg).as_dict()
    return out


def _fail_both(engine: sa.Engine, sekolah: BatchOutcome | dict | None, peserta: BatchOutcome | dict | None,
               message: str) -> None:
    """Close whichever of the partition's two batches is still running as failed."""
    ids = [o["batch_id"] if isinstance(o, dict) else o.batch_id for o in (sekolah, peserta) if o is not None]
    with engine.begin() as conn:
        for batch_id in ids:
            status = conn.execute(sa.select(etl_batch.c.status).where(etl_batch.c.batch_id == batch_id)).scalar_one()
            if status == "running":
                finish_batch(conn, batch_id, "failed", message=message)


class _Cancelled(Exception):
    pass


def stream_learners(engine: sa.Engine, p: Partition, run_id: str | None, client: DapodikClient,
                    schools: list[Sekolah], secret: bytes) -> BatchOutcome:
    """Fetch every school's learner list with `client.paralel` threads and stream it into staging."""
    with engine.begin() as conn:
        batch_id = start_batch(conn, SOURCE, PESERTA_DIDIK.entity, p.kode_kab_kota, p.periode, run_id)
    start = semester_start(p.semester_id)
    pages: queue.Queue = queue.Queue(maxsize=2 * client.paralel)  # bounds memory: a few pages in flight
    cancel = threading.Event()

    def fetch(school: Sekolah) -> None:
        try:
            if cancel.is_set():
                raise _Cancelled()
            base, n = school.posisi * ROWS_PER_SCHOOL, 0
            for page in client.peserta_didik_pages(school.npsn, p.semester_id):
                if cancel.is_set():
                    raise _Cancelled()
                out = []
                for raw in page:
                    n += 1
                    if n >= ROWS_PER_SCHOOL:
                        raise InputError(f"npsn {school.npsn} lists more than {ROWS_PER_SCHOOL - 1} learners")
                    out.append((base + n, learner_row(raw, school, secret, start)))
                pages.put(("rows", school.npsn, out))
            pages.put(("done", school.npsn, n))
        except _Cancelled:
            pages.put(("cancelled", school.npsn, None))
        except Exception as exc:  # noqa: BLE001 - handed to the writer, which fails the partition
            pages.put(("failed", school.npsn, exc))

    checksum = RowsChecksum()
    failures: dict[str, Exception] = {}
    received = 0
    buffer: list[tuple] = []
    prefix = (batch_id, p.kode_kab_kota, p.periode)
    cols = ("batch_id", "kode_kab_kota", "periode", "row_id", *PESERTA_DIDIK.columns)

    def flush() -> None:
        with engine.begin() as conn:
            insert_rows(conn, staging_peserta_didik, cols, buffer)
        buffer.clear()

    pool = ThreadPoolExecutor(max_workers=client.paralel, thread_name_prefix="dapodik")
    pending = len(schools)
    futures = []
    try:
        futures = [pool.submit(fetch, school) for school in schools]
        while pending:
            kind, npsn, payload = pages.get()
            if kind == "rows":
                if failures:
                    continue  # the partition is lost: drop, keep draining so workers finish
                for row_id, row in payload:
                    checksum.add(row)
                    buffer.append((*prefix, row_id, *row))
                received += len(payload)
                if len(buffer) >= FLUSH_ROWS:
                    flush()
                continue
            pending -= 1
            if kind == "failed":
                failures[npsn] = payload
                cancel.set()
        if not failures and buffer:
            flush()
    except BaseException as exc:
        cancel.set()
        _drain(pages, pool, futures)
        _discard(engine, batch_id, f"{PESERTA_DIDIK.entity} {p.label()}: load interrupted, nothing published "
                                   f"({type(exc).__name__}: {exc})")
        raise
    pool.shutdown(wait=True)
    if failures:
        message = _failure_message(p, failures, len(schools))
        _discard(engine, batch_id, message)
        first = next(iter(failures.values()))
        if isinstance(first, SourceAuthError):
            raise SourceAuthError(message) from first
        if isinstance(first, (InputError, SourceError)) and not isinstance(first, SourceUnavailable):
            raise InputError(message) from first
        raise SourceUnavailable(message) from first
    return _close_learner_stage(engine, p, batch_id, received, checksum.hexdigest())


def _drain(pages: queue.Queue, pool: ThreadPoolExecutor, futures: list) -> None:
    """Let blocked workers finish after the writer stopped (they check the cancel flag per page)."""
    pool.shutdown(wait=False, cancel_futures=True)
    while not all(f.done() for f in futures):
        try:
            pages.get(timeout=0.1)
        except queue.Empty:
            pass


def _failure_message(p: Partition, failures: dict[str, Exception], n_schools: int) -> str:
    shown = "; ".join(f"npsn {npsn}: {exc}" for npsn, exc in sorted(failures.items())[:10])
    more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
    return (f"{PESERTA_DIDIK.entity} {p.label()}: the learner list of {len(failures)} of {n_schools} school(s) "
            f"could not be fetched, nothing published: {shown}{more}")


def _discard(engine: sa.Engine, batch_id: int, message: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(staging_peserta_didik).where(staging_peserta_didik.c.batch_id == batch_id))
    fail(engine, batch_id, message)
    log.error("batch %s failed: %s", batch_id, message)


def _close_learner_stage(engine: sa.Engine, p: Partition, batch_id: int, received: int,
                         checksum: str) -> BatchOutcome:
    """Like wap.stage's end: unchanged source → drop this batch's rows; else they replace the partition's."""
    t = staging_peserta_didik
    with engine.begin() as conn:
        published = last_published_checksum(conn, SOURCE, PESERTA_DIDIK.entity, p.kode_kab_kota, p.periode)
        if published == checksum:
            conn.execute(sa.delete(t).where(t.c.batch_id == batch_id))
            msg = "source unchanged since the published batch (same checksum); nothing republished"
            finish_batch(conn, batch_id, "unchanged", checksum=checksum, rows_received=received, message=msg)
            return BatchOutcome(batch_id, "unchanged", msg, received)
        conn.execute(sa.delete(t).where(t.c.kode_kab_kota == p.kode_kab_kota, t.c.periode == p.periode,
                                        t.c.batch_id != batch_id))
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id)
                     .values(checksum=checksum, rows_received=received))
    return BatchOutcome(batch_id, "staged", rows_received=received)


# --- validate --------------------------------------------------------------------------------------

def nik_valid_min() -> float:
    return _percent("nik_valid_min_persen", 100) / 100.0


def known_desa(engine: sa.Engine, batch_id: int) -> list[str]:
    """The current desa codes (anywhere in the country: a learner may live in another kab/kota) among
    the batch's domisili codes. Equivalent to checking against all ~84,000 codes, at a fraction of
    the cost of handing GX a value set that large."""
    t, w = staging_peserta_didik, dim_wilayah
    used = sa.select(t.c.kode_wilayah_domisili).where(t.c.batch_id == batch_id).distinct().subquery()
    with engine.connect() as conn:
        return list(conn.execute(
            sa.select(w.c.kode).join(used, used.c.kode_wilayah_domisili == w.c.kode)
            .where(w.c.tingkat == "desa_kelurahan", w.c.berlaku_sampai.is_(None)).order_by(w.c.kode)).scalars())


def validation_parameters(engine: sa.Engine, p: Partition, entity: str, batch_id: int) -> dict[str, Any]:
    params: dict[str, Any] = {"desa_kab_kota": desa_codes(engine, p.kode_kab_kota)}
    if entity == "peserta_didik":
        # GX refuses an empty value set; the kab/kota's desa are as good when no used code is known.
        params["desa_dikenal"] = known_desa(engine, batch_id) or params["desa_kab_kota"]
        params["nik_valid_min"] = nik_valid_min()
        previous = previous_learner_rows(engine, p)
        tolerance = _percent("toleransi_jumlah_semester_persen") / 100.0
        params["jumlah_min"], params["jumlah_max"] = (0, 10**12) if previous is None else (
            int(previous * (1 - tolerance)), int(previous * (1 + tolerance)) + 1)
    return params


def _percent(key: str, high: float = 1000) -> float:
    cfg = load_yaml("kualitas.yaml").get("pendidikan") or {}
    try:
        value = float(cfg[key])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"kualitas.yaml: pendidikan.{key} (a percentage) is missing or not a number") from None
    if not 0 <= value <= high:
        raise ConfigError(f"kualitas.yaml: pendidikan.{key} {value} is not between 0 and {high:g}")
    return value


def previous_semester_id(semester_id: int) -> int:
    """20241 (2024/2025 ganjil) follows 20232 (2023/2024 genap), which follows 20231."""
    year, half = divmod(semester_id, 10)
    return (year - 1) * 10 + 2 if half == 1 else year * 10 + 1


def previous_learner_rows(engine: sa.Engine, p: Partition) -> int | None:
    """Learner rows received for the kab/kota's previous semester, as published, or None."""
    with engine.connect() as conn:
        return conn.execute(sa.select(etl_batch.c.rows_received).where(
            etl_batch.c.source == SOURCE, etl_batch.c.entity == PESERTA_DIDIK.entity,
            etl_batch.c.kode_wilayah == p.kode_kab_kota, etl_batch.c.periode == str(previous_semester_id(p.semester_id)),
            etl_batch.c.status.in_(("published", "unchanged"))).order_by(etl_batch.c.batch_id.desc()).limit(1)
        ).scalar_one_or_none()


def _quarantine_row(rec: dict) -> dict:
    # Staging holds no NIK, NISN or name; this drops anything such a column could ever add.
    return {k: v for k, v in rec.items() if k not in ("nik", "nisn", "nama", "tanggal_lahir", "peserta_didik_id")}


def validate_partition(engine: sa.Engine, extracted: dict[str, Any]) -> dict[str, Any]:
    """Run both suites; when either batch fails, the other is failed too (the partition is one unit)."""
    p = Partition(extracted["kode_kab_kota"], int(extracted["semester_id"]))
    out = dict(extracted)
    for name, spec in SPECS.items():
        staged = extracted[name]
        if staged["status"] != "staged":
            continue
        try:
            params = validation_parameters(engine, p, name, staged["batch_id"])
        except ConfigError as exc:
            _fail_both(engine, extracted["sekolah"], extracted["peserta_didik"], str(exc))
            raise
        result = validate(engine, spec, staged["batch_id"], params,
                          row_data=_quarantine_row if name == "peserta_didik" else None)
        out[name] = {**result.as_dict(), "rows_received": staged["rows_received"]}
    bad = [name for name in SPECS if out[name]["status"] in ("failed", "rejected")]
    if bad:
        _fail_both(engine, out["sekolah"], out["peserta_didik"],
                   f"partition not published: {bad[0]} batch {out[bad[0]]['status']}: {out[bad[0]]['message']}")
        for name in SPECS:
            if out[name]["status"] == "validated":
                out[name] = {**out[name], "status": "failed"}
    return out


def failed_message(result: dict[str, Any]) -> str | None:
    """One line naming what failed in a validated partition, or None."""
    for name in SPECS:
        r = result[name]
        if r["status"] in ("failed", "rejected") and r.get("message"):
            return (f"{name} {result['kode_kab_kota']} semester {result['semester_id']}: {r['message']} "
                    f"(batch {r['batch_id']}, see `spm status`)")
    return None


# --- publish ---------------------------------------------------------------------------------------

def _sql_params(p: Partition) -> dict[str, Any]:
    return {"kode_kab_kota": p.kode_kab_kota, "semester_id": p.semester_id,
            "tahun_laporan": tahun_laporan(p.semester_id)}


def publish_sekolah(engine: sa.Engine, validated: dict[str, Any]) -> dict[str, Any]:
    p = Partition(validated["kode_kab_kota"], int(validated["semester_id"]))
    r = validated["sekolah"]
    if r["status"] != "validated":
        return {**p.as_dict(), "entity": "sekolah", "periode": p.periode, **r}
    out = publish(engine, SEKOLAH, r["batch_id"], _sql_params(p)).as_dict()
    return {**p.as_dict(), "entity": "sekolah", "periode": p.periode, **out, "rows_received": r["rows_received"]}


def duplicate_count(conn: sa.Connection, batch_id: int) -> int:
    """Passing learner rows that the publish merges into another row of the same person."""
    t = staging_peserta_didik
    passing = sa.and_(t.c.batch_id == batch_id, t.c.lolos.is_(True))
    rows = conn.execute(sa.select(sa.func.count()).select_from(t).where(passing)).scalar_one()
    persons = conn.execute(sa.select(sa.func.count(sa.distinct(t.c.person_key))).where(passing)).scalar_one()
    return rows - persons


def publish_peserta_didik(engine: sa.Engine, validated: dict[str, Any]) -> dict[str, Any]:
    p = Partition(validated["kode_kab_kota"], int(validated["semester_id"]))
    r = validated["peserta_didik"]
    if r["status"] != "validated":
        return {**p.as_dict(), "entity": "peserta_didik", "periode": p.periode, **r}
    batch_id = r["batch_id"]
    with engine.begin() as conn:
        duplicates = duplicate_count(conn, batch_id)
        message = conn.execute(sa.select(etl_batch.c.message).where(etl_batch.c.batch_id == batch_id)).scalar_one()
        if duplicates:
            message = (message + "; " if message else "") + f"{duplicates} duplicate listing(s) merged"
        conn.execute(sa.update(etl_batch).where(etl_batch.c.batch_id == batch_id)
                     .values(rows_duplicate=duplicates, message=message))
    out = publish(engine, PESERTA_DIDIK, batch_id, _sql_params(p)).as_dict()
    return {**p.as_dict(), "entity": "peserta_didik", "periode": p.periode, **out, "rows_duplicate": duplicates}


def ingest(engine: sa.Engine, partition: dict, run_id: str | None, client: DapodikClient,
           secret: bytes | None = None) -> dict[str, Any]:
    """Extract, validate and publish one partition in a row (benchmarks, CLI); the DAG runs the steps as tasks."""
    validated = validate_partition(engine, extract(engine, partition, run_id, client, secret))
    problem = failed_message(validated)
    if problem:
        raise InputError(problem)
    return {"sekolah": publish_sekolah(engine, validated), "peserta_didik": publish_peserta_didik(engine, validated)}


def connect_client(**kwargs) -> DapodikClient:
    from spm.sources.connections import get_connection

    return DapodikClient(get_connection(CONN_ID), **kwargs)
