"""FHIR statuses, verificationStatus, second versions that withdraw a record, booked (planned)
encounters, the outsiders' deterministic neighbour and `visitors` in the expected figures (DESIGN §5)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from conftest import fhir_all, fhir_token

from spm.simulator import SimulatorConfig, World
from spm.simulator.expected import expected_capaian, expected_resource_count, expected_terlayani_bulanan
from spm.simulator.health import (
    DAY,
    ENCOUNTER_CLASS,
    ENCOUNTER_STATUS,
    OBSERVATION_STATUS,
    VERIFICATION_STATUS,
    neighbour_of,
)
from spm.simulator.records import fhir_resource, patient_resource
from spm.simulator.world import KabKotaWorld

VER_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ENCOUNTER_COUNTS = ("arrived", "triaged", "in-progress", "onleave", "finished")
OBSERVATION_COUNTS = ("final", "amended", "corrected")
# More people and more second versions than SMALL, so that rare statuses and withdrawals occur.
BIGGER = SimulatorConfig(kode_wilayah=("32.71", "32.72"), scale=0.01, seed=11, update_share=0.3)


@pytest.fixture(scope="module")
def bigger() -> World:
    return World(BIGGER)


def _fresh(config: SimulatorConfig, kode: str) -> KabKotaWorld:
    """A world of its own, to change its arrays without touching the shared ones."""
    return KabKotaWorld(config, kode)


def _shares(index: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    return dict(zip(names, (np.bincount(index, minlength=len(names)) / len(index)).tolist()))


def _instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# -- statuses ---------------------------------------------------------------------------------
def test_status_shares_and_their_rendering(bigger):
    h = bigger["32.71"].kesehatan
    enc, obs = h.encounters, h.observations
    first = _shares(enc.fhir_status[:enc.n_first], ENCOUNTER_STATUS)
    assert first["planned"] == 0 and 0.91 < first["finished"] < 0.95
    for name, share in (("in-progress", 0.01), ("cancelled", 0.025), ("entered-in-error", 0.015)):
        assert share / 2 < first[name] < share * 2, name
    assert all(first[s] > 0 for s in ENCOUNTER_STATUS if s != "planned")
    o = _shares(obs.fhir_status, OBSERVATION_STATUS)
    assert 0.93 < o["final"] < 0.95 and all(share > 0 for share in o.values())
    # Each status is rendered as the array says, in the first version.
    for res, names, kind in ((enc, ENCOUNTER_STATUS, "Encounter"), (obs, OBSERVATION_STATUS, "Observation")):
        for s, name in enumerate(names):
            rows = np.flatnonzero(res.fhir_status == s)[:3]
            for row in rows.tolist():
                r = fhir_resource(bigger["32.71"], kind, row)
                assert r["status"] == name and r["meta"]["versionId"] == "1"


def test_served_pages_carry_statuses(sim, http, bogor):
    token = fhir_token(http, sim)
    window = {"_lastUpdated": ["ge2024-01-01", "lt2028-01-01"], "_count": 1000}
    encounters = fhir_all(http, sim, "Encounter", token, **window)
    assert len(encounters) == len(bogor.kesehatan.encounters) == expected_resource_count(
        bogor, "Encounter", datetime.fromisoformat("2024-01-01T00:00:00+00:00"),
        datetime.fromisoformat("2028-01-01T00:00:00+00:00"))
    assert len({e["id"] for e in encounters}) == len(encounters)
    served = {e["status"] for e in encounters}
    assert {"finished", "planned", "cancelled", "entered-in-error"} <= served <= set(ENCOUNTER_STATUS)
    observations = fhir_all(http, sim, "Observation", token, **window)
    assert {"final", "amended", "preliminary"} <= {o["status"] for o in observations} <= set(OBSERVATION_STATUS)


def test_verification_status_rendered_or_absent(bigger):
    world = bigger["32.71"]
    cond = world.kesehatan.conditions
    shares = dict(zip(("absent", *VERIFICATION_STATUS), np.bincount(cond.verification + 1, minlength=7) / len(cond)))
    assert 0.15 < shares["absent"] < 0.25 and 0.65 < shares["confirmed"] < 0.75
    assert shares["refuted"] > 0 and shares["entered-in-error"] > 0
    for v in range(-1, len(VERIFICATION_STATUS)):
        for row in np.flatnonzero(cond.verification == v)[:3].tolist():
            r = fhir_resource(world, "Condition", row)
            if v < 0:
                assert "verificationStatus" not in r
            else:
                assert r["verificationStatus"] == {"coding": [{"system": VER_SYSTEM, "code": VERIFICATION_STATUS[v]}]}
                assert list(r).index("verificationStatus") == list(r).index("clinicalStatus") + 1


# -- second versions ----------------------------------------------------------------------------
def test_second_versions_withdraw_some_records(bigger):
    world = bigger["32.71"]
    h = world.kesehatan
    for kind, names, bad in (("Encounter", ENCOUNTER_STATUS, "entered-in-error"),
                             ("Observation", OBSERVATION_STATUS, "entered-in-error")):
        res = h.all_resources[kind]
        first, second = res.fhir_status[res.v2_rows], res.v2_fhir_status
        changed = first != second
        assert (second[changed] == names.index(bad)).all()
        assert 0.05 < changed.mean() < 0.15, kind
        served, _ = res.current_statuses(True)
        assert (served[res.v2_rows] == second).all() and (res.current_statuses(False)[0] == res.fhir_status).all()
        row = int(res.v2_rows[np.flatnonzero(changed)[0]])
        assert fhir_resource(world, kind, row, updates=True)["status"] == bad
        assert fhir_resource(world, kind, row, updates=True)["meta"]["versionId"] == "2"
        assert fhir_resource(world, kind, row)["status"] == names[res.fhir_status[row]]
    cond = h.conditions
    changed = cond.verification[cond.v2_rows] != cond.v2_verification
    assert changed.any() and (cond.v2_verification[changed] == VERIFICATION_STATUS.index("refuted")).all()
    row = int(cond.v2_rows[np.flatnonzero(changed)[0]])
    assert fhir_resource(world, "Condition", row, updates=True)["verificationStatus"]["coding"][0]["code"] == "refuted"


def test_withdrawn_second_versions_stop_counting_in_every_quarter(bigger):
    world = bigger["32.71"]
    kept = _fresh(BIGGER, "32.71")  # the same records, but no second version withdraws anything
    for res in kept.kesehatan.all_resources.values():
        if res.fhir_status is not None:
            res.v2_fhir_status = res.fhir_status[res.v2_rows].copy()
        if res.verification is not None:
            res.v2_verification = res.verification[res.v2_rows].copy()
    fewer = 0
    for q in (1, 2, 3, 4):
        withdrawn = expected_capaian(world, 2025, q, fhir_updates=True)
        whole = expected_capaian(kept, 2025, q, fhir_updates=True)
        assert (withdrawn.terlayani <= whole.terlayani).all()
        fewer += int((whole.terlayani - withdrawn.terlayani).sum())
        # Without the fault the first versions are served: the withdrawals change nothing.
        assert expected_capaian(world, 2025, q).equals(expected_capaian(kept, 2025, q))
    assert fewer > 0


# -- planned encounters ---------------------------------------------------------------------------
def test_planned_encounters_are_booked_follow_ups(bigger):
    world = bigger["32.71"]
    enc = world.kesehatan.encounters
    planned = enc.planned_rows
    assert len(planned) == len(enc) - enc.n_first and 0.005 < len(planned) / enc.n_first < 0.015
    assert (enc.fhir_status[planned] == ENCOUNTER_STATUS.index("planned")).all()
    assert (enc.fhir_status[:enc.n_first] != ENCOUNTER_STATUS.index("planned")).all()
    assert not np.isin(planned, enc.v2_rows).any()
    ids = {fhir_resource(world, "Encounter", row)["id"] for row in range(len(enc))}
    assert len(ids) == len(enc)
    for row in planned[:20].tolist():
        r = fhir_resource(world, "Encounter", row)
        assert r["status"] == "planned"
        start, updated = _instant(r["period"]["start"]), _instant(r["meta"]["lastUpdated"])
        assert start > updated  # booked at the visit, dated after it
        # The visit it was booked at: same patient, reason, class and serviceProvider, 7-60 days before.
        k = enc.n_first
        same = np.flatnonzero((enc.patient[:k] == enc.patient[row]) & (enc.code[:k] == enc.code[row])
                              & (enc.status[:k] == enc.status[row]) & (enc.org[:k] == enc.org[row]))
        gap = enc.time[row] - enc.time[same]
        visit = same[(gap % DAY == 0) & (gap >= 7 * DAY) & (gap <= 60 * DAY)]
        assert len(visit), row
        assert any(enc.time[v] + 60 + 3600 <= enc.last_updated[row] <= enc.time[v] + 60 + 4 * 3600 for v in visit)
        assert r["class"]["code"] == ENCOUNTER_CLASS[enc.status[row]]
    # Served by lastUpdated like every other encounter.
    rows, lu = enc.order(False)
    assert np.isin(planned, rows).all() and (np.diff(lu) >= 0).all() and len(rows) == len(enc)


def test_planned_encounters_never_count(bigger):
    world = bigger["32.71"]
    without = _fresh(BIGGER, "32.71")
    enc = without.kesehatan.encounters
    for name in ("patient", "time", "code", "last_updated", "status", "org", "fhir_status"):
        setattr(enc, name, getattr(enc, name)[:enc.n_first])
    enc.n_first = None
    finished = _fresh(BIGGER, "32.71")  # the same appointments, wrongly taken as visits
    f_enc = finished.kesehatan.encounters
    f_enc.fhir_status = f_enc.fhir_status.copy()
    f_enc.fhir_status[f_enc.planned_rows] = ENCOUNTER_STATUS.index("finished")
    differs = False
    for tahun in (2024, 2025, 2026):
        for updates in (False, True):
            got = expected_capaian(world, tahun, 4, fhir_updates=updates)
            assert got.equals(expected_capaian(without, tahun, 4, fhir_updates=updates))
            assert expected_terlayani_bulanan(world, tahun, fhir_updates=updates).equals(
                expected_terlayani_bulanan(without, tahun, fhir_updates=updates))
            differs |= not got.equals(expected_capaian(finished, tahun, 4, fhir_updates=updates))
    assert differs  # had they counted, some figure would have moved


# -- outsiders and visiting hubs --------------------------------------------------------------------
def test_outsiders_live_in_the_previous_kab_kota(world):
    assert neighbour_of("32.72") == "32.71" and neighbour_of("32.71") == "32.18"  # wraps to the last
    sukabumi, bogor = world["32.72"], world["32.71"]
    assert sukabumi.kesehatan.neighbour() == "32.71"
    pt = sukabumi.kesehatan.patients
    outside = np.flatnonzero(pt.village >= len(sukabumi.penduduk.desa))
    assert len(outside) and (pt.person[outside] == -1).all()
    assert {pt.villages[v] for v in pt.village[outside]} <= set(bogor.penduduk.desa_kode)
    assert (pt.nik[outside] % 10_000 >= 9001).all()
    assert (pt.nik[outside] // 10**12 == 3271).all()  # NIKs of Kota Bogor kecamatan
    for row in outside[:5].tolist():
        codes = {e["url"]: e["valueCode"] for e in
                 patient_resource(sukabumi, row, 0.0)["address"][0]["extension"][0]["extension"]}
        assert codes["city"] == "3271" and codes["village"].startswith("3271")
    b = bogor.kesehatan.patients
    assert {b.villages[v][:5] for v in b.village[b.village >= len(bogor.penduduk.desa)]} == {"32.18"}


def _outsiders_produktif(hub: KabKotaWorld, home: KabKotaWorld, tahun: int) -> dict[tuple[str, str], int]:
    """Kota Bogor residents aged 15-59 among `hub`'s patients with blood pressure, glucose and BMI
    observed in the year, from the rendered resources (second versions served), per (desa, sex)."""
    h = hub.kesehatan
    pt = h.patients
    outside = np.flatnonzero(pt.village >= len(hub.penduduk.desa))
    ref = date(tahun - 1, 12, 31)
    obs = h.observations
    rows = np.flatnonzero(np.isin(obs.patient, outside))
    seen: dict[int, set] = {}
    for row in rows.tolist():
        r = fhir_resource(hub, "Observation", row, updates=True)
        when = datetime.fromisoformat(r["effectiveDateTime"]).date()
        if when.year == tahun and r["status"] in OBSERVATION_COUNTS:
            seen.setdefault(int(obs.patient[row]), set()).add(r["code"]["coding"][0]["code"])
    out: dict[tuple[str, str], int] = {}
    for who, codes in seen.items():
        p = patient_resource(hub, who, 0.0)
        born = date.fromisoformat(p["birthDate"])
        age = ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))
        village = p["address"][0]["extension"][0]["extension"][3]["valueCode"]
        desa = f"{village[:2]}.{village[2:4]}.{village[4:6]}.{village[6:]}"
        if (15 <= age <= 59 and desa in set(home.penduduk.desa_kode) and "85354-9" in codes
                and codes & {"2339-0", "15074-8"} and "39156-5" in codes):
            key = (desa, "L" if p["gender"] == "male" else "P")
            out[key] = out.get(key, 0) + 1
    return out


def test_visitors_add_the_outsiders_of_another_hub(bigger):
    bogor, sukabumi = bigger["32.71"], bigger["32.72"]
    keys = ["kode_wilayah", "jenis_kelamin", "kode_layanan"]
    for tahun in (2024, 2025):
        alone = expected_capaian(bogor, tahun, 4, fhir_updates=True).set_index(keys)
        both = expected_capaian(bogor, tahun, 4, fhir_updates=True, visitors=[sukabumi]).set_index(keys)
        assert (both.sasaran == alone.sasaran).all()
        diff = both.terlayani - alone.terlayani
        assert (diff >= 0).all()
        expected = _outsiders_produktif(sukabumi, bogor, tahun)
        assert sum(expected.values()) > 0
        got = diff.xs("kes_usia_produktif", level="kode_layanan")
        for (desa, sex), n in got.items():
            if sex != "semua":
                assert n == expected.get((desa, sex), 0), (tahun, desa, sex)
        assert got.xs("semua", level="jenis_kelamin").sum() == sum(expected.values())
        # Every other difference is an outsider too: no more than they are, in all layanan.
        outsiders = int((sukabumi.kesehatan.patients.village >= len(sukabumi.penduduk.desa)).sum())
        assert diff.xs("semua", level="jenis_kelamin").groupby("kode_layanan").sum().max() <= outsiders
        # The months with visitors add up to the year with visitors.
        months = expected_terlayani_bulanan(bogor, tahun, fhir_updates=True, visitors=[sukabumi])
        year = both.xs("semua", level="jenis_kelamin").groupby("kode_layanan").terlayani.sum()
        for kode, n in months.groupby("kode_layanan").terlayani_baru.sum().items():
            assert n == year[kode], kode
    # A hub is never its own visitor, and Kota Bogor's outsiders (Pangandaran) never count for Sukabumi.
    assert expected_capaian(bogor, 2025, 2, visitors=[bogor]).equals(expected_capaian(bogor, 2025, 2))
    assert expected_capaian(sukabumi, 2025, 2, visitors=[bogor]).equals(expected_capaian(sukabumi, 2025, 2))

