"""The clinical events of the simulated FHIR world, by programme, as records per person before they
become Resources tables (spm.simulator.health_assembly).

Coverage varies between desa (a health-service quality per desa, 0.3 .. 1), and a share of people
fall just short of each standard (5 ANC visits, 7 weighings, a third neonatal visit on day 29, a
screening without glucose, a condition without follow-up, a code just outside a range), so
thresholds and windows decide the figures. Programmes: pregnancies (antenatal care, HIV tests,
deliveries, neonatal visits), balita weighings and heights, screenings of school children and
adults, chronic conditions with their yearly follow-up, TB and HIV tests, ordinary sick visits, and
the outsiders: patients of the neighbouring kabupaten/kota (`neighbour_of`) who use this area's
facilities. Clinical times fall between 07:00 and 20:00 WIB. Every draw comes from the one
`kesehatan` stream in a fixed order: changing the order changes every later number.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from spm import reference
from spm.simulator.config import HEALTH_FIRST_YEAR, LAST_YEAR, REFERENCE_DATE, SimulatorConfig
from spm.simulator.determinism import date_parts, days, rng, stream_key, uuid_text
from spm.simulator.health_codes import DAY, HEALTH_END, HEALTH_START, ICD
from spm.simulator.population import Penduduk


def neighbour_of(kode: str) -> str | None:
    """The previous kabupaten/kota by code in the province of `kode`, wrapping to the last one for
    the first; None when the province has no other."""
    prov = kode.split(".")[0]
    codes = sorted(w.kode for w in reference.children(prov, "kabupaten_kota"))
    if kode not in codes or len(codes) < 2:
        return None
    return codes[codes.index(kode) - 1]


class _Events:
    """Collects generated records (by person) before they become a Resources table."""

    # Compact column types keep a full-size kabupaten/kota (10 million records) in modest memory.
    DTYPES = {"person": np.int32, "time": np.int64, "code": np.int16, "value": np.float32,
              "value2": np.float32, "org": np.int16, "status": np.int8}

    def __init__(self):
        self.cols: dict[str, list[np.ndarray]] = {}

    def add(self, **cols):
        n = len(cols["person"])
        for name, values in cols.items():
            values = np.asarray(values, dtype=self.DTYPES[name])
            self.cols.setdefault(name, []).append(np.broadcast_to(values, (n,)) if values.ndim == 0 else values)

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: np.concatenate(parts) for name, parts in self.cols.items()}
        self.cols.clear()
        return arrays


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


class HealthEvents:
    """The clinical events of one kabupaten/kota, drawn from `gen` (the `kesehatan` stream)."""

    def __init__(self, config: SimulatorConfig, penduduk: Penduduk, loinc: dict[str, int], gen: np.random.Generator):
        self.config = config
        self.penduduk = penduduk
        self.kode = penduduk.kode_kab_kota
        self.loinc = loinc
        self._gen = gen
        self.quality = 0.3 + 0.7 * gen.beta(2.0, 1.5, len(penduduk.desa))  # per desa
        self.organizations = self._organizations()
        self._enc, self._obs, self._cond = _Events(), _Events(), _Events()
        # The outsiders as patients: (birth, sex, their villages' codes, village index, nik), or None.
        self.outside: tuple | None = None

    def generate(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Every programme in its fixed order; the Encounter, Observation and Condition columns by person."""
        self._pregnancies()
        for year in range(HEALTH_FIRST_YEAR, LAST_YEAR + 1):
            self._balita(year)
            self._screenings(year)
            self._tests(year)
            self._other_visits(year)
        self._chronic()
        self._outsiders()
        return self._enc.arrays(), self._obs.arrays(), self._cond.arrays()

    # -- helpers ---------------------------------------------------------------------------
    def _q(self, person: np.ndarray) -> np.ndarray:
        return self.quality[self.penduduk.desa_idx[person]]

    def _instant(self, day: np.ndarray) -> np.ndarray:
        """A clinical instant on the given days, between 07:00 and 20:00 WIB (00:00-13:00 UTC)."""
        return day.astype(np.int64) * DAY + self._gen.integers(0, 13 * 3600, len(day))

    def _months(self, person: np.ndarray, k: np.ndarray, year: int) -> tuple[np.ndarray, np.ndarray]:
        """`k[i]` distinct months of `year` for each person, a day in each: (owner, day)."""
        gen = self._gen
        k = np.minimum(k, 12)
        months = np.argsort(gen.random((len(person), 12)), axis=1)
        take = np.arange(12)[None, :] < k[:, None]
        owner = np.repeat(person, k)
        month = months[take]
        first = (np.datetime64(f"{year}-01") + month.astype("timedelta64[M]")).astype("datetime64[D]")
        day = first.astype(np.int64) + gen.integers(0, 28, len(owner))
        return owner, day

    def _organizations(self) -> list[str]:
        """Puskesmas per kecamatan and a few hospitals, as Organization ids."""
        key = stream_key(self.config.seed, self.kode, "organization")
        n = len(reference.children(self.kode, "kecamatan")) + 3
        return [uuid_text(key, i) for i in range(n)]

    def _org_of(self, person: np.ndarray, hospital: bool = False) -> np.ndarray:
        """The puskesmas of the person's kecamatan, or one of the hospitals."""
        if hospital:
            return len(self.organizations) - 1 - self._gen.integers(0, 3, len(person))
        kec = np.array(
            [int(w.kode_induk.rsplit(".", 1)[1]) for w in self.penduduk.desa], dtype=np.int64
        )
        return (kec[self.penduduk.desa_idx[person]] - 1) % (len(self.organizations) - 3)

    def _encounter(self, person, day, code, hospital=False, klass=0):
        self._enc.add(
            person=person, time=self._instant(day), code=code, org=self._org_of(person, hospital), status=klass
        )

    def _observe(self, person, day, loinc, value, value2=np.nan):
        self._obs.add(person=person, time=self._instant(day), code=self.loinc[loinc], value=value, value2=value2)

    def _pick(self, codes: tuple[str, ...], shares: tuple[float, ...], n: int) -> np.ndarray:
        return np.array([ICD[c] for c in codes])[self._gen.choice(len(codes), n, p=np.array(shares) / sum(shares))]

    # -- maternal and newborn ----------------------------------------------------------------
    def _pregnancies(self):
        gen, p = self._gen, self.penduduk
        born = np.flatnonzero(p.registered_at_birth & (p.birth >= HEALTH_START) & (p.birth <= HEALTH_END))
        # Pregnancies ending in 2027 have their antenatal care in 2026; they have no infant yet.
        last_year = born[p.birth[born] > HEALTH_END - 365]
        n_future = gen.poisson(0.75 * len(last_year))
        future_desa = p.desa_idx[gen.choice(last_year, n_future)] if len(last_year) else np.zeros(0, np.int64)
        delivery = np.concatenate([p.birth[born], gen.integers(HEALTH_END + 1, HEALTH_END + 274, n_future)])
        desa = np.concatenate([p.desa_idx[born], future_desa])
        mother = self._mothers(desa)

        q = self._q(mother)
        covered = gen.random(len(mother)) < 0.55 + 0.4 * q
        visits = np.where(
            covered,
            gen.choice([6, 7, 8, 9, 10], len(mother), p=[0.35, 0.25, 0.2, 0.12, 0.08]),
            gen.choice([1, 2, 3, 4, 5], len(mother), p=[0.05, 0.1, 0.15, 0.3, 0.4]),
        )
        first = delivery - 280 + 7 * gen.integers(6, 15, len(mother))
        owner = np.repeat(np.arange(len(mother)), visits)
        is_first = np.r_[True, owner[1:] != owner[:-1]]
        span = np.maximum(delivery[owner] - 3 - first[owner], 1)
        day = np.where(is_first, first[owner], first[owner] + 1 + (gen.random(len(owner)) * span).astype(np.int64))
        reason = self._pick(("Z34.0", "Z34.8", "Z34.9", "Z35.9", "Z36"), (0.3, 0.3, 0.3, 0.07, 0.03), len(owner))
        self._encounter(mother[owner], day, reason)
        # Triple elimination: an HIV test at the first visit, where the puskesmas has the kits.
        tested = is_first & (gen.random(len(owner)) < 0.6 * q[owner])
        hiv = self.config.hiv_test_loinc
        self._observe(mother[owner][tested], day[tested], hiv[0], (gen.random(tested.sum()) < 0.003).astype(float))

        # Deliveries at a facility (home births leave no record) and neonatal visits.
        n_born = len(born)
        at_facility = gen.random(n_born) < 0.75 + 0.25 * q[:n_born]
        mothers_born = mother[:n_born][at_facility]
        self._encounter(
            mothers_born, p.birth[born][at_facility],
            self._pick(("O80", "O82", "O81", "O83", "O84"), (0.6, 0.25, 0.05, 0.05, 0.05), at_facility.sum()),
            hospital=True, klass=1,
        )
        qi = self._q(born)
        windows = ((0, 2, 0.85 + 0.1 * qi), (3, 7, 0.75 + 0.2 * qi), (8, 28, 0.65 + 0.3 * qi))
        for lo, hi, share in windows:
            seen = gen.random(n_born) < share
            day = p.birth[born][seen] + gen.integers(lo, hi + 1, seen.sum())
            self._encounter(born[seen], day, np.full(seen.sum(), ICD["Z00.1"]))
        late = gen.random(n_born) < 0.08  # the third visit a day or a week too late
        self._encounter(born[late], p.birth[born][late] + gen.integers(29, 36, late.sum()),
                        np.full(late.sum(), ICD["Z00.1"]))

    def _mothers(self, desa: np.ndarray) -> np.ndarray:
        """A woman of the desa aged 18-40 on 31 Dec 2024 for each pregnancy (any desa if none)."""
        p, gen = self.penduduk, self._gen
        age = p.age_on(REFERENCE_DATE)
        women = np.flatnonzero((p.sex == 1) & (age >= 18) & (age <= 40) & p.present_on(REFERENCE_DATE))
        women = women[np.argsort(p.desa_idx[women], kind="stable")]
        first = np.searchsorted(p.desa_idx[women], desa, side="left")
        count = np.searchsorted(p.desa_idx[women], desa, side="right") - first
        u = gen.random(len(desa))
        local = women[np.minimum(first + (u * count).astype(np.int64), len(women) - 1)]
        anywhere = women[(u * len(women)).astype(np.int64)]
        return np.where(count > 0, local, anywhere)

    # -- children, screenings, chronic conditions, tests ---------------------------------------
    def _balita(self, year: int):
        gen, p = self._gen, self.penduduk
        ref = date(year - 1, 12, 31)
        child = np.flatnonzero(p.present_on(ref) & (p.age_on(ref) <= 4) & (p.birth <= days(ref)))
        q = self._q(child)
        covered = gen.random(len(child)) < 0.45 + 0.5 * q
        n_weight = np.where(covered, 8 + gen.binomial(4, 0.5, len(child)), gen.choice(8, len(child), p=[
            0.15, 0.05, 0.05, 0.1, 0.1, 0.15, 0.2, 0.2]))
        n_height = np.where(covered, 2 + gen.binomial(2, 0.5, len(child)), gen.choice(4, len(child), p=[
            0.2, 0.4, 0.3, 0.1]))
        for loinc, n in (("29463-7", n_weight), ("8302-2", n_height)):
            owner, day = self._months(child, n, year)
            months_old = (day - p.birth[owner]) / 30.4
            if loinc == "29463-7":
                value = 3.3 + 9.5 * (1 - np.exp(-months_old / 9)) + 0.15 * months_old
            else:
                value = 50 + 28 * (1 - np.exp(-months_old / 10)) + 0.55 * months_old
            value = np.round(value * gen.normal(1, 0.06, len(owner)), 1)
            self._observe(owner, day, loinc, value)
        # Infants born this year are weighed too; they are no balita sasaran of this year.
        infant = np.flatnonzero(p.registered_at_birth & (p.birth >= days(date(year, 1, 1)))
                                & (p.birth <= days(date(year, 12, 31))))
        weighed = infant[gen.random(len(infant)) < 0.6]
        for month in (1, 2, 3):
            self._observe(weighed, p.birth[weighed] + 30 * month, "29463-7",
                          np.round(3.3 + 0.9 * month + gen.normal(0, 0.3, len(weighed)), 1))

    def _screenings(self, year: int):
        gen, p = self._gen, self.penduduk
        ref = date(year - 1, 12, 31)
        present = p.present_on(ref)
        age = p.age_on(ref)
        start = days(date(year, 1, 1))

        dikdas = np.flatnonzero(present & (age >= 7) & (age <= 15))
        seen = dikdas[gen.random(len(dikdas)) < 0.45 + 0.5 * self._q(dikdas)]
        day = start + gen.integers(0, 365, len(seen))
        by_age = np.where(age[seen] <= 11, ICD["Z00.1"], ICD["Z00.3"])
        other = gen.random(len(seen))
        reason = np.where(other < 0.05, ICD["Z01.0"], np.where(other < 0.12, ICD["Z00.2"], by_age))
        self._encounter(seen, day, reason)

        for lo, hi, base, third in ((15, 59, 0.3, "39156-5"), (60, 200, 0.35, "2093-3")):
            group = np.flatnonzero(present & (age >= lo) & (age <= hi))
            u = gen.random(len(group))
            full = u < base + 0.4 * self._q(group)
            partial = ~full & (u < base + 0.4 * self._q(group) + 0.15)
            day = start + gen.integers(0, 365, len(group))
            self._bp(group[full | partial], day[full | partial])
            glucose_to = group[full] if lo == 15 else group[full | partial]
            glucose_day = day[full] if lo == 15 else day[full | partial]
            self._glucose(glucose_to, glucose_day)
            third_to = group[full | partial] if lo == 15 else group[full]
            third_day = day[full | partial] if lo == 15 else day[full]
            if third == "39156-5":
                # Clipped to plausible bodies: clean data stays inside kualitas.yaml's physiological bounds.
                value = np.clip(np.round(gen.normal(24.5, 4.0, len(third_to)), 1), 13.0, 60.0)
            else:
                value = np.clip(np.round(gen.normal(195, 35, len(third_to))), 90.0, 400.0)
            self._observe(third_to, third_day, third, value)

    def _bp(self, person, day):
        gen = self._gen
        sys_ = np.round(gen.normal(128, 18, len(person)))
        self._observe(person, day, "85354-9", sys_, np.round(sys_ * 0.64 + gen.normal(0, 6, len(person))))

    def _glucose(self, person, day, hba1c_share: float = 0.0):
        gen = self._gen
        u = gen.random(len(person))
        mg = np.round(gen.lognormal(np.log(110), 0.25, len(person)))
        a1c = u < hba1c_share
        mass = ~a1c & (u < hba1c_share + (1 - hba1c_share) * 0.7)
        moles = ~a1c & ~mass
        self._observe(person[mass], day[mass], "2339-0", mg[mass])
        self._observe(person[moles], day[moles], "15074-8", np.round(mg[moles] / 18.0, 1))
        self._observe(person[a1c], day[a1c], "4548-4", np.clip(np.round(gen.normal(7.2, 1.2, a1c.sum()), 1), 4.0, 15.0))

    def _chronic(self):
        """Hypertension, diabetes and severe mental illness: one Condition each, yearly follow-up."""
        gen, p = self._gen, self.penduduk
        present = p.present_on(REFERENCE_DATE)
        age = p.age_on(REFERENCE_DATE)
        adult = present & (age >= 15)
        groups = (
            # (share of adults by age, near-miss share, codes, their shares, near-miss code, follow-up)
            (0.02 + 0.35 * _sigmoid((age - 55) / 8), 0.015,
             ("I10", "I11.9", "I12.9", "I13.9", "I15.9"), (0.85, 0.06, 0.03, 0.02, 0.04), "R03.0", "bp"),
            (0.003 + 0.06 * _sigmoid((age - 55) / 8), 0.005,
             ("E11.9", "E10.9", "E12.9", "E13.9", "E14.9"), (0.85, 0.05, 0.03, 0.03, 0.04), "E16.2", "glucose"),
            (np.full(len(p), 0.0025), 0.005,
             ("F20.0", "F20.9", "F23.9", "F25.9", "F29"), (0.35, 0.3, 0.1, 0.15, 0.1), "F32.9", "visit"),
        )
        for share, decoy, codes, shares, decoy_code, follow_up in groups:
            u = gen.random(len(p))
            ill = adult & (u < share)
            fake = adult & (u >= share) & (u < share + decoy)  # a near-miss diagnosis
            person = np.flatnonzero(ill | fake)
            code = np.where(ill[person], self._pick(codes, shares, len(person)), ICD[decoy_code])
            onset = gen.integers(days(date(2010, 1, 1)), HEALTH_END - 60, len(person))
            status = gen.choice(3, len(person), p=[0.93, 0.04, 0.03])
            self._cond.add(person=person, time=self._instant(onset), code=code, status=status)
            for year in range(HEALTH_FIRST_YEAR, LAST_YEAR + 1):
                followed = person[gen.random(len(person)) < 0.4 + 0.5 * self._q(person)]
                owner, day = self._months(followed, gen.integers(1, 7, len(followed)), year)
                after_onset = day >= onset[np.searchsorted(person, owner)] // DAY
                owner, day = owner[after_onset], day[after_onset]
                if follow_up == "bp":
                    self._bp(owner, day)
                elif follow_up == "glucose":
                    self._glucose(owner, day, hba1c_share=0.2)
                else:
                    self._encounter(owner, day, code[np.searchsorted(person, owner)])

    def _tests(self, year: int):
        gen, p = self._gen, self.penduduk
        ref = date(year - 1, 12, 31)
        present = np.flatnonzero(p.present_on(ref))
        age = p.age_on(ref)[present]
        start = days(date(year, 1, 1))
        tb = present[gen.random(len(present)) < 0.004 * (0.5 + self._q(present))]
        code = np.array(self.config.tb_test_loinc)[gen.integers(0, len(self.config.tb_test_loinc), len(tb))]
        day = start + gen.integers(0, 365, len(tb))
        for c in np.unique(code):
            self._observe(tb[code == c], day[code == c], c, (gen.random((code == c).sum()) < 0.1).astype(float))
        xray = present[gen.random(len(present)) < 0.001]  # chest X-ray: not a TB test of the list
        self._observe(xray, start + gen.integers(0, 365, len(xray)), "36643-5", np.full(len(xray), np.nan))
        hiv = present[(age >= 15) & (age <= 49) & (gen.random(len(present)) < 0.01)]
        code = np.array(self.config.hiv_test_loinc)[gen.integers(0, len(self.config.hiv_test_loinc), len(hiv))]
        day = start + gen.integers(0, 365, len(hiv))
        for c in np.unique(code):
            self._observe(hiv[code == c], day[code == c], c, (gen.random((code == c).sum()) < 0.01).astype(float))

    def _other_visits(self, year: int):
        """Ordinary sick visits: no standard, but they are encounters (ODGJ counts any encounter)."""
        gen, p = self._gen, self.penduduk
        present = np.flatnonzero(p.present_on(date(year, 7, 1)))
        sick = present[gen.random(len(present)) < 0.06]
        owner, day = self._months(sick, gen.integers(1, 3, len(sick)), year)
        self._encounter(owner, day, self._pick(("J06.9", "K30", "M79.1", "R51"), (0.5, 0.2, 0.15, 0.15), len(owner)))

    def _outsiders(self):
        """Patients living in a neighbouring kabupaten/kota (`neighbour`) who use this area's
        facilities: distinct persons (NIK serials 9001+), never natives of this area's Penduduk."""
        p, gen = self.penduduk, self._gen
        prov = self.kode.split(".")[0]
        neighbours = [w.kode for w in reference.children(prov, "kabupaten_kota") if w.kode != self.kode]
        other = neighbour_of(self.kode)
        if not neighbours or other is None:
            self.outside = None
            return
        # This draw once chose the neighbour; it stays (unused) so the stream's later draws stay the same.
        drawn = neighbours[int(gen.integers(0, len(neighbours)))]
        villages = reference.desa_of(other)
        n = max(1, int(0.01 * p.present_on(date(2024, 12, 31)).sum()))
        birth = gen.integers(days(date(1965, 1, 1)), days(date(2004, 1, 1)), n)
        sex = gen.integers(0, 2, n).astype(np.int8)
        gen.integers(0, len(reference.desa_of(drawn)), n)  # likewise: the villages once drawn here
        village = rng(self.config.seed, self.kode, "outsider_village").integers(0, len(villages), n)
        year, month, day = date_parts(birth)
        kec = np.array([int(villages[v].kode_induk.replace(".", "")) for v in village], dtype=np.int64)
        # Serials from 9001 up: never used by the natives of that kecamatan in this simulator.
        nik = ((kec * 1_000_000 + (day + 40 * sex) * 10_000 + month * 100 + year % 100) * 10_000
               + 9001 + np.arange(n) % 999)
        self.outside = (birth, sex, [v.kode for v in villages], village, nik)
        # Their records use negative person numbers -1, -2, ... until patients are numbered.
        who = -1 - np.arange(n)
        visit_day = gen.integers(HEALTH_START, HEALTH_END + 1, n)
        mg = np.round(gen.lognormal(np.log(105), 0.2, n))
        self._obs.add(person=who, time=self._instant(visit_day), code=self.loinc["85354-9"],
                      value=np.round(gen.normal(125, 15, n)), value2=np.round(gen.normal(80, 8, n)))
        self._obs.add(person=who, time=self._instant(visit_day), code=self.loinc["2339-0"], value=mg, value2=np.nan)
        self._obs.add(person=who, time=self._instant(visit_day), code=self.loinc["39156-5"],
                      value=np.clip(np.round(gen.normal(24, 3, n), 1), 13.0, 60.0), value2=np.nan)
        pregnant = who[(sex == 1) & (gen.random(n) < 0.2)]
        owner = np.repeat(pregnant, 6)
        anc_day = gen.integers(HEALTH_START, HEALTH_END + 1, len(owner))
        self._enc.add(person=owner, time=self._instant(anc_day), code=ICD["Z34.9"],
                      org=np.zeros(len(owner), dtype=np.int64), status=0)
