"""Population: real totals at scale 1, plausible structure, NIK, births, determinism."""

from __future__ import annotations

from datetime import date

import numpy as np

from spm import reference
from spm.simulator import SimulatorConfig
from spm.simulator.config import POPULATION_SEMESTERS, REFERENCE_SEMESTER
from spm.simulator.determinism import from_days
from spm.simulator.population import generate_penduduk


def test_full_scale_reference_semester_equals_the_real_totals():
    penduduk = generate_penduduk(SimulatorConfig(kode_wilayah=("32.71",), scale=1.0), "32.71")
    counts = penduduk.semester_counts(*REFERENCE_SEMESTER)
    real = reference.penduduk("32.71")
    assert int(counts[:, 0].sum()) == real.laki_laki == 578_674
    assert int(counts[:, 1].sum()) == real.perempuan
    assert counts.shape == (len(reference.desa_of("32.71")), 2, 101)
    # Other semesters differ a little (births, deaths, migration), not a lot.
    for tahun, semester in POPULATION_SEMESTERS:
        total = penduduk.semester_counts(tahun, semester).sum()
        assert abs(total / real.jumlah - 1) < 0.04, (tahun, semester, total)
    # Crude birth rate about 16 per 1000.
    assert 0.013 < penduduk.birth_counts(2025).sum() / real.jumlah < 0.019


def test_age_pyramid_and_sex_split_are_plausible(bogor):
    counts = bogor.penduduk.semester_counts(2024, 2)
    by_age = counts.sum(axis=(0, 1))
    total = by_age.sum()
    assert 0.06 < by_age[0:5].sum() / total < 0.10  # balita about 8 %
    assert 0.04 < by_age[60:].sum() / total < 0.15
    assert by_age[20:30].sum() > by_age[70:80].sum() * 3
    real = reference.penduduk("32.71")
    assert abs(counts[:, 0].sum() - round(real.laki_laki * 0.002)) == 0


def test_nik_encodes_kecamatan_birth_date_and_sex_and_is_unique(bogor):
    p = bogor.penduduk
    assert len(np.unique(p.nik)) == len(p)
    for i in range(0, len(p), max(1, len(p) // 50)):
        nik = str(p.nik[i])
        assert len(nik) == 16
        desa = p.desa[p.desa_idx[i]]
        assert nik[:6] == desa.kode_induk.replace(".", "")
        born = from_days(p.birth[i])
        day = born.day + (40 if p.sex[i] == 1 else 0)
        assert nik[6:12] == f"{day:02d}{born.month:02d}{born.year % 100:02d}"


def test_births_are_the_registered_infants_of_the_year(bogor):
    p = bogor.penduduk
    births = p.birth_counts(2024)
    infants = p.present_on(date(2024, 12, 31)) & (p.birth >= (date(2024, 1, 1) - date(1970, 1, 1)).days)
    assert births.sum() >= infants.sum() - (p.masuk != p.birth)[infants].sum() - 5
    assert births.shape == (12, len(p.desa), 2)


def test_same_seed_same_people_other_seed_other_people():
    a = generate_penduduk(SimulatorConfig(scale=0.001, seed=1), "32.71")
    b = generate_penduduk(SimulatorConfig(scale=0.001, seed=1), "32.71")
    c = generate_penduduk(SimulatorConfig(scale=0.001, seed=2), "32.71")
    assert np.array_equal(a.nik, b.nik) and np.array_equal(a.birth, b.birth)
    assert not np.array_equal(a.birth[:100], c.birth[:100])
