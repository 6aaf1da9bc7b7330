"""Seeded randomness, stable per-record draws, identifiers and dates.

Every generated part draws from its own named stream (`rng(seed, kode, "penduduk")`), so building
one part lazily never shifts the numbers of another. Per-record draws that must stay the same
across semesters or requests (does this child go to school, is this row's NIK broken) are hashes of
the record's index (`hash_uniform`), not draws from a stream.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@lru_cache(maxsize=8192)  # the hub asks the same few keys for every resource it renders
def stream_key(seed: int, *parts) -> int:
    """A 64-bit key for one named stream of one run."""
    text = "\x1f".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def rng(seed: int, *parts) -> np.random.Generator:
    return np.random.default_rng(stream_key(seed, *parts))


def splitmix64(values) -> np.ndarray:
    """The splitmix64 finaliser: a bijection on 64-bit integers that scrambles well."""
    with np.errstate(over="ignore"):  # wrapping multiplication is the point
        z = np.asarray(values).astype(np.uint64, copy=True) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def hash_uint64(key: int, index) -> np.ndarray:
    return splitmix64(np.asarray(index).astype(np.uint64) ^ np.uint64(key))


_M64 = (1 << 64) - 1
_GOLDEN_INT, _MIX1_INT, _MIX2_INT = int(_GOLDEN), int(_MIX1), int(_MIX2)


def hash_int(key: int, index: int) -> int:
    """hash_uint64 of one index with Python integers: the same value, ~20x faster than a numpy scalar
    (the FHIR hub hashes one resource at a time)."""
    z = ((int(index) ^ key) + _GOLDEN_INT) & _M64
    z = ((z ^ (z >> 30)) * _MIX1_INT) & _M64
    z = ((z ^ (z >> 27)) * _MIX2_INT) & _M64
    return z ^ (z >> 31)




def hash_uniform(key: int, index) -> np.ndarray:
    """Uniform [0, 1) draws that depend only on (key, index)."""
    return (hash_uint64(key, index) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def uuid_text(key: int, index: int) -> str:
    """A version-4-shaped UUID, unique per (key, index) within a key."""
    hi = hash_int(key, index)
    lo = hash_int(key ^ 0x5A5A5A5A5A5A5A5A, index)
    hi = (hi & ~0xF000) | 0x4000
    lo = (lo & ~(0xC << 60)) | (0x8 << 60)
    h = f"{hi:016x}{lo:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid_texts(key: int, index) -> list[str]:
    """uuid_text of each index (hashed as arrays: the hub renders a page at a time)."""
    out = []
    for hi, lo in zip(hash_uint64(key, index).tolist(), hash_uint64(key ^ 0x5A5A5A5A5A5A5A5A, index).tolist()):
        h = f"{(hi & ~0xF000) | 0x4000:016x}{(lo & ~(0xC << 60)) | (0x8 << 60):016x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def days(d: date) -> int:
    """Days since 1970-01-01 (the integer form of dates in the world's arrays)."""
    return (d - EPOCH).days


def from_days(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def date_parts(day_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day arrays of day numbers."""
    d = np.asarray(day_numbers).astype("datetime64[D]")
    years = d.astype("datetime64[Y]")
    months = d.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def age_on(birth_year, birth_month, birth_day, on: date) -> np.ndarray:
    """Completed years of age on `on` for arrays of birth date parts."""
    before_birthday = (birth_month * 100 + birth_day) > (on.month * 100 + on.day)
    return on.year - birth_year - before_birthday.astype(np.int64)






FIRST_NAMES = (
    ("Ahmad", "Budi", "Rizky", "Agus", "Dedi", "Eko", "Fajar", "Hendra", "Irfan", "Joko", "Muhammad",
     "Rudi", "Slamet", "Taufik", "Yusuf", "Asep", "Dadang", "Ujang", "Wahyu", "Bayu"),
    ("Siti", "Dewi", "Sri", "Nur", "Rina", "Ayu", "Fitri", "Lestari", "Putri", "Wulan", "Indah",
     "Ratna", "Yuni", "Neng", "Euis", "Lilis", "Aisyah", "Nabila", "Salsabila", "Kartika"),
)
FAMILY_NAMES = (
    "Saputra", "Hidayat", "Santoso", "Nugroho", "Pratama", "Kurniawan", "Setiawan", "Gunawan",
    "Rahmawati", "Permana", "Sulaeman", "Suryadi", "Hermawan", "Firmansyah", "Ramadhan", "Maulana",
    "Sari", "Utami", "Wijaya", "Hakim",
)


def person_name(key: int, index: int, female: bool) -> str:
    h = hash_int(key, index)
    firsts = FIRST_NAMES[1 if female else 0]
    return f"{firsts[h % len(firsts)]} {FAMILY_NAMES[(h >> 20) % len(FAMILY_NAMES)]}"
