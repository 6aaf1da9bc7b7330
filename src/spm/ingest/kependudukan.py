"""Population ingest (`spm_ingest_kependudukan`): Dukcapil aggregates from the API and the file inbox.

Two entities per kab/kota: `penduduk` (semester × desa × sex × age, partition periode `YYYY-S`)
and `kelahiran` (year × month × desa × sex, partition periode `YYYY`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError, InputError
from spm.ingest.inbox import take_inbox
from spm.ingest.wap import (
    EntitySpec, RowsChecksum, publish, quarantine_limit_percent, record_status, settled_on_error, stage, validate,
)
from spm.sources.dukcapil import CONN_ID, DukcapilClient, ParsedTable, parse_table
from spm.sources.http import SourceAuthError, SourceNotFound
from spm.warehouse.audit import WIB, now
from spm.warehouse.tables import (
    dim_wilayah, fact_kelahiran, fact_penduduk, staging_kelahiran, staging_penduduk,
)
from spm.warehouse.status import BatchStatus

log = logging.getLogger(__name__)
SOURCE = "dukcapil"

PENDUDUK = EntitySpec(
    source=SOURCE, entity="penduduk", staging=staging_penduduk,
    columns=("semester", "kode_desa", "jenis_kelamin", "umur", "jumlah"),
    suite="dukcapil_penduduk", publish_sql="core/fact_penduduk_publish.sql",
    natural_key=("semester", "kode_desa", "jenis_kelamin", "umur"), fact=fact_penduduk,
)
KELAHIRAN = EntitySpec(
    source=SOURCE, entity="kelahiran", staging=staging_kelahiran,
    columns=("tahun", "bulan", "kode_desa", "jenis_kelamin", "jumlah"),
    suite="dukcapil_kelahiran", publish_sql="core/fact_kelahiran_publish.sql",
    natural_key=("tahun", "bulan", "kode_desa", "jenis_kelamin"), fact=fact_kelahiran,
)
SPECS = {"penduduk": PENDUDUK, "kelahiran": KELAHIRAN}
PERIODE_PENDUDUK = re.compile(r"\d{4}-[12]")  # DKB semester: 1 = state at 30 June, 2 = at 31 December
TAHUN_MIN, TAHUN_MAX = 2000, 2100


@dataclass(frozen=True)
class Partition:
    entity: str
    kode_kab_kota: str
    periode: str  # penduduk: YYYY-S; kelahiran: YYYY

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Partition":
        """The partition of a task's hand-over (which may carry the step's outcome beside it)."""
        return cls(d["entity"], d["kode_kab_kota"], d["periode"])

    @property
    def spec(self) -> EntitySpec:
        return SPECS[self.entity]

    def label(self) -> str:
        return f"{self.entity} {self.kode_kab_kota} {self.periode}"


def default_semester(run_date: date) -> tuple[int, int]:
    """The latest semester that has ended before the run date (DKB: 30 June and 31 December)."""
    return (run_date.year, 1) if run_date.month >= 7 else (run_date.year - 1, 2)


def partitions(kode_wilayah: list[str], tahun: int, semester: int) -> list[dict[str, str]]:
    """Population of `tahun-semester` and births of `tahun`, for every kab/kota."""
    if semester not in (1, 2):
        raise ConfigError(f"semester must be 1 or 2, not {semester!r}")
    out = []
    for kode in kode_wilayah:
        _check_kab_kota(kode)
        out.append(Partition("penduduk", kode, f"{tahun}-{semester}").to_dict())
        out.append(Partition("kelahiran", kode, str(tahun)).to_dict())
    return out


def _check_kab_kota(kode: str) -> None:
    parts = kode.split(".")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ConfigError(f"{kode!r} is not a kabupaten/kota code (PP.KK, e.g. 32.71)")


def rows_checksum(rows: Iterable[dict], columns: tuple[str, ...]) -> str:
    """Checksum of the content, independent of row order and file format (CSV or XLSX), in one pass
    holding nothing (a multiset hash of the rows)."""
    checksum = RowsChecksum()
    for r in rows:
        checksum.add_bytes(json.dumps([r[c] for c in columns], default=str).encode())
    return checksum.hexdigest()


# --- extract -------------------------------------------------------------------------------------

def extract_api(engine: sa.Engine, partition: dict, run_id: str | None, client: DukcapilClient) -> dict[str, Any]:
    """Fetch one partition from the API and stage it. A semester the source does not have yet is
    recorded as `missing` and the published data stay as they are."""
    p = Partition.from_dict(partition)
    try:
        if p.entity == "penduduk":
            tahun, semester = (int(x) for x in p.periode.split("-"))
            content = client.penduduk_csv(p.kode_kab_kota, tahun, semester)
        else:
            content = client.kelahiran_csv(p.kode_kab_kota, int(p.periode))
    except SourceNotFound as exc:
        msg = f"source has no {p.label()} yet; previous data kept ({exc})"
        return {**p.to_dict(), **record_status(engine, p.spec, p.kode_kab_kota, p.periode, run_id, BatchStatus.MISSING, msg).to_dict()}
    except SourceAuthError as exc:
        record_status(engine, p.spec, p.kode_kab_kota, p.periode, run_id, BatchStatus.FAILED, str(exc))
        raise
    try:
        parsed = parse_table(content, f"{CONN_ID} {p.label()}", expected_entity=p.entity, file_format="csv")
    except InputError as exc:
        record_status(engine, p.spec, p.kode_kab_kota, p.periode, run_id, BatchStatus.FAILED, str(exc))
        raise
    outcome = stage(engine, p.spec, p.kode_kab_kota, p.periode, parsed.rows,
                    rows_checksum(parsed.rows, p.spec.columns), run_id)
    return {**p.to_dict(), **outcome.to_dict()}


# --- validate and publish ------------------------------------------------------------------------

def desa_codes(engine: sa.Engine, kode_kab_kota: str) -> list[str]:
    with engine.connect() as conn:
        codes = list(conn.execute(
            sa.select(dim_wilayah.c.kode).where(
                dim_wilayah.c.tingkat == "desa_kelurahan", dim_wilayah.c.berlaku_sampai.is_(None),
                dim_wilayah.c.kode.like(f"{kode_kab_kota}.%"),
            )).scalars())
    if not codes:
        raise ConfigError(f"dim_wilayah has no desa of {kode_kab_kota}: run `spm wilayah load` (or DAG spm_muat_wilayah)")
    return codes


def _previous_total(engine: sa.Engine, p: Partition) -> int | None:
    with engine.connect() as conn:
        if p.entity == "penduduk":
            tahun, semester = (int(x) for x in p.periode.split("-"))
            prev = (tahun, 1) if semester == 2 else (tahun - 1, 2)
            q = sa.select(sa.func.sum(fact_penduduk.c.jumlah)).where(
                fact_penduduk.c.kode_kab_kota == p.kode_kab_kota,
                fact_penduduk.c.tahun == prev[0], fact_penduduk.c.semester == prev[1])
        else:
            q = sa.select(sa.func.sum(fact_kelahiran.c.jumlah)).where(
                fact_kelahiran.c.kode_kab_kota == p.kode_kab_kota, fact_kelahiran.c.tahun == int(p.periode) - 1)
        total = conn.execute(q).scalar_one()
    return None if total is None else int(total)


def validation_parameters(engine: sa.Engine, p: Partition) -> dict[str, Any]:
    cfg = load_yaml("kualitas.yaml")["kependudukan"]
    tolerance = float(cfg["toleransi_total_semester_persen" if p.entity == "penduduk"
                          else "toleransi_kelahiran_tahunan_persen"]) / 100.0
    previous = _previous_total(engine, p)
    bounds = (0, 10**12) if previous is None else (previous * (1 - tolerance), previous * (1 + tolerance))
    params: dict[str, Any] = {"desa_kab_kota": desa_codes(engine, p.kode_kab_kota),
                              "total_min": bounds[0], "total_max": bounds[1]}
    if p.entity == "penduduk":
        params["semester_set"] = [p.periode]
        official = official_total(p.kode_kab_kota) * _number(cfg, "skala_total_resmi", 1e-6, 1)
        params["total_resmi_min"], params["total_resmi_max"] = _band(official, _number(cfg, "toleransi_total_resmi_persen"))
    else:
        params["tahun_set"] = [int(p.periode)]
        aged_0 = _aged_0(engine, p.kode_kab_kota, int(p.periode))
        params["umur_0_min"], params["umur_0_max"] = (0, 10**12) if aged_0 is None else \
            _band(aged_0, _number(cfg, "toleransi_kelahiran_umur_0_persen"))
    return params


def _number(cfg: dict[str, Any], key: str, low: float = 0, high: float = 1000) -> float:
    try:
        value = float(cfg[key])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"kualitas.yaml: kependudukan.{key} is missing or not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"kualitas.yaml: kependudukan.{key} {value} is outside {low}..{high}")
    return value


def _band(centre: float, percent: float) -> tuple[float, float]:
    return centre * (1 - percent / 100.0), centre * (1 + percent / 100.0)


def official_total(kode_kab_kota: str) -> int:
    """The kab/kota's registered population shipped with the region data (Dukcapil, semester 2 2024)."""
    from spm.reference import penduduk

    try:
        return penduduk(kode_kab_kota).jumlah
    except KeyError:
        raise ConfigError(f"data/wilayah/penduduk_wilayah.csv has no official total for {kode_kab_kota}") from None


def _aged_0(engine: sa.Engine, kode_kab_kota: str, tahun: int) -> int | None:
    """Population aged 0 at 31 December of `tahun`, else of the year before (published), or None."""
    with engine.connect() as conn:
        for year in (tahun, tahun - 1):
            total = conn.execute(sa.select(sa.func.sum(fact_penduduk.c.jumlah)).where(
                fact_penduduk.c.kode_kab_kota == kode_kab_kota, fact_penduduk.c.tahun == year,
                fact_penduduk.c.semester == 2, fact_penduduk.c.umur == 0)).scalar_one()
            if total is not None:
                return int(total)
    return None


def validate_partition(engine: sa.Engine, staged: dict[str, Any]) -> dict[str, Any]:
    if staged["status"] != BatchStatus.STAGED:
        return staged
    p = Partition.from_dict(staged)
    with settled_on_error(engine, staged["batch_id"], f"validation of {p.label()}"):
        params = validation_parameters(engine, p)
    return {**p.to_dict(), **validate(engine, p.spec, staged["batch_id"], params).to_dict()}


def publish_partition(engine: sa.Engine, validated: dict[str, Any]) -> dict[str, Any]:
    if validated["status"] != BatchStatus.VALIDATED:
        return validated
    p = Partition.from_dict(validated)
    if p.entity == "penduduk":
        tahun, semester = (int(x) for x in p.periode.split("-"))
        sql_params = {"kode_kab_kota": p.kode_kab_kota, "tahun": tahun, "semester": semester}
    else:
        sql_params = {"kode_kab_kota": p.kode_kab_kota, "tahun": int(p.periode)}
    return {**p.to_dict(), **publish(engine, p.spec, validated["batch_id"], sql_params).to_dict()}


# --- file inbox ----------------------------------------------------------------------------------

INBOX_SUFFIXES = (".csv", ".xlsx")


def _partition_of(parsed: ParsedTable, file_name: str) -> Partition:
    """A file holds one kab/kota and one period; mixing them is rejected."""
    kab, periods = set(), set()
    for r in parsed.rows:
        if r.get("kode_desa"):
            kab.add(r["kode_desa"][:5])
        period = r.get("semester") if parsed.entity == "penduduk" else r.get("tahun")
        if period is not None and period != "":
            periods.add(str(period))
    if len(kab) != 1 or len(periods) != 1:
        raise InputError(f"{file_name}: satu berkas harus berisi satu kab/kota dan satu periode; ditemukan "
                         f"kab/kota {sorted(kab) or 'tidak ada'} dan periode {sorted(periods) or 'tidak ada'}")
    kode, periode = kab.pop(), periods.pop()
    try:
        _check_kab_kota(kode)
    except ConfigError:
        raise InputError(f"{file_name}: kolom kode_desa: kodenya tidak diawali kode kab/kota "
                         "(PP.KK.CC.DDDD, misalnya 32.71.01.1001)") from None
    if parsed.entity == "penduduk" and not PERIODE_PENDUDUK.fullmatch(periode):
        raise InputError(f"{file_name}: kolom semester: seharusnya YYYY-1 (keadaan 30 Juni) atau YYYY-2 "
                         "(keadaan 31 Desember), misalnya 2025-1")
    if parsed.entity == "kelahiran" and not (periode.isdigit() and TAHUN_MIN <= int(periode) <= TAHUN_MAX):
        raise InputError(f"{file_name}: kolom tahun: seharusnya tahun {TAHUN_MIN} sampai {TAHUN_MAX}")
    return Partition(parsed.entity, kode, periode)


def _known_kab_kota(engine: sa.Engine, kode: str, file_name: str) -> None:
    """A file's kab/kota must be a current one of dim_wilayah; an empty dim_wilayah is the
    deployment's problem (ConfigError: the file stays in the inbox), not the file's."""
    with engine.connect() as conn:
        kab = conn.execute(sa.select(dim_wilayah.c.kode).where(
            dim_wilayah.c.tingkat == "kabupaten_kota", dim_wilayah.c.berlaku_sampai.is_(None))).scalars().all()
    if not kab:
        raise ConfigError("dim_wilayah is empty: run `spm wilayah load` (or DAG spm_muat_wilayah) before loading files")
    if kode not in set(kab):
        raise InputError(f"{file_name}: kolom kode_desa: kab/kota {kode} bukan kab/kota Kemendagri yang berlaku")


def alasan(result: dict[str, Any]) -> str:
    """Why a file was refused, as Disdukcapil reads it (the batch message stays for the data team)."""
    if result.get("batch_id") is None:
        return result["message"]  # refused before any batch: the message is the file's own problem
    if result["status"] == BatchStatus.FAILED:
        return "ekspektasi kritis gagal (lihat Masalah); tidak ada yang diterbitkan, data lama tetap berlaku"
    received, quarantined = result.get("rows_received") or 0, result.get("rows_quarantined") or 0
    if result["status"] == BatchStatus.REJECTED and received:
        return (f"{quarantined} dari {received} baris dikarantina ({100 * quarantined / received:.1f} %), di atas "
                f"batas {quarantine_limit_percent():.1f} % (kualitas.yaml batas_karantina_persen); tidak ada yang "
                "diterbitkan, data lama tetap berlaku")
    return result["message"]


def _write_errors(rejected_dir: Path, file_name: str, reason: str, details: list[str],
                  technical: str | None = None) -> Path:
    rejected_dir.mkdir(parents=True, exist_ok=True)
    path = rejected_dir / f"{file_name}.errors.txt"
    lines = [f"Berkas: {file_name}", f"Ditolak: {now().astimezone(WIB):%Y-%m-%d %H:%M:%S} WIB", f"Alasan: {reason}"]
    if details:
        lines += ["", "Masalah:"] + [f"  - {d}" for d in details]
    if technical and technical != reason:
        lines += ["", f"Pesan teknis (untuk tim data): {technical}"]
    lines += ["", "Tidak ada isi berkas ini yang dimuat. Perbaiki berkasnya, lalu letakkan lagi di inbox."]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _problem_lines(engine: sa.Engine, batch_id: int) -> list[str]:
    from spm.warehouse.tables import dq_result

    with engine.connect() as conn:
        rows = conn.execute(sa.select(dq_result).where(dq_result.c.batch_id == batch_id,
                                                        dq_result.c.success.is_(False))).all()
    out = []
    for r in rows:
        ids = (r.details or {}).get("failed_row_ids") or []
        where = f", yaitu baris {', '.join(map(str, ids[:20]))}" + (" …" if len(ids) > 20 else "") if ids else ""
        col = f", kolom {r.kolom}" if r.kolom else ""
        count = (f"{r.unexpected_count} baris" if r.unexpected_count is not None
                 else f"nilai teramati {r.observed_value}")
        out.append(f"{r.expectation} ({r.severity}{col}): {count}{where}")
    return out


def ingest_inbox(engine: sa.Engine, inbox: Path, run_id: str | None) -> list[dict[str, Any]]:
    """Load every new file of the inbox once; move it to processed/ or rejected/ (+ .errors.txt)."""
    def write_errors(rejected_dir: Path, file_name: str, result: dict[str, Any]) -> None:
        details = _problem_lines(engine, result["batch_id"]) if result.get("batch_id") else []
        _write_errors(rejected_dir, file_name, alasan(result), details, result["message"])

    return take_inbox(engine, inbox, SOURCE, lambda path, content: _ingest_file(engine, path, content, run_id),
                      write_errors, skip_loaded=True)


def _ingest_file(engine: sa.Engine, path: Path, content: bytes, run_id: str | None) -> dict[str, Any]:
    if path.suffix.lower() not in INBOX_SUFFIXES:
        return {"status": BatchStatus.REJECTED, "message": (
            f"{path.name}: {path.suffix or 'berkas tanpa ekstensi'} tidak diterima: kirim CSV (.csv) atau Excel "
            "Workbook (.xlsx) dengan kolom format penduduk atau kelahiran")}
    try:
        parsed = parse_table(content, path.name)
        p = _partition_of(parsed, path.name)
        _known_kab_kota(engine, p.kode_kab_kota, path.name)
    except InputError as exc:
        return {"status": BatchStatus.REJECTED, "message": str(exc)}
    staged = {**p.to_dict(), **stage(engine, p.spec, p.kode_kab_kota, p.periode, parsed.rows,
                                      rows_checksum(parsed.rows, p.spec.columns), run_id).to_dict()}
    validated = validate_partition(engine, staged)
    return publish_partition(engine, validated)
