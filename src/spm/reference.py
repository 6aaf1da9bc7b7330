"""Reference data shipped with the package: Kemendagri region codes and population totals.

Source: cahyadsn/wilayah (MIT, see data/wilayah/LICENSE-cahyadsn-wilayah.txt), Kepmendagri
300.2.2-2138 Tahun 2025; population is Dukcapil consolidated data, semester 2 2024.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from spm.settings import PACKAGE_DIR

WILAYAH_DIR = PACKAGE_DIR / "data" / "wilayah"
KODE_WILAYAH_CSV = WILAYAH_DIR / "kode_wilayah.csv"
PENDUDUK_WILAYAH_CSV = WILAYAH_DIR / "penduduk_wilayah.csv"
# The decree the shipped code list follows; the default start of validity of its rows.
KODE_WILAYAH_BERLAKU_MULAI = date(2025, 4, 25)
KODE_WILAYAH_SUMBER = "Kepmendagri 300.2.2-2138 Tahun 2025"

TINGKAT = ("provinsi", "kabupaten_kota", "kecamatan", "desa_kelurahan")


@dataclass(frozen=True)
class Wilayah:
    kode: str
    nama: str
    tingkat: str
    kode_induk: str | None


@dataclass(frozen=True)
class PendudukWilayah:
    kode: str
    nama: str
    laki_laki: int
    perempuan: int
    jumlah: int


def is_provinsi(kode: str | None) -> bool:
    """Whether a Kemendagri code is a province's (two digits, e.g. 32) rather than a kab/kota's (32.71)."""
    return bool(kode) and len(kode) == 2 and kode.isdigit()


def read_kode_wilayah(path: Path = KODE_WILAYAH_CSV) -> list[Wilayah]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            Wilayah(r["kode"], r["nama"], r["tingkat"], r["kode_induk"] or None)
            for r in csv.DictReader(fh)
        ]


@lru_cache(maxsize=1)
def _wilayah_index() -> dict[str, Wilayah]:
    return {w.kode: w for w in read_kode_wilayah()}


def wilayah(kode: str) -> Wilayah:
    try:
        return _wilayah_index()[kode]
    except KeyError:
        raise KeyError(f"kode wilayah {kode!r} is not in the Kemendagri code list") from None


def children(kode: str, tingkat: str | None = None) -> list[Wilayah]:
    """Direct or deeper descendants of `kode`; with `tingkat`, only those of that level."""
    prefix = kode + "."
    out = [w for w in _wilayah_index().values() if w.kode.startswith(prefix)]
    if tingkat:
        out = [w for w in out if w.tingkat == tingkat]
    return sorted(out, key=lambda w: w.kode)


def desa_of(kode_kab_kota: str) -> list[Wilayah]:
    """The desa/kelurahan of a kabupaten/kota, in code order."""
    if wilayah(kode_kab_kota).tingkat != "kabupaten_kota":
        raise ValueError(f"{kode_kab_kota!r} is not a kabupaten/kota code")
    return children(kode_kab_kota, "desa_kelurahan")


@lru_cache(maxsize=1)
def penduduk_index() -> dict[str, PendudukWilayah]:
    with open(PENDUDUK_WILAYAH_CSV, newline="", encoding="utf-8") as fh:
        return {
            r["kode"]: PendudukWilayah(
                r["kode"], r["nama"], int(r["laki_laki"]), int(r["perempuan"]), int(r["jumlah"])
            )
            for r in csv.DictReader(fh)
        }


def penduduk(kode: str) -> PendudukWilayah:
    try:
        return penduduk_index()[kode]
    except KeyError:
        raise KeyError(f"no population total for kode wilayah {kode!r}") from None
