"""Load a Kemendagri code list into the time-versioned region dimension `dim_wilayah`."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from spm.errors import InputError
from spm.reference import KODE_WILAYAH_BERLAKU_MULAI, KODE_WILAYAH_CSV, KODE_WILAYAH_SUMBER, TINGKAT
from spm.warehouse.bulk import replace_partition
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.tables import dim_wilayah, staging_wilayah

COLUMNS = ("kode", "nama", "tingkat", "kode_induk")
# Kemendagri code shape per level; desa codes have 4 digits after the kecamatan.
KODE_PATTERN = {
    "provinsi": re.compile(r"^\d{2}$"),
    "kabupaten_kota": re.compile(r"^\d{2}\.\d{2}$"),
    "kecamatan": re.compile(r"^\d{2}\.\d{2}\.\d{2}$"),
    "desa_kelurahan": re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"),
}
MAX_ERRORS_SHOWN = 10


@dataclass(frozen=True)
class WilayahLoadResult:
    rows_in_file: int
    opened: int
    closed: int
    berlaku_mulai: date

    @property
    def changed(self) -> bool:
        return bool(self.opened or self.closed)


def read_code_list(path: Path) -> list[tuple[str, str, str, str | None]]:
    """Read and check a code list; raise InputError listing what is wrong (file, line, column).

    A message names the line, the column and what was expected, never a value it could not accept:
    whatever file it was pointed at, no error repeats that file's contents. Codes are quoted only
    once they have the shape of a Kemendagri code."""
    if not path.is_file():
        raise InputError(f"code list {path.name} does not exist")
    errors: list[str] = []
    rows: list[tuple[str, str, str, str | None]] = []
    seen: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        try:
            header = reader.fieldnames or []
        except (UnicodeDecodeError, csv.Error):
            raise InputError(f"{path.name}: not a UTF-8 CSV file with the header {','.join(COLUMNS)}") from None
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise InputError(f"{path.name}: missing column(s) {', '.join(missing)} in its first line (expected the "
                             f"header {','.join(COLUMNS)})")
        try:
            for line, rec in enumerate(reader, start=2):
                _check_row(line, rec, rows, seen, errors)
        except (UnicodeDecodeError, csv.Error):
            raise InputError(f"{path.name}: not a UTF-8 CSV file (after line {reader.line_num})") from None
    for kode, _nama, _tingkat, induk in rows:
        if induk is not None and induk not in seen:
            errors.append(f"line {seen[kode]}, kode_induk: parent {induk} of {kode} is not in the file")
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise InputError(f"{path.name}: {len(errors)} problem(s), nothing loaded: {shown}{more}")
    if not rows:
        raise InputError(f"{path.name}: no rows")
    return rows


CODE_SHAPE = {"provinsi": "NN", "kabupaten_kota": "NN.NN", "kecamatan": "NN.NN.NN", "desa_kelurahan": "NN.NN.NN.NNNN"}


def _check_row(line: int, rec: dict, rows: list, seen: dict[str, int], errors: list[str]) -> None:
    kode = (rec["kode"] or "").strip()
    nama = (rec["nama"] or "").strip()
    tingkat = (rec["tingkat"] or "").strip()
    induk = (rec["kode_induk"] or "").strip() or None
    if tingkat not in TINGKAT:
        errors.append(f"line {line}, tingkat: not one of {', '.join(TINGKAT)}")
        return
    if not KODE_PATTERN[tingkat].match(kode):
        errors.append(f"line {line}, kode: not a {tingkat} code ({CODE_SHAPE[tingkat]})")
        return
    if not nama:
        errors.append(f"line {line}, nama: empty for {kode}")
    expected_induk = kode.rsplit(".", 1)[0] if "." in kode else None
    if induk != expected_induk:
        errors.append(f"line {line}, kode_induk: expected {expected_induk or 'empty'} for {kode}")
    if kode in seen:
        errors.append(f"line {line}, kode: {kode} repeats line {seen[kode]}")
    seen[kode] = line
    rows.append((kode, nama, tingkat, induk))


def load_wilayah(
    engine: sa.Engine,
    path: Path | None = None,
    berlaku_mulai: date | None = None,
    sumber: str | None = None,
) -> WilayahLoadResult:
    """Merge a code list into dim_wilayah in one transaction.

    With no path, the shipped Kemendagri list (valid from its decree date) is loaded. A different
    list needs `berlaku_mulai`, the date its codes take effect.
    """
    if path is None:
        path = KODE_WILAYAH_CSV
        berlaku_mulai = berlaku_mulai or KODE_WILAYAH_BERLAKU_MULAI
        sumber = sumber or KODE_WILAYAH_SUMBER
    elif berlaku_mulai is None:
        raise InputError("a code list other than the shipped one needs --berlaku-mulai (the date it takes effect)")
    rows = read_code_list(Path(path))
    sumber = sumber or Path(path).name
    with engine.begin() as conn:
        replace_partition(conn, staging_wilayah, {}, COLUMNS, rows)
        to_close = conn.execute(sa.text(_changes_sql())).scalar_one()
        if to_close:
            latest = conn.execute(sa.select(sa.func.max(dim_wilayah.c.berlaku_mulai))).scalar_one()
            if latest is not None and berlaku_mulai <= latest:
                raise InputError(
                    f"{Path(path).name} changes {to_close} region(s) but berlaku_mulai {berlaku_mulai} is not after "
                    f"the current versions' {latest}; give the date the new list takes effect"
                )
        closed, opened = run_sql_file(
            conn, "core/dim_wilayah_merge.sql", {"berlaku_mulai": berlaku_mulai, "sumber": sumber}
        )
        conn.execute(sa.delete(staging_wilayah))
    return WilayahLoadResult(len(rows), opened, closed, berlaku_mulai)


def _changes_sql() -> str:
    from spm.settings import sql_dir
    from spm.warehouse.sqlfiles import statements

    (stmt,) = statements(sql_dir() / "core" / "dim_wilayah_changes.sql")
    return stmt


def current_count(engine: sa.Engine) -> dict[str, int]:
    """Current rows per tingkat."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(dim_wilayah.c.tingkat, sa.func.count())
            .where(dim_wilayah.c.berlaku_sampai.is_(None))
            .group_by(dim_wilayah.c.tingkat)
        ).all()
    return {t: n for t, n in rows}


def kab_kota_of(conn: sa.Connection, kode_provinsi: str, on: date | None = None) -> list[str]:
    """The province's kab/kota codes in dim_wilayah valid on `on` (default today), in code order. A
    date before the first code list the warehouse holds (a 2024 quarter, the list of 2025) takes that
    first list: it is the best knowledge of the time before it."""
    on = on or date.today()
    w = dim_wilayah.c
    of_provinsi = [w.tingkat == "kabupaten_kota", w.kode_induk == kode_provinsi]
    valid = list(conn.execute(sa.select(w.kode).distinct().where(
        *of_provinsi, w.berlaku_mulai <= on, sa.or_(w.berlaku_sampai.is_(None), w.berlaku_sampai > on))
        .order_by(w.kode)).scalars())
    if valid:
        return valid
    first = sa.select(sa.func.min(w.berlaku_mulai)).where(*of_provinsi).scalar_subquery()
    return list(conn.execute(sa.select(w.kode).distinct().where(*of_provinsi, w.berlaku_mulai == first)
                             .order_by(w.kode)).scalars())
