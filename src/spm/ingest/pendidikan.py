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

Modules: the partition, its entities and semester rules (spm.ingest.pendidikan_spec); row shaping
and pseudonymisation (spm.sources.dapodik_rows); the threaded learner fetch streamed into staging
(spm.ingest.pendidikan_stream); duplicate schools and persons (spm.ingest.pendidikan_dedup); the
suites' parameters and the partition's verdict (spm.ingest.pendidikan_validation). This module runs
the steps: extract, then (re-exported here) validate_partition, then the two publish steps.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from spm.errors import InputError
from spm.ingest.kependudukan import rows_checksum
from spm.ingest.pendidikan_dedup import dedup_schools, duplicate_count, record_duplicates  # noqa: F401
from spm.ingest.pendidikan_spec import (  # noqa: F401 - the partition's names, re-exported for callers and tests
    PESERTA_DIDIK, SEKOLAH, SOURCE, SPECS, Partition, default_semester, fail_both, partitions,
    previous_semester_id, semester_id_of, semester_start, tahun_laporan,
)
from spm.ingest.pendidikan_stream import FLUSH_ROWS, MAX_ROW_ID, ROWS_PER_SCHOOL, stream_learners  # noqa: F401
from spm.ingest.pendidikan_validation import (  # noqa: F401 - validate step and its parts, re-exported
    failed_message, known_desa, nik_valid_min, previous_learner_rows, validate_partition, validation_parameters,
)
from spm.ingest.wap import RowsChecksum  # noqa: F401 - used by tests as pdk.RowsChecksum
from spm.ingest.wap import publish, record_status, stage
from spm.privacy import pseudonym_secret
from spm.sources.dapodik import CONN_ID, DapodikClient
from spm.sources.dapodik_rows import (  # noqa: F401 - row shaping, re-exported for tests
    NPSN, Sekolah, identity, learner_row, parse_date, parse_last_update, school_row, umur_pada,
)
from spm.sources.http import SourceError, SourceNotFound
from spm.warehouse.tables import etl_batch
from spm.warehouse.status import BatchStatus

# The public names of the education ingest, wherever they live (callers and tests use this module).
__all__ = [
    "CONN_ID", "FLUSH_ROWS", "MAX_ROW_ID", "NPSN", "PESERTA_DIDIK", "ROWS_PER_SCHOOL", "SEKOLAH", "SOURCE", "SPECS",
    "Partition", "RowsChecksum", "Sekolah", "connect_client", "dedup_schools", "default_semester",
    "duplicate_count", "extract", "fail_both", "failed_message", "identity", "ingest", "known_desa",
    "learner_row", "nik_valid_min", "parse_date", "parse_last_update", "partitions", "previous_learner_rows",
    "previous_semester_id", "publish_peserta_didik", "publish_sekolah", "record_duplicates", "school_row",
    "semester_id_of", "semester_start", "stream_learners", "tahun_laporan", "umur_pada", "validate_partition",
    "validation_parameters",
]

# --- extract ---------------------------------------------------------------------------------------

def extract(engine: sa.Engine, partition: dict, run_id: str | None, client: DapodikClient,
            secret: bytes | None = None) -> dict[str, Any]:
    """Fetch and stage the schools and all their learners of one partition.

    Returns the partition with a `sekolah` and a `peserta_didik` outcome (BatchOutcome as dict).
    Raises (after recording the failure) when the source refuses the token, breaks the contract or
    cannot deliver a school's learner list.
    """
    p = Partition.from_dict(partition)
    secret = secret or pseudonym_secret()
    try:
        raw_schools = [r for page in client.sekolah_pages(p.kode_kab_kota, p.semester_id) for r in page]
    except SourceNotFound as exc:
        return _missing(engine, p, run_id, f"source has no {p.label()} yet; previous data kept ({exc})")
    except SourceError as exc:
        for spec in (SEKOLAH, PESERTA_DIDIK):
            record_status(engine, spec, p.kode_kab_kota, p.periode, run_id, BatchStatus.FAILED, f"getSekolah: {exc}")
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
               for i, r in enumerate(rows) if r["npsn"] and NPSN.match(r["npsn"])]
    if len(schools) * ROWS_PER_SCHOOL > MAX_ROW_ID:
        msg = f"{p.label()}: {len(schools)} schools exceed what one partition can hold ({MAX_ROW_ID // ROWS_PER_SCHOOL})"
        fail_both(engine, sekolah, None, msg)
        raise InputError(msg)
    try:
        peserta = stream_learners(engine, p, run_id, client, schools, secret)
    except Exception as exc:
        fail_both(engine, sekolah, None, f"learner lists incomplete, partition not published: {exc}")
        raise
    return {**p.to_dict(), "sekolah": {**sekolah.to_dict(), "rows_received": len(raw_schools)},
            "peserta_didik": peserta.to_dict()}


def _missing(engine: sa.Engine, p: Partition, run_id: str | None, msg: str) -> dict[str, Any]:
    out = {**p.to_dict()}
    for name, spec in SPECS.items():
        out[name] = record_status(engine, spec, p.kode_kab_kota, p.periode, run_id, BatchStatus.MISSING, msg).to_dict()
    return out


# --- publish ---------------------------------------------------------------------------------------

def _sql_params(p: Partition) -> dict[str, Any]:
    return {"kode_kab_kota": p.kode_kab_kota, "semester_id": p.semester_id,
            "tahun_laporan": tahun_laporan(p.semester_id)}


def publish_sekolah(engine: sa.Engine, validated: dict[str, Any]) -> dict[str, Any]:
    p = Partition.from_dict(validated)
    r = validated["sekolah"]
    if r["status"] != BatchStatus.VALIDATED:
        return {**p.to_dict(), "entity": "sekolah", "periode": p.periode, **r}
    out = publish(engine, SEKOLAH, r["batch_id"], _sql_params(p)).to_dict()
    return {**p.to_dict(), "entity": "sekolah", "periode": p.periode, **out, "rows_received": r["rows_received"]}


def publish_peserta_didik(engine: sa.Engine, validated: dict[str, Any]) -> dict[str, Any]:
    p = Partition.from_dict(validated)
    r = validated["peserta_didik"]
    if r["status"] != BatchStatus.VALIDATED:
        return {**p.to_dict(), "entity": "peserta_didik", "periode": p.periode, **r}
    batch_id = r["batch_id"]
    duplicates = record_duplicates(engine, batch_id)
    out = publish(engine, PESERTA_DIDIK, batch_id, _sql_params(p)).to_dict()
    return {**p.to_dict(), "entity": "peserta_didik", "periode": p.periode, **out, "rows_duplicate": duplicates}


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
