"""The people of one kabupaten/kota: who lives where, born when, present from when to when.

The world is anchored on the data vintage, 31 December 2024: the persons present that day are
drawn first, to the real desa list and the real (scaled) totals per sex, with an Indonesian age
pyramid. Flows around that day make the other semesters differ plausibly: births (crude birth
rate 16 per 1000 a year), deaths and out-migration (persons leave), in-migration (persons arrive).
A person is present on day D when `masuk <= D < keluar`. Population aggregates and registered
births are counts over these arrays, so every feed agrees with the person-level records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np

from spm import reference
from spm.reference import Wilayah
from spm.simulator.config import (
    REFERENCE_DATE,
    WORLD_END,
    WORLD_START,
    SimulatorConfig,
    semester_date,
)
from spm.simulator.determinism import age_on, date_parts, days, rng

MAX_AGE = 100  # the last single-year age group means "100 or older"
N_AGES = MAX_AGE + 1
SEXES = ("L", "P")
NEVER = np.iinfo(np.int32).max  # keluar of persons who stay

CRUDE_BIRTH_RATE = 0.016
SEX_RATIO_AT_BIRTH_MALE_SHARE = 0.512
# Share of 5-year age groups 0-4 .. 70-74 in a recent Indonesian pyramid; 75+ decays geometrically.
_FIVE_YEAR_SHARES = (8.0, 8.3, 8.2, 8.0, 7.9, 7.7, 7.6, 7.4, 7.1, 6.4, 5.6, 4.7, 3.8, 2.8, 1.8)


def age_pyramid(female: bool, tilt: float = 0.0) -> np.ndarray:
    """Probabilities of single years of age 0..100 at the reference date.

    `tilt` > 0 makes a desa older, < 0 younger (urban kelurahan differ in their mix).
    """
    weights = np.repeat(np.array(_FIVE_YEAR_SHARES) / 5, 5)
    tail = weights[-1] * 0.86 ** np.arange(1, N_AGES - len(weights) + 1)
    weights = np.concatenate([weights, tail])
    ages = np.arange(N_AGES)
    if female:  # women outlive men
        weights = weights * (1 + 0.006 * np.clip(ages - 50, 0, None))
    weights = weights * np.exp(tilt * (ages - 35) / 35)
    return weights / weights.sum()


def _mortality(age: np.ndarray) -> np.ndarray:
    """Yearly probability of death by age (Gompertz-shaped, plus infant mortality)."""
    return 0.0003 + 0.00003 * np.exp(0.085 * np.minimum(age, 105)) + np.where(age == 0, 0.015, 0.0)


def _migration(age: np.ndarray) -> np.ndarray:
    """Yearly probability of moving out (and, symmetrically, weight of moving in) by age."""
    return np.where((age >= 18) & (age <= 34), 0.012, 0.004)


def _dec31(years: np.ndarray) -> np.ndarray:
    return ((years + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") - 1).astype(np.int64)


@dataclass
class Penduduk:
    """Person-level arrays of one kabupaten/kota (index = person id within the world)."""

    kode_kab_kota: str
    desa: list[Wilayah]
    birth: np.ndarray  # day numbers
    sex: np.ndarray  # 0 = L, 1 = P
    desa_idx: np.ndarray
    masuk: np.ndarray  # day the person enters the register (birth or arrival)
    keluar: np.ndarray  # day the person leaves (death or departure); NEVER if they stay
    nik: np.ndarray  # int64, 16 digits

    def __len__(self) -> int:
        return len(self.birth)

    @cached_property
    def desa_kode(self) -> np.ndarray:
        return np.array([w.kode for w in self.desa], dtype=object)

    @cached_property
    def birth_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return date_parts(self.birth)

    def present_on(self, on: date) -> np.ndarray:
        d = days(on)
        return (self.masuk <= d) & (self.keluar > d)

    def age_on(self, on: date) -> np.ndarray:
        return age_on(*self.birth_parts, on)

    def counts_on(self, on: date) -> np.ndarray:
        """Population present on a day: array [desa, sex, age 0..100]."""
        present = self.present_on(on)
        age = np.minimum(self.age_on(on)[present], MAX_AGE)
        cell = (self.desa_idx[present] * 2 + self.sex[present]) * N_AGES + age
        counts = np.bincount(cell, minlength=len(self.desa) * 2 * N_AGES)
        return counts.reshape(len(self.desa), 2, N_AGES)

    def semester_counts(self, tahun: int, semester: int) -> np.ndarray:
        return self.counts_on(semester_date(tahun, semester))

    @cached_property
    def registered_at_birth(self) -> np.ndarray:
        return self.masuk == self.birth

    def birth_counts(self, tahun: int) -> np.ndarray:
        """Live births registered in a year: array [month 1..12 -> 0..11, desa, sex]."""
        year, month, _ = self.birth_parts
        born = self.registered_at_birth & (year == tahun)
        cell = ((month[born] - 1) * len(self.desa) + self.desa_idx[born]) * 2 + self.sex[born]
        counts = np.bincount(cell, minlength=12 * len(self.desa) * 2)
        return counts.reshape(12, len(self.desa), 2)


def scaled_totals(kode_kab_kota: str, scale: float) -> tuple[int, int]:
    """Persons (L, P) present on the reference date: the real totals times scale, rounded."""
    real = reference.penduduk(kode_kab_kota)
    return round(real.laki_laki * scale), round(real.perempuan * scale)


def generate_penduduk(config: SimulatorConfig, kode_kab_kota: str) -> Penduduk:
    gen = rng(config.seed, kode_kab_kota, "penduduk")
    desa = reference.desa_of(kode_kab_kota)
    n_desa = len(desa)
    ref = days(REFERENCE_DATE)

    # 1. Persons present on the reference date: real totals, spread over desa, sex and age.
    targets = scaled_totals(kode_kab_kota, config.scale)
    desa_share = gen.lognormal(0.0, 0.6, n_desa)
    desa_share /= desa_share.sum()
    tilt = gen.normal(0.0, 0.15, n_desa)
    counts = np.zeros((n_desa, 2, N_AGES), dtype=np.int64)
    for s in (0, 1):
        per_desa = gen.multinomial(targets[s], desa_share)
        for d in range(n_desa):
            counts[d, s] = gen.multinomial(per_desa[d], age_pyramid(s == 1, tilt[d]))
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    desa_idx = cell // (2 * N_AGES)
    sex = (cell // N_AGES) % 2
    age = cell % N_AGES
    n = len(cell)
    # "100" is 100 or older: spread the oldest over a few more years.
    age = np.where(age == MAX_AGE, MAX_AGE + np.minimum(gen.geometric(0.4, n) - 1, 8), age)
    birth = _dec31(2024 - age) - gen.integers(0, 365, n)
    masuk = birth.copy()
    keluar = np.full(n, NEVER, dtype=np.int64)

    # 2. Present persons who leave during 2025-2026 (death or moving out).
    hazard = _mortality(age) + _migration(age)
    after = gen.exponential(1.0, n) / hazard * 365.25
    leaves = after < (days(WORLD_END) - ref)
    keluar[leaves] = ref + 1 + after[leaves].astype(np.int64)

    # 3. Present persons who arrived during 2023-2024 (born before they arrived).
    arrived = (gen.random(n) < 2 * _migration(age)) & (age >= 1)
    earliest = np.maximum(birth[arrived] + 1, days(WORLD_START))
    masuk[arrived] = earliest + (gen.random(arrived.sum()) * (ref + 1 - earliest)).astype(np.int64)

    # 4. Persons who left during 2023-2024: copies of present persons, same age on leaving.
    gone_from = np.flatnonzero(gen.random(n) < 2 * hazard)
    gone_keluar = gen.integers(days(WORLD_START) + 1, ref + 1, len(gone_from))
    gone_birth = birth[gone_from] - (ref - gone_keluar)

    # 5. Births in 2025-2026 (those of 2023-2024 are ages 0 and 1 above).
    pop_desa = counts.sum(axis=(1, 2))
    n_born = gen.poisson(CRUDE_BIRTH_RATE * 2 * pop_desa)
    born_desa = np.repeat(np.arange(n_desa), n_born)
    born_sex = (gen.random(len(born_desa)) >= SEX_RATIO_AT_BIRTH_MALE_SHARE).astype(np.int64)
    born_day = gen.integers(ref + 1, days(WORLD_END) + 1, len(born_desa))

    # 6. Arrivals in 2025-2026: copies of present persons, same age on arrival.
    come_from = np.flatnonzero(gen.random(n) < 2 * _migration(age))
    come_masuk = gen.integers(ref + 1, days(WORLD_END) + 1, len(come_from))
    come_birth = birth[come_from] + (come_masuk - ref)

    penduduk = Penduduk(
        kode_kab_kota=kode_kab_kota,
        desa=desa,
        birth=np.concatenate([birth, gone_birth, born_day, come_birth]),
        sex=np.concatenate([sex, sex[gone_from], born_sex, sex[come_from]]).astype(np.int8),
        desa_idx=np.concatenate([desa_idx, desa_idx[gone_from], born_desa, desa_idx[come_from]]).astype(np.int32),
        masuk=np.concatenate([masuk, gone_birth, born_day, come_masuk]),
        keluar=np.concatenate([keluar, gone_keluar, np.full(len(born_day), NEVER), np.full(len(come_from), NEVER)]),
        nik=np.zeros(0, dtype=np.int64),
    )
    penduduk.nik = _assign_nik(penduduk, gen)
    return penduduk


def _assign_nik(p: Penduduk, gen: np.random.Generator) -> np.ndarray:
    """NIK = PPKKCC (kecamatan) + DDMMYY (women: DD + 40) + a serial unique within that prefix."""
    kecamatan = np.array([int(w.kode_induk.replace(".", "")) for w in p.desa], dtype=np.int64)
    year, month, day = p.birth_parts
    ddmmyy = (day + 40 * p.sex) * 10_000 + month * 100 + year % 100
    prefix = kecamatan[p.desa_idx] * 1_000_000 + ddmmyy
    order = np.lexsort((gen.random(len(prefix)), prefix))
    sorted_prefix = prefix[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_prefix)) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    serial = np.empty(len(order), dtype=np.int64)
    serial[order] = np.arange(len(order)) - group_start + 1
    if len(serial) and serial.max() > 9999:
        raise ValueError("NIK serial space exhausted (more than 9999 persons share a prefix)")
    return prefix * 10_000 + serial
