"""What an education partition is: the two Dapodik entities (staging and published tables, suites,
publish SQL), the semester calendar (DESIGN §5, §10: `semester_id` = tahun × 10 + semester, its
start, the SPM year it serves, the semester before it), the kab/kota × semester partition, and
closing the partition's two batches together when it fails (spm.ingest.pendidikan runs it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from spm.errors import ConfigError
from spm.ingest.wap import BatchOutcome, EntitySpec, discard
from spm.warehouse.tables import dim_sekolah, fact_peserta_didik, staging_peserta_didik, staging_sekolah

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


def previous_semester_id(semester_id: int) -> int:
    """20241 (2024/2025 ganjil) follows 20232 (2023/2024 genap), which follows 20231."""
    year, half = divmod(semester_id, 10)
    return (year - 1) * 10 + 2 if half == 1 else year * 10 + 1


# --- the partition ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Partition:
    kode_kab_kota: str
    semester_id: int

    @property
    def periode(self) -> str:
        return str(self.semester_id)

    def to_dict(self) -> dict[str, Any]:
        return {"kode_kab_kota": self.kode_kab_kota, "semester_id": self.semester_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Partition":
        """The partition of a task's hand-over (which may carry the step's outcome beside it)."""
        return cls(d["kode_kab_kota"], int(d["semester_id"]))

    def label(self) -> str:
        return f"{self.kode_kab_kota} semester {self.semester_id}"


def partitions(kode_wilayah: list[str], tahun: int, semester: int) -> list[dict[str, Any]]:
    sid = semester_id_of(tahun, semester)
    out = []
    for kode in kode_wilayah:
        parts = str(kode).split(".")
        if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
            raise ConfigError(f"{kode!r} is not a kabupaten/kota code (PP.KK, e.g. 32.71)")
        out.append(Partition(kode, sid).to_dict())
    return out


def fail_both(engine: sa.Engine, sekolah: BatchOutcome | dict | None, peserta: BatchOutcome | dict | None,
              message: str) -> None:
    """Close whichever of the partition's two batches is still running as failed."""
    ids = [o["batch_id"] if isinstance(o, dict) else o.batch_id for o in (sekolah, peserta) if o is not None]
    with engine.begin() as conn:
        discard(conn, {batch_id: () for batch_id in ids}, message)
