"""Dapodik listing rows shaped for staging (DESIGN §3.1, §4): a getSekolah row as a `staging_sekolah`
row, a getPesertaDidik row as a pseudonymised `staging_peserta_didik` tuple (the column order of
spm.ingest.pendidikan_spec PESERTA_DIDIK), and the value parsers they share (received text, calendar
dates, `last_update` read in WIB when it has no zone, integers, full years of age on a date).

A learner's NIK, NISN and `peserta_didik_id` are only hashed into `person_key` here (spm.privacy);
names and the birth day are never returned. Pure functions: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from spm.privacy import nik_valid, person_key

WIB = timezone(timedelta(hours=7))  # zone of a zone-less last_update (the same as spm.warehouse.audit.WIB)
NPSN = re.compile(r"^\d{8}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
