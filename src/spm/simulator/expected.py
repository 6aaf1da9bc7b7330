"""Expected figures: what a correct pipeline must compute from the simulated sources.

`expected_capaian` applies every rule of DESIGN §5 literally to the records the servers serve
(computed from the world's arrays, not by parsing pages), per desa and sex:
- reference population: the population semester 2 of Y-1 (or `population_semester`), ages on
  31 December Y-1 for numerator and denominator alike; `kes_bbl` infants are those born in Y;
- events count by clinical date within Y up to the quarter's end (encounter period.start,
  observation effectiveDateTime; a record's date is the same in WIB and UTC); a Condition counts
  when its clinicalStatus is active (or recurrence, relapse), whatever its onset;
- FHIR statuses decide what happened: an Encounter counts when its status is arrived, triaged,
  in-progress, onleave or finished (never planned, cancelled, entered-in-error, unknown: booked
  follow-up appointments never count); an Observation when final, amended or corrected; a
  Condition only when its verificationStatus, if present, is not refuted or entered-in-error. With
  `fhir_updates=True` the served (second) versions decide, in every quarter of the year;
- a person counts once; residence is the patient's village, or the learner's
  kode_wilayah_domisili, else the school's desa. A hub's patients living outside its area (its
  outsiders) count for the kabupaten/kota they live in, when that one's figures are computed with
  the visiting hub loaded (`visitors`);
- education uses Dapodik semester (Y-1)2 for quarters 1-2 and Y1 for quarters 3-4;
- estimated sasaran = factor x the desa's population (per sex), unrounded.
It describes clean data: the transport faults change nothing, `transfers` adds only `mutasi` rows
(the figures stay the same), `fhir_updates` is followed when `fhir_updates=True`, and records hit by
`invalid_nik` are counted here as if their NIK were fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd

from spm.simulator.config import semester_date
from spm.simulator.determinism import age_on, date_parts, days
from spm.simulator.education import AKTIF, B, BENTUK, KESETARAAN_BENTUK, PAUD, STATUS
from spm.simulator.health import (
    CLINICAL_STATUS,
    DAY,
    ENCOUNTER_STATUS,
    ICD_CODES,
    OBSERVATION_STATUS,
    VERIFICATION_STATUS,
)
from spm.simulator.movers import Movers, movers_into
from spm.simulator.population import MAX_AGE, SEXES
from spm.simulator.world import KabKotaWorld

# Sasaran factors: births multipliers and prevalences/estimates (a float, or {"L": x, "P": y}).
# The prevalences are the simulator's defaults, not official figures: pass the project's own.
DEFAULT_FAKTOR: dict[str, float | dict[str, float]] = {
    "kes_ibu_hamil": 1.10,
    "kes_ibu_bersalin": 1.05,
    "kes_bbl": 1.0,
    "kes_hipertensi": 0.30,
    "kes_dm": 0.022,
    "kes_odgj_berat": 0.0017,
    "kes_terduga_tb": 0.0066,
    "kes_risiko_hiv": 0.01,
    "pend_disabilitas_anak": 0.033,
}
# Formal schools for the pend_kesetaraan sasaran (non-formal: KB, TPA, SPS, PKBM, SKB).
FORMAL_BENTUK = ("TK", "SD", "SMP", "SDLB", "SMPLB", "SMA", "SMK", "SMALB", "SLB")
DASAR_BENTUK = ("SD", "SMP", "SDLB", "SMPLB")
NO_SEX_SPLIT = ("kes_ibu_hamil", "kes_ibu_bersalin")
KODE_LAYANAN = (
    "pend_paud", "pend_dasar", "pend_kesetaraan", "kes_ibu_hamil", "kes_ibu_bersalin", "kes_bbl",
    "kes_balita", "kes_usia_dikdas", "kes_usia_produktif", "kes_usia_lanjut", "kes_hipertensi",
    "kes_dm", "kes_odgj_berat", "kes_terduga_tb", "kes_risiko_hiv",
)
# The province's own jenis pelayanan dasar (katalog tingkat_pemerintahan provinsi).
PROVINSI_LAYANAN = ("pend_menengah", "pend_khusus")
MENENGAH_BENTUK = ("SMA", "SMK")
KHUSUS_BENTUK = ("SLB", "SDLB", "SMPLB", "SMALB")
NEVER = np.iinfo(np.int64).max
GLUCOSE = ("2339-0", "15074-8")
# DESIGN §5: the FHIR statuses that count (this oracle's own reading of the rule).
COUNTED_ENCOUNTER_STATUS = ("arrived", "triaged", "in-progress", "onleave", "finished")
COUNTED_OBSERVATION_STATUS = ("final", "amended", "corrected")
COUNTED_CLINICAL_STATUS = ("active", "recurrence", "relapse")
REFUSED_VERIFICATION_STATUS = ("refuted", "entered-in-error")


def quarter_end(tahun: int, triwulan: int) -> date:
    if triwulan not in (1, 2, 3, 4):
        raise ValueError(f"triwulan {triwulan!r} must be 1..4")
    return date(tahun, 3, 31) if triwulan == 1 else date(tahun, 6, 30) if triwulan == 2 else \
        date(tahun, 9, 30) if triwulan == 3 else date(tahun, 12, 31)


def reference_date(tahun: int) -> date:
    return date(tahun - 1, 12, 31)


def dapodik_semester_for(tahun: int, triwulan: int) -> int:
    quarter_end(tahun, triwulan)
    return (tahun - 1) * 10 + 2 if triwulan <= 2 else tahun * 10 + 1


# -- simple counts for ingest tests ---------------------------------------------------------
def expected_population_totals(world: KabKotaWorld, tahun: int, semester: int) -> dict[str, int]:
    counts = world.penduduk.semester_counts(tahun, semester)
    l, p = (int(counts[:, s].sum()) for s in (0, 1))
    return {"L": l, "P": p, "jumlah": l + p, "rows": counts.size}


def expected_births(world: KabKotaWorld, tahun: int) -> dict[str, int]:
    counts = world.penduduk.birth_counts(tahun)
    l, p = (int(counts[:, :, s].sum()) for s in (0, 1))
    return {"L": l, "P": p, "jumlah": l + p, "rows": counts.size}


def expected_school_counts(world: KabKotaWorld) -> dict[str, int]:
    """Schools per bentuk_pendidikan (the same in every semester)."""
    found = np.bincount(world.pendidikan.schools.bentuk, minlength=len(BENTUK))
    return {name: int(n) for name, n in zip(BENTUK, found)}


def expected_learner_rows(world: KabKotaWorld, semester_id: int, transfer_share: float = 0.0) -> dict[str, int]:
    """Learner rows of a semester by status, and in all ("rows")."""
    learners = world.pendidikan.learners(semester_id, transfer_share)
    found = np.bincount(learners.status, minlength=len(STATUS))
    out = {name: int(n) for name, n in zip(STATUS, found)}
    out["rows"] = len(learners)
    return out


def _epoch(moment: datetime | None, default: float) -> float:
    if moment is None:
        return default
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def expected_resource_count(world: KabKotaWorld, kind: str, ge: datetime | None = None,
                            lt: datetime | None = None, fhir_updates: bool = False) -> int:
    """Resources of a type the FHIR search `_lastUpdated=ge..&_lastUpdated=lt..` returns."""
    h = world.kesehatan
    lu = h.patients.last_updated if kind == "Patient" else h.all_resources[kind].current(fhir_updates)[0]
    lo, hi = _epoch(ge, -np.inf), _epoch(lt, np.inf)
    return int(((lu >= lo) & (lu < hi)).sum())


# -- indicators ---------------------------------------------------------------------------
def _kth_day(owner: np.ndarray, day: np.ndarray, k: int, n_owners: int) -> np.ndarray:
    """Per owner, the day of their k-th record (NEVER with fewer than k)."""
    out = np.full(n_owners, NEVER, dtype=np.int64)
    if not len(owner):
        return out
    order = np.lexsort((day, owner))
    owner, day = owner[order], day[order]
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    counts = np.diff(np.r_[starts, len(owner)])
    enough = counts >= k
    out[owner[starts[enough]]] = day[starts[enough] + k - 1]
    return out


def _icd_mask(codes: np.ndarray, prefixes: tuple[str, ...]) -> np.ndarray:
    wanted = [i for i, c in enumerate(ICD_CODES) if c.startswith(prefixes)]
    return np.isin(codes, wanted)


def _icd_range(letter: str, first: int, last: int) -> tuple[str, ...]:
    """ICD-10 categories of a range, e.g. I10-I15 -> ('I10', ..., 'I15')."""
    return tuple(f"{letter}{n:02d}" for n in range(first, last + 1))


def _factor(faktor: dict, kode: str) -> np.ndarray:
    value = faktor[kode]
    if isinstance(value, dict):
        return np.array([float(value["L"]), float(value["P"])])
    return np.array([float(value), float(value)])


def _counted(index: np.ndarray | None, names: tuple[str, ...], counted: tuple[str, ...]) -> np.ndarray | bool:
    """Rows whose status (an index into `names`) is one of `counted`; all rows without a status."""
    if index is None:
        return True
    return np.isin(index, [i for i, name in enumerate(names) if name in counted])


class _HealthFacts:
    """Per patient of a hub: residence (a desa of `target`), sex, age on the reference date, and the
    day each standard was met. With `target` another kabupaten/kota, only the hub's patients living
    outside the hub's own area in a desa of `target` are residents."""

    def __init__(self, world: KabKotaWorld, tahun: int, faktor_codes: tuple[tuple[str, ...], tuple[str, ...]],
                 fhir_updates: bool, target: KabKotaWorld | None = None):
        h = world.kesehatan
        pt = h.patients
        n = len(pt)
        own_desa = len(world.penduduk.desa)
        if target is None or target.kode == world.kode:
            self.n_desa = own_desa
            self.resident = pt.village < own_desa
            self.desa = pt.village
        else:
            desa_of = {kode: i for i, kode in enumerate(target.penduduk.desa_kode)}
            lookup = np.array([desa_of.get(kode, -1) for kode in pt.villages], dtype=np.int64)
            desa = lookup[pt.village]
            self.n_desa = len(target.penduduk.desa)
            self.resident = (pt.village >= own_desa) & (desa >= 0)
            self.desa = np.where(self.resident, desa, 0)
        self.sex = pt.sex
        year, month, day_ = date_parts(pt.birth)
        self.age = age_on(year, month, day_, reference_date(tahun))
        first, last = days(date(tahun, 1, 1)), days(date(tahun, 12, 31))

        def in_year(res, names, counted):
            _, code, status = res.current(fhir_updates)
            fhir_status, _ = res.current_statuses(fhir_updates)
            d = res.time // DAY
            keep = (d >= first) & (d <= last) & _counted(fhir_status, names, counted)
            return res.patient[keep], d[keep], code[keep], (status[keep] if status is not None else None)

        e_pat, e_day, e_code, _ = in_year(h.encounters, ENCOUNTER_STATUS, COUNTED_ENCOUNTER_STATUS)
        o_pat, o_day, o_code, _ = in_year(h.observations, OBSERVATION_STATUS, COUNTED_OBSERVATION_STATUS)
        loinc = np.array(h.loinc_codes)

        def obs(codes) -> np.ndarray:
            mask = np.isin(loinc[o_code], codes)
            return _kth_day(o_pat[mask], o_day[mask], 1, n)

        def enc(prefixes, k=1) -> np.ndarray:
            mask = _icd_mask(e_code, prefixes)
            return _kth_day(e_pat[mask], e_day[mask], k, n)

        _, c_code, c_status = h.conditions.current(fhir_updates)
        _, c_verification = h.conditions.current_statuses(fhir_updates)
        active = _counted(c_status, CLINICAL_STATUS, COUNTED_CLINICAL_STATUS)
        if c_verification is not None:
            refused = _counted(c_verification, VERIFICATION_STATUS, REFUSED_VERIFICATION_STATUS)
            active = active & ~(refused & (c_verification >= 0))

        def has_condition(prefixes) -> np.ndarray:
            out = np.zeros(n, dtype=bool)
            out[h.conditions.patient[active & _icd_mask(c_code, prefixes)]] = True
            return out

        bp, glucose = obs(("85354-9",)), obs(GLUCOSE)
        born_in_year = (pt.birth >= first) & (pt.birth <= last)
        neonatal = _icd_mask(e_code, ("Z00.1",))
        windows = []
        for lo, hi in ((0, 2), (3, 7), (8, 28)):
            age_days = e_day - pt.birth[e_pat]
            mask = neonatal & (age_days >= lo) & (age_days <= hi)
            windows.append(_kth_day(e_pat[mask], e_day[mask], 1, n))
        weights = np.isin(loinc[o_code], ("29463-7",))
        heights = np.isin(loinc[o_code], ("8302-2",))
        tb_codes, hiv_codes = faktor_codes
        a = self.age
        self.met = {
            "kes_ibu_hamil": np.where(self.sex == 1, enc(("Z34", "Z35"), 6), NEVER),
            "kes_ibu_bersalin": np.where(self.sex == 1, enc(_icd_range("O", 80, 84)), NEVER),
            "kes_bbl": np.where(born_in_year, np.maximum.reduce(windows), NEVER),
            "kes_balita": np.where((a >= 0) & (a <= 4), np.maximum(
                _kth_day(o_pat[weights], o_day[weights], 8, n), _kth_day(o_pat[heights], o_day[heights], 2, n)), NEVER),
            "kes_usia_dikdas": np.where((a >= 7) & (a <= 15), enc(("Z00.0", "Z00.1", "Z00.2", "Z00.3")), NEVER),
            "kes_usia_produktif": np.where((a >= 15) & (a <= 59), np.maximum.reduce(
                [bp, glucose, obs(("39156-5",))]), NEVER),
            "kes_usia_lanjut": np.where(a >= 60, np.maximum.reduce([bp, glucose, obs(("2093-3",))]), NEVER),
            "kes_hipertensi": np.where((a >= 15) & has_condition(_icd_range("I", 10, 15)), bp, NEVER),
            "kes_dm": np.where((a >= 15) & has_condition(_icd_range("E", 10, 14)),
                               obs((*GLUCOSE, "4548-4")), NEVER),
            "kes_odgj_berat": np.where(has_condition(_icd_range("F", 20, 29)), _kth_day(e_pat, e_day, 1, n), NEVER),
            "kes_terduga_tb": obs(tuple(tb_codes)),
            "kes_risiko_hiv": obs(tuple(hiv_codes)),
        }

    def count(self, kode: str, until: int) -> np.ndarray:
        """Patients who met the standard by day `until`, per [desa, sex]."""
        met = self.resident & (self.met[kode] <= until)
        cell = self.desa[met].astype(np.int64) * 2 + self.sex[met]
        return np.bincount(cell, minlength=self.n_desa * 2).reshape(self.n_desa, 2)


def _health_facts(world: KabKotaWorld, tahun: int, tb_test_loinc, hiv_test_loinc, fhir_updates: bool,
                  visitors: Sequence[KabKotaWorld]) -> list[_HealthFacts]:
    """The facts of `world`'s own hub, then those of each visiting hub for `world`'s residents."""
    codes = (tb_test_loinc or world.config.tb_test_loinc, hiv_test_loinc or world.config.hiv_test_loinc)
    facts = [_HealthFacts(world, tahun, codes, fhir_updates)]
    for hub in visitors:
        if hub.kode != world.kode:
            facts.append(_HealthFacts(hub, tahun, codes, fhir_updates, target=world))
    return facts


def _education_masks(age, bentuk, program, aktif) -> dict[str, np.ndarray]:
    """Which learner rows each education rule counts (and formal 7-18, for the kesetaraan sasaran)."""
    def of(names) -> np.ndarray:
        return np.isin(bentuk, [B[name] for name in names])

    return {
        "pend_paud": aktif & of(PAUD) & (age >= 5) & (age <= 6),
        "pend_dasar": aktif & of(DASAR_BENTUK) & (age >= 7) & (age <= 15),
        "pend_kesetaraan": aktif & (program > 0) & of(KESETARAAN_BENTUK) & (age >= 7) & (age <= 18),
        "formal_7_18": aktif & of(FORMAL_BENTUK) & (age >= 7) & (age <= 18),
        "pend_menengah": aktif & of(MENENGAH_BENTUK) & (age >= 16) & (age <= 18),
        "pend_khusus": aktif & of(KHUSUS_BENTUK) & (age >= 4) & (age <= 18),
    }


def _mover_counts(world: KabKotaWorld, movers: Movers | None, tahun: int) -> dict[str, np.ndarray]:
    """Per education rule, the learners who moved into `world` (distinct persons of another
    Penduduk, aktif at a school of the same bentuk, living at their new address) per [desa, sex]."""
    n_desa = len(world.penduduk.desa)
    if movers is None or not len(movers):
        return {}
    origin = movers.origin_world
    learners = origin.pendidikan.learners(movers.semester_id)
    age = origin.penduduk.age_on(reference_date(tahun))[movers.person]
    bentuk = world.pendidikan.schools.bentuk[movers.school]
    masks = _education_masks(age, bentuk, learners.program[movers.origin_row], np.ones(len(movers), bool))
    cell = movers.desa * 2 + origin.penduduk.sex[movers.person]
    return {k: np.bincount(cell[m], minlength=n_desa * 2).reshape(n_desa, 2) for k, m in masks.items()}


def _education_terlayani(world: KabKotaWorld, semester_id: int, tahun: int, movers: Movers | None = None):
    """Distinct aktif learners per [desa, sex] for every education rule and formal 7-18, with the
    learners who moved in (`movers`)."""
    e, p = world.pendidikan, world.penduduk
    learners = e.learners(semester_id)
    age = p.age_on(reference_date(tahun))[learners.person]
    bentuk = e.schools.bentuk[learners.school]
    residence = e.residence_desa(learners)
    n_desa = len(p.desa)

    def distinct(mask) -> np.ndarray:
        person, first = np.unique(learners.person[mask], return_index=True)
        desa = residence[mask][first]
        cell = desa.astype(np.int64) * 2 + p.sex[person]
        return np.bincount(cell, minlength=n_desa * 2).reshape(n_desa, 2)

    out = {k: distinct(m) for k, m in _education_masks(age, bentuk, learners.program,
                                                        learners.status == AKTIF).items()}
    for k, counts in _mover_counts(world, movers, tahun).items():
        out[k] = out[k] + counts
    return out


def _sasaran(world: KabKotaWorld, tahun: int, faktor: dict, pop: np.ndarray,
             formal_7_18: np.ndarray) -> dict[str, np.ndarray]:
    """Sasaran per [desa, sex] (float, unrounded)."""
    births = world.penduduk.birth_counts(tahun - 1).sum(axis=0).astype(float)

    def ages(lo, hi=MAX_AGE) -> np.ndarray:
        return pop[:, :, lo: hi + 1].sum(axis=2).astype(float)

    everyone = ages(0)
    return {
        "pend_paud": ages(5, 6),
        "pend_dasar": ages(7, 15),
        "pend_kesetaraan": ages(7, 18) - formal_7_18,
        "kes_ibu_hamil": births * _factor(faktor, "kes_ibu_hamil"),
        "kes_ibu_bersalin": births * _factor(faktor, "kes_ibu_bersalin"),
        "kes_bbl": births * _factor(faktor, "kes_bbl"),
        "kes_balita": ages(0, 4),
        "kes_usia_dikdas": ages(7, 15),
        "kes_usia_produktif": ages(15, 59),
        "kes_usia_lanjut": ages(60),
        "kes_hipertensi": ages(15) * _factor(faktor, "kes_hipertensi"),
        "kes_dm": ages(15) * _factor(faktor, "kes_dm"),
        "kes_odgj_berat": everyone * _factor(faktor, "kes_odgj_berat"),
        "kes_terduga_tb": everyone * _factor(faktor, "kes_terduga_tb"),
        "kes_risiko_hiv": everyone * _factor(faktor, "kes_risiko_hiv"),
        "pend_menengah": ages(16, 18),
        "pend_khusus": ages(4, 18) * _factor(faktor, "pend_disabilitas_anak"),
    }


def expected_capaian(
    world: KabKotaWorld,
    tahun: int,
    triwulan: int,
    faktor: dict | None = None,
    tb_test_loinc: tuple[str, ...] | None = None,
    hiv_test_loinc: tuple[str, ...] | None = None,
    fhir_updates: bool = False,
    population_semester: tuple[int, int] | None = None,
    visitors: Sequence[KabKotaWorld] = (),
    layanan: Sequence[str] = KODE_LAYANAN,
) -> pd.DataFrame:
    """Sasaran and terlayani of every jenis layanan per desa and sex, year-to-date through a quarter.
    `layanan`: the kab/kota SPM by default; PROVINSI_LAYANAN are the province's own.

    Columns: tahun, triwulan, kode_wilayah (desa), jenis_kelamin (L, P, semua; `semua` only for
    kes_ibu_hamil and kes_ibu_bersalin), kode_layanan, sasaran (float), terlayani (int),
    population_semester ("YYYY-S" used). One row per desa, sex and layanan, zeros included.

    `visitors`: other FHIR hubs loaded in the same warehouse. Their patients who live outside the
    hub's own kabupaten/kota (outsiders) in a desa of `world` count for `world`, in that desa, by
    their own records, age and sex under the same rules. Outsiders are distinct persons (their NIKs
    are never those of `world`'s natives, nor of another hub's outsiders), so their counts are simply
    added to those of `world`'s own hub.
    """
    faktor = {**DEFAULT_FAKTOR, **(faktor or {})}
    end = days(quarter_end(tahun, triwulan))
    population_semester = population_semester or (tahun - 1, 2)
    pop = world.penduduk.counts_on(semester_date(*population_semester))
    semester_id = dapodik_semester_for(tahun, triwulan)
    education = _education_terlayani(world, semester_id, tahun, _movers(world, visitors, semester_id))
    sasaran = _sasaran(world, tahun, faktor, pop, education.pop("formal_7_18"))
    health = _health_facts(world, tahun, tb_test_loinc, hiv_test_loinc, fhir_updates, visitors)
    desa = world.penduduk.desa_kode
    frames = []
    for kode in layanan:
        served = education[kode] if kode in education else sum(h.count(kode, end) for h in health)
        target = sasaran[kode]
        if kode in NO_SEX_SPLIT:
            cuts = [("semua", target.sum(axis=1), served.sum(axis=1))]
        else:
            cuts = [(sex, target[:, s], served[:, s]) for s, sex in enumerate(SEXES)]
            cuts.append(("semua", target.sum(axis=1), served.sum(axis=1)))
        for sex, t, s in cuts:
            frames.append(pd.DataFrame({
                "kode_wilayah": desa, "jenis_kelamin": sex, "kode_layanan": kode,
                "sasaran": t.astype(float), "terlayani": s.astype(np.int64),
            }))
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "triwulan", triwulan)
    out.insert(0, "tahun", tahun)
    out["population_semester"] = f"{population_semester[0]}-{population_semester[1]}"
    return out


def _movers(world: KabKotaWorld, others: Sequence[KabKotaWorld], semester_id: int) -> Movers | None:
    worlds = {w.kode: w for w in others}
    return movers_into(world, worlds, semester_id)


def expected_terlayani_bulanan(
    world: KabKotaWorld,
    tahun: int,
    tb_test_loinc: tuple[str, ...] | None = None,
    hiv_test_loinc: tuple[str, ...] | None = None,
    fhir_updates: bool = False,
    visitors: Sequence[KabKotaWorld] = (),
) -> pd.DataFrame:
    """Health layanan: persons per desa and sex whose standard was first met in each month of the year.

    Columns: tahun, bulan, kode_wilayah, jenis_kelamin (L/P, or semua for ibu hamil/bersalin),
    kode_layanan, terlayani_baru. Only non-zero cells. The months add up to the year's terlayani.
    `visitors` as in `expected_capaian`: the outsiders of those hubs living in `world` are added
    (distinct persons), each in the month their own standard was first met.
    """
    desa = np.asarray(world.penduduk.desa_kode)
    last = days(date(tahun, 12, 31))
    frames = []
    for health in _health_facts(world, tahun, tb_test_loinc, hiv_test_loinc, fhir_updates, visitors):
        for kode, met in health.met.items():
            ok = health.resident & (met <= last)
            month = date_parts(met[ok])[1]
            sex = np.array(SEXES)[health.sex[ok]] if kode not in NO_SEX_SPLIT else np.full(ok.sum(), "semua")
            frames.append(pd.DataFrame({
                "bulan": month, "kode_wilayah": desa[health.desa[ok]], "jenis_kelamin": sex, "kode_layanan": kode,
            }))
    rows = pd.concat(frames, ignore_index=True)
    out = rows.groupby(["bulan", "kode_wilayah", "jenis_kelamin", "kode_layanan"], as_index=False).size()
    out = out.rename(columns={"size": "terlayani_baru"})
    out.insert(0, "tahun", tahun)
    return out


def roll_up(capaian: pd.DataFrame, tingkat: str) -> pd.DataFrame:
    """Sum desa rows of `expected_capaian` to kecamatan or kabupaten_kota."""
    parts = {"kecamatan": 3, "kabupaten_kota": 2}[tingkat]
    out = capaian.copy()
    out["kode_wilayah"] = out["kode_wilayah"].str.split(".").str[:parts].str.join(".")
    keys = ["tahun", "triwulan", "kode_wilayah", "jenis_kelamin", "kode_layanan", "population_semester"]
    return out.groupby(keys, as_index=False)[["sasaran", "terlayani"]].sum()
