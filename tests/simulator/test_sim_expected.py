"""Expected figures: the §5 rules by hand on small cases, and an independent recomputation from
the records as served (JSON and CSV over HTTP) for a tiny world."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, datetime

import numpy as np
import pytest
from conftest import dapodik_all, dukcapil, fhir_all, fhir_token

from spm.simulator.expected import (
    DEFAULT_FAKTOR,
    NEVER,
    _kth_day,
    dapodik_semester_for,
    expected_capaian,
    expected_terlayani_bulanan,
    quarter_end,
    roll_up,
)


def test_period_rules_by_hand():
    assert [dapodik_semester_for(2025, q) for q in (1, 2, 3, 4)] == [20242, 20242, 20251, 20251]
    assert quarter_end(2025, 1) == date(2025, 3, 31) and quarter_end(2024, 4) == date(2024, 12, 31)
    with pytest.raises(ValueError):
        quarter_end(2025, 5)
    # Owner 0: days 5, 1, 9 -> second record on day 5; owner 2: one record only.
    got = _kth_day(np.array([0, 2, 0, 0]), np.array([5, 7, 1, 9]), 2, 3)
    assert got.tolist() == [5, NEVER, NEVER]


def test_expected_frame_shape(bogor):
    df = expected_capaian(bogor, 2025, 4)
    n_desa = len(bogor.penduduk.desa)
    assert len(df) == n_desa * (13 * 3 + 2)
    assert set(df[df.kode_layanan == "kes_ibu_hamil"].jenis_kelamin) == {"semua"}
    assert (df.population_semester == "2024-2").all()
    semua = df[df.jenis_kelamin == "semua"].set_index(["kode_wilayah", "kode_layanan"])
    split = df[df.jenis_kelamin != "semua"].groupby(["kode_wilayah", "kode_layanan"])[["sasaran", "terlayani"]].sum()
    joined = split.join(semua, rsuffix="_semua")
    assert np.allclose(joined.sasaran, joined.sasaran_semua) and (joined.terlayani == joined.terlayani_semua).all()
    # Year-to-date: quarters never go down; the months add up to the year.
    totals = [roll_up(expected_capaian(bogor, 2025, q), "kabupaten_kota") for q in (1, 2, 3, 4)]
    for kode in ("kes_ibu_hamil", "kes_balita", "kes_usia_produktif", "kes_hipertensi"):
        served = [int(t[(t.kode_layanan == kode) & (t.jenis_kelamin == "semua")].terlayani.iloc[0]) for t in totals]
        assert served == sorted(served) and served[-1] > 0, kode
    months = expected_terlayani_bulanan(bogor, 2025).groupby("kode_layanan").terlayani_baru.sum()
    year = totals[3][totals[3].jenis_kelamin == "semua"].set_index("kode_layanan").terlayani
    for kode, n in months.items():
        assert n == year[kode], kode


# DESIGN §5 read again from the text, for the recomputation from served records.
ENCOUNTER_COUNTS = ("arrived", "triaged", "in-progress", "onleave", "finished")
OBSERVATION_COUNTS = ("final", "amended", "corrected")


def _age(birth: str, on: date) -> int:
    b = date.fromisoformat(birth)
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def test_independent_recomputation_from_served_records(sim, http, bogor):
    tahun, triwulan, ref = 2025, 2, date(2024, 12, 31)
    end = quarter_end(tahun, triwulan)
    expected = roll_up(expected_capaian(bogor, tahun, triwulan), "kabupaten_kota")
    expected = expected[expected.jenis_kelamin == "semua"].set_index("kode_layanan")

    # Sasaran from the Dukcapil CSVs.
    pop = list(csv.DictReader(io.StringIO(dukcapil(http, sim, "penduduk", kode_wilayah="32.71", semester="2024-2").text)))
    births = list(csv.DictReader(io.StringIO(dukcapil(http, sim, "kelahiran", kode_wilayah="32.71", tahun="2024").text)))
    aged = lambda lo, hi: sum(int(r["jumlah"]) for r in pop if lo <= int(r["umur"]) <= hi)  # noqa: E731
    assert expected.loc["pend_dasar", "sasaran"] == aged(7, 15)
    assert expected.loc["kes_usia_produktif", "sasaran"] == aged(15, 59)
    assert expected.loc["kes_ibu_hamil", "sasaran"] == pytest.approx(1.10 * sum(int(r["jumlah"]) for r in births))
    assert expected.loc["kes_dm", "sasaran"] == pytest.approx(DEFAULT_FAKTOR["kes_dm"] * aged(15, 100))

    # pend_dasar from Dapodik: semester 20242 for the second quarter.
    schools = dapodik_all(http, sim, "getSekolah", limit=100, kode_wilayah="32.71", semester_id=20242)
    learners = set()
    for school in schools:
        if school["bentuk_pendidikan"] in ("SD", "SMP", "SDLB", "SMPLB"):
            for row in dapodik_all(http, sim, "getPesertaDidik", npsn=school["npsn"], semester_id=20242):
                if row["status"] == "aktif" and 7 <= _age(row["tanggal_lahir"], ref) <= 15:
                    learners.add(row["nik"])
    assert expected.loc["pend_dasar", "terlayani"] == len(learners)

    # Health from the FHIR hub: everything up to mid-2025 by lastUpdated covers the events to Q2.
    token = fhir_token(http, sim)
    window = {"_lastUpdated": ["ge2023-01-01", "lt2028-01-01"], "_count": 1000}
    patients = {p["id"]: p for p in fhir_all(http, sim, "Patient", token, **window)}
    residents = {i for i, p in patients.items()
                 if p["address"][0]["extension"][0]["extension"][3]["valueCode"].startswith("3271")}

    def in_period(instant: str) -> bool:
        return date(tahun, 1, 1) <= datetime.fromisoformat(instant).date() <= end

    anc = Counter()
    for e in fhir_all(http, sim, "Encounter", token, **window):
        code = e["reasonCode"][0]["coding"][0]["code"]
        who = e["subject"]["reference"].split("/")[1]
        if (code.startswith(("Z34", "Z35")) and in_period(e["period"]["start"]) and who in residents
                and e["status"] in ENCOUNTER_COUNTS):
            anc[who] += 1
    assert expected.loc["kes_ibu_hamil", "terlayani"] == sum(
        n >= 6 and patients[w]["gender"] == "female" for w, n in anc.items())

    seen: dict[str, set] = {}
    for o in fhir_all(http, sim, "Observation", token, **window):
        if in_period(o["effectiveDateTime"]) and o["status"] in OBSERVATION_COUNTS:
            seen.setdefault(o["subject"]["reference"].split("/")[1], set()).add(o["code"]["coding"][0]["code"])
    hypertensive = {c["subject"]["reference"].split("/")[1] for c in fhir_all(http, sim, "Condition", token, **window)
                    if c["clinicalStatus"]["coding"][0]["code"] in ("active", "recurrence", "relapse")
                    and c.get("verificationStatus", {"coding": [{"code": None}]})["coding"][0]["code"]
                    not in ("refuted", "entered-in-error")
                    and c["code"]["coding"][0]["code"][:3] in ("I10", "I11", "I12", "I13", "I15")}
    produktif = hipertensi = 0
    for who in residents:
        codes = seen.get(who, set())
        age = _age(patients[who]["birthDate"], ref)
        if 15 <= age <= 59 and "85354-9" in codes and codes & {"2339-0", "15074-8"} and "39156-5" in codes:
            produktif += 1
        if age >= 15 and who in hypertensive and "85354-9" in codes:
            hipertensi += 1
    assert expected.loc["kes_usia_produktif", "terlayani"] == produktif
    assert expected.loc["kes_hipertensi", "terlayani"] == hipertensi


def test_updates_change_the_figures_they_touch(bogor):
    plain = expected_capaian(bogor, 2025, 4)
    updated = expected_capaian(bogor, 2025, 4, fhir_updates=True)
    assert (plain.sasaran == updated.sasaran).all()
    assert (plain.terlayani >= 0).all() and plain.terlayani.sum() != updated.terlayani.sum()
    per_sex = expected_capaian(bogor, 2025, 4, faktor={"kes_dm": {"L": 0.01, "P": 0.03}})
    dm = per_sex[(per_sex.kode_layanan == "kes_dm") & (per_sex.jenis_kelamin != "semua")]
    base = plain[(plain.kode_layanan == "kes_dm") & (plain.jenis_kelamin != "semua")]
    ratio = dm.sasaran.to_numpy() / np.where(base.sasaran.to_numpy() == 0, np.nan, base.sasaran.to_numpy())
    assert np.nanmax(ratio) > np.nanmin(ratio)


def test_missing_reference_semester_falls_back(bogor):
    df = expected_capaian(bogor, 2025, 1, population_semester=(2024, 1))
    assert (df.population_semester == "2024-1").all()
