"""Patients and clinical records (SATUSEHAT-style FHIR) of one kabupaten/kota, 2024-2026.

Records are columns of numpy arrays per resource type; the FHIR server renders pages of them on the
fly. Coverage varies between desa (a health-service quality per desa, 0.3 .. 1), and a share of
people fall just short of each standard (5 ANC visits, 7 weighings, a third neonatal visit on day
29, a screening without glucose, a condition without follow-up, an inactive diagnosis, a code just
outside a range), so thresholds and windows decide the figures. Clinical times fall between 07:00
and 20:00 WIB, so a record's date is the same in WIB and UTC. `meta.lastUpdated` follows the
clinical time by hours, sometimes by weeks (late synchronisation).

A share of resources (`SimulatorConfig.update_share`) has a second version: later lastUpdated, and
for some a different code or clinical status. The fault `fhir_updates` serves those versions.

FHIR statuses (DESIGN §5) are drawn from a stream of their own (`fhir_status`), so every other
array is the same as without them: an Encounter `status` (`ENCOUNTER_STATUS`, mostly `finished`),
an Observation `status` (`OBSERVATION_STATUS`, mostly `final`), a Condition `verificationStatus`
(`VERIFICATION_STATUS`, or none). A tenth of the second versions says `entered-in-error` (Encounter,
Observation) or `refuted` (Condition). About 1% of visits book a follow-up: an extra `planned`
Encounter, dated 7-60 days later and saved at the visit; these rows follow all the others in the
Encounter table (`Resources.n_first`), so the other rows keep their index and id.

Patients living in a neighbouring kabupaten/kota (the previous one by code in the province, the
last for the first) use this area's facilities too; their `village` is a desa of that kabupaten/kota,
and they count there when its figures are computed with this hub loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np

from spm import reference
from spm.simulator.config import HEALTH_FIRST_YEAR, LAST_YEAR, REFERENCE_DATE, SimulatorConfig
from spm.simulator.determinism import date_parts, days, rng, stream_key, uuid_text
from spm.simulator.population import Penduduk

DAY = 86_400
HEALTH_START = days(date(HEALTH_FIRST_YEAR, 1, 1))
HEALTH_END = days(date(LAST_YEAR, 12, 31))  # last day with clinical records

ICD10 = {
    "Z34.0": "Supervision of normal first pregnancy",
    "Z34.8": "Supervision of other normal pregnancy",
    "Z34.9": "Supervision of normal pregnancy, unspecified",
    "Z35.9": "Supervision of high-risk pregnancy, unspecified",
    "Z36": "Antenatal screening",
    "O80": "Single spontaneous delivery",
    "O81": "Single delivery by forceps and vacuum extractor",
    "O82": "Single delivery by caesarean section",
    "O83": "Other assisted single delivery",
    "O84": "Multiple delivery",
    "Z00.0": "General medical examination",
    "Z00.1": "Routine child health examination",
    "Z00.2": "Examination for period of rapid growth in childhood",
    "Z00.3": "Examination for adolescent development state",
    "Z01.0": "Examination of eyes and vision",
    "I10": "Essential (primary) hypertension",
    "I11.9": "Hypertensive heart disease without (congestive) heart failure",
    "I12.9": "Hypertensive renal disease without renal failure",
    "I13.9": "Hypertensive heart and renal disease, unspecified",
    "I15.9": "Secondary hypertension, unspecified",
    "R03.0": "Elevated blood-pressure reading, without diagnosis of hypertension",
    "E10.9": "Insulin-dependent diabetes mellitus without complications",
    "E11.9": "Non-insulin-dependent diabetes mellitus without complications",
    "E12.9": "Malnutrition-related diabetes mellitus without complications",
    "E13.9": "Other specified diabetes mellitus without complications",
    "E14.9": "Unspecified diabetes mellitus without complications",
    "E16.2": "Hypoglycaemia, unspecified",
    "F20.0": "Paranoid schizophrenia",
    "F20.9": "Schizophrenia, unspecified",
    "F23.9": "Acute and transient psychotic disorder, unspecified",
    "F25.9": "Schizoaffective disorder, unspecified",
    "F29": "Unspecified nonorganic psychosis",
    "F32.9": "Depressive episode, unspecified",
    "J06.9": "Acute upper respiratory infection, unspecified",
    "K30": "Dyspepsia",
    "M79.1": "Myalgia",
    "R51": "Headache",
}
ICD_CODES = tuple(ICD10)
ICD = {code: i for i, code in enumerate(ICD_CODES)}

# LOINC code -> (display, unit, category). TB/HIV test codes outside this table get a generic display.
LOINC = {
    "29463-7": ("Body weight", "kg", "vital-signs"),
    "8302-2": ("Body height", "cm", "vital-signs"),
    "85354-9": ("Blood pressure panel with all children optional", "mm[Hg]", "vital-signs"),
    "39156-5": ("Body mass index (BMI) [Ratio]", "kg/m2", "vital-signs"),
    "2339-0": ("Glucose [Mass/volume] in Blood", "mg/dL", "laboratory"),
    "15074-8": ("Glucose [Moles/volume] in Blood", "mmol/L", "laboratory"),
    "2093-3": ("Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory"),
    "4548-4": ("Hemoglobin A1c/Hemoglobin.total in Blood", "%", "laboratory"),
    "36643-5": ("XR Chest 2 Views", None, "imaging"),
    "11545-1": ("Microscopic observation [Identifier] in Sputum by Acid fast stain", None, "laboratory"),
    "38379-4": ("Mycobacterium tuberculosis complex DNA [Presence] in Specimen by NAA", None, "laboratory"),
    "75622-1": ("HIV 1 and 2 tests - Meaningful Use set", None, "laboratory"),
    "7917-8": ("HIV 1 Ab [Presence] in Serum", None, "laboratory"),
    "56888-1": ("HIV 1+2 Ab+HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay", None, "laboratory"),
}
CLINICAL_STATUS = ("active", "resolved", "inactive")
ENCOUNTER_CLASS = ("AMB", "IMP")
# FHIR R4 status codes, in the order of their value sets; arrays hold indices into these tuples.
ENCOUNTER_STATUS = ("planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                    "entered-in-error", "unknown")
OBSERVATION_STATUS = ("registered", "preliminary", "final", "amended", "corrected", "cancelled",
                      "entered-in-error", "unknown")
# Condition verificationStatus; -1 in the array: the element is absent.
VERIFICATION_STATUS = ("unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error")
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
# Shares of the first versions' statuses.
ENCOUNTER_STATUS_SHARES = {"finished": 0.93, "in-progress": 0.01, "arrived": 0.005, "triaged": 0.005,
                           "onleave": 0.005, "cancelled": 0.025, "entered-in-error": 0.015, "unknown": 0.005}
OBSERVATION_STATUS_SHARES = {"final": 0.94, "amended": 0.015, "corrected": 0.01, "preliminary": 0.015,
                             "registered": 0.005, "cancelled": 0.008, "entered-in-error": 0.005, "unknown": 0.002}
VERIFICATION_SHARES = {None: 0.20, "confirmed": 0.70, "provisional": 0.03, "differential": 0.02,
                       "unconfirmed": 0.02, "refuted": 0.02, "entered-in-error": 0.01}
V2_WITHDRAWN_SHARE = 0.10  # second versions saying entered-in-error (Encounter, Observation) or refuted
PLANNED_SHARE = 0.01  # visits that book a follow-up appointment (a planned Encounter)
# Result of a TB/HIV test observation: value 0 or 1.
TEST_RESULT = (("LA6577-6", "Negative"), ("LA6576-8", "Positive"))


@dataclass
class Resources:
    """Records of one FHIR resource type; row i is the resource with index i."""

    kind: str
    patient: np.ndarray  # index into Patients
    time: np.ndarray  # clinical instant (encounter start, effective, onset), seconds since the epoch
    code: np.ndarray  # index into ICD_CODES or the world's loinc list
    last_updated: np.ndarray
    value: np.ndarray | None = None
    value2: np.ndarray | None = None
    status: np.ndarray | None = None  # Condition clinical status / Encounter class
    org: np.ndarray | None = None  # serviceProvider (Encounter), index into organizations
    # FHIR `status` (Encounter: ENCOUNTER_STATUS, Observation: OBSERVATION_STATUS), and Condition
    # verificationStatus (VERIFICATION_STATUS, -1 absent).
    fhir_status: np.ndarray | None = None
    verification: np.ndarray | None = None
    # Second versions: rows that have one, and their lastUpdated, code and status.
    v2_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    v2_last_updated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    v2_code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    v2_status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    v2_fhir_status: np.ndarray | None = None
    v2_verification: np.ndarray | None = None
    # Rows from n_first on are planned encounters (follow-up bookings) added after the others.
    n_first: int | None = None
    _orders: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.patient)

    @property
    def planned_rows(self) -> np.ndarray:
        """Rows of the booked (planned) encounters: they never count."""
        first = len(self) if self.n_first is None else self.n_first
        return np.arange(first, len(self), dtype=np.int64)

    def current_statuses(self, updates: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
        """FHIR status and verificationStatus of the version served (second versions when `updates`)."""
        out = []
        for first, second in ((self.fhir_status, self.v2_fhir_status), (self.verification, self.v2_verification)):
            if first is not None and updates and len(self.v2_rows) and second is not None:
                first = first.copy()
                first[self.v2_rows] = second
            out.append(first)
        return out[0], out[1]

    def current(self, updates: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """lastUpdated, code and status of the version served (second versions when `updates`)."""
        if not updates or not len(self.v2_rows):
            return self.last_updated, self.code, self.status
        lu, code = self.last_updated.copy(), self.code.copy()
        lu[self.v2_rows], code[self.v2_rows] = self.v2_last_updated, self.v2_code
        status = None
        if self.status is not None:
            status = self.status.copy()
            status[self.v2_rows] = self.v2_status
        return lu, code, status

    def order(self, updates: bool) -> tuple[np.ndarray, np.ndarray]:
        """Rows sorted by served lastUpdated (then row), and the sorted lastUpdated values."""
        if updates not in self._orders:
            lu = self.current(updates)[0]
            rows = np.argsort(lu, kind="stable")
            self._orders[updates] = (rows, lu[rows])
        return self._orders[updates]

    def is_updated(self, row: int) -> bool:
        i = np.searchsorted(self.v2_rows, row)
        return bool(i < len(self.v2_rows) and self.v2_rows[i] == row)


def neighbour_of(kode: str) -> str | None:
    """The previous kabupaten/kota by code in the province of `kode`, wrapping to the last one for
    the first; None when the province has no other."""
    prov = kode.split(".")[0]
    codes = sorted(w.kode for w in reference.children(prov, "kabupaten_kota"))
    if kode not in codes or len(codes) < 2:
        return None
    return codes[codes.index(kode) - 1]


@dataclass
class Patients:
    person: np.ndarray  # index into Penduduk, -1 for patients living outside the kabupaten/kota
    nik: np.ndarray
    birth: np.ndarray
    sex: np.ndarray
    village: np.ndarray  # index into `villages`
    villages: list[str]  # dotted desa codes
    last_updated: np.ndarray
    id_key: int

    def __len__(self) -> int:
        return len(self.person)

    def patient_id(self, i: int) -> str:
        # Multiplying by a number coprime with 10 permutes 0..10^11-1: ids are unique.
        return f"P{(i * 7_919_737 + self.id_key) % 10**11:011d}"

    def order(self) -> tuple[np.ndarray, np.ndarray]:
        rows = np.argsort(self.last_updated, kind="stable")
        return rows, self.last_updated[rows]


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


class Kesehatan:
    """The FHIR records of one kabupaten/kota."""

    def __init__(self, config: SimulatorConfig, penduduk: Penduduk):
        self.config = config
        self.penduduk = penduduk
        self.kode = penduduk.kode_kab_kota
        self.loinc_codes = tuple(dict.fromkeys((*LOINC, *config.tb_test_loinc, *config.hiv_test_loinc)))
        self.loinc = {code: i for i, code in enumerate(self.loinc_codes)}
        self._gen = rng(config.seed, self.kode, "kesehatan")
        gen = self._gen
        self.quality = 0.3 + 0.7 * gen.beta(2.0, 1.5, len(penduduk.desa))  # per desa
        self.organizations = self._organizations()
        self._enc, self._obs, self._cond = _Events(), _Events(), _Events()
        self._pregnancies()
        for year in range(HEALTH_FIRST_YEAR, LAST_YEAR + 1):
            self._balita(year)
            self._screenings(year)
            self._tests(year)
            self._other_visits(year)
        self._chronic()
        self._outsiders()
        self.patients, enc, obs, cond = self._finish()
        self.encounters = self._resources("Encounter", enc)
        self.observations = self._resources("Observation", obs)
        self.conditions = self._resources("Condition", cond)
        del self._enc, self._obs, self._cond, self._gen

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

    def neighbour(self) -> str | None:
        """The kabupaten/kota the outsiders live in: the previous one by code in the province (the
        last one for the first), None when the province has no other."""
        return neighbour_of(self.kode)

    def _outsiders(self):
        """Patients living in a neighbouring kabupaten/kota (`neighbour`) who use this area's
        facilities: distinct persons (NIK serials 9001+), never natives of this area's Penduduk."""
        p, gen = self.penduduk, self._gen
        prov = self.kode.split(".")[0]
        neighbours = [w.kode for w in reference.children(prov, "kabupaten_kota") if w.kode != self.kode]
        other = self.neighbour()
        if not neighbours or other is None:
            self._outside = None
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
        self._outside = (birth, sex, [v.kode for v in villages], village, nik)
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

    # -- assembling --------------------------------------------------------------------------
    def _finish(self):
        gen, p = self._gen, self.penduduk
        enc, obs, cond = self._enc.arrays(), self._obs.arrays(), self._cond.arrays()

        def keep_present(cols, clinical: bool):
            person, day = cols["person"], cols["time"] // DAY
            inside = person < 0
            native = ~inside
            pp = np.where(native, person, 0)
            ok = inside | ((p.masuk[pp] <= day) & (p.keluar[pp] > day) & (p.birth[pp] <= day))
            if clinical:  # records are dated 2024-2026; conditions may have started long ago
                ok &= (day >= HEALTH_START) & (day <= HEALTH_END)
            else:
                ok = inside | ((p.keluar[pp] > HEALTH_START) & (p.keluar[pp] > day) & (p.birth[pp] <= day))
            return {k: v[ok] for k, v in cols.items()}

        enc, obs, cond = keep_present(enc, True), keep_present(obs, True), keep_present(cond, False)

        # Patients: everyone with a record, a quarter of the others, and the outsiders.
        with_records = np.unique(np.concatenate([enc["person"], obs["person"], cond["person"]]))
        natives_with = with_records[with_records >= 0]
        others = np.setdiff1d(np.flatnonzero(p.keluar > HEALTH_START), natives_with)
        natives = np.union1d(natives_with, others[gen.random(len(others)) < 0.25])
        patient_of = np.full(len(p), -1, dtype=np.int64)
        patient_of[natives] = np.arange(len(natives))
        villages = list(p.desa_kode)
        birth, sex, village, nik = p.birth[natives], p.sex[natives], p.desa_idx[natives].astype(np.int64), p.nik[natives]
        person = natives.astype(np.int64)
        if self._outside is not None:
            o_birth, o_sex, o_villages, o_village, o_nik = self._outside
            birth = np.concatenate([birth, o_birth])
            sex = np.concatenate([sex, o_sex])
            village = np.concatenate([village, o_village + len(villages)])
            nik = np.concatenate([nik, o_nik])
            person = np.concatenate([person, np.full(len(o_birth), -1)])
            villages = villages + o_villages

        def patient_index(who):
            return np.where(who >= 0, patient_of[np.maximum(who, 0)], len(natives) - 1 - who)

        for cols in (enc, obs, cond):
            cols["patient"] = patient_index(cols.pop("person"))

        # A patient is registered before their first record (newborns on their birth day).
        first = np.full(len(person), np.iinfo(np.int64).max)
        for cols in (enc, obs):
            np.minimum.at(first, cols["patient"], cols["time"])
        first_day = np.where(first < np.iinfo(np.int64).max, first // DAY, HEALTH_END)
        earliest = np.maximum(HEALTH_START, birth)
        latest = np.maximum(earliest, first_day)
        reg_day = earliest + (gen.random(len(person)) * (latest - earliest)).astype(np.int64)
        reg_day = np.where(first < np.iinfo(np.int64).max, np.minimum(reg_day, first_day), reg_day)
        last_updated = reg_day * DAY + gen.integers(0, 13 * 3600, len(person))
        last_updated = np.where(first < np.iinfo(np.int64).max, np.minimum(last_updated, first - 60), last_updated)
        patients = Patients(
            person=person.astype(np.int32), nik=nik, birth=birth, sex=sex.astype(np.int8),
            village=village.astype(np.int32), villages=villages, last_updated=last_updated,
            id_key=int(stream_key(self.config.seed, self.kode, "patient_id") % 10**11),
        )
        return patients, enc, obs, cond

    def _resources(self, kind: str, cols: dict[str, np.ndarray]) -> Resources:
        gen = self._gen
        n = len(cols["patient"])
        if kind == "Condition":
            # Recorded when first seen in 2024-2026 (or at onset when it is later).
            seen = np.maximum(cols["time"], HEALTH_START * DAY + gen.integers(0, 120, n) * DAY)
            delay = gen.exponential(6 * 3600, n).astype(np.int64)
            last_updated = seen + 60 + delay
        else:
            late = gen.random(n) < 0.05
            delay = np.where(late, gen.integers(7, 61, n) * DAY, gen.exponential(6 * 3600, n).astype(np.int64))
            last_updated = cols["time"] + 60 + delay
        res = Resources(
            kind=kind,
            patient=cols["patient"].astype(np.int32),
            time=cols["time"],
            code=cols["code"],
            last_updated=last_updated,
            value=cols.get("value"),
            value2=cols.get("value2"),
            status=cols.get("status"),
            org=cols.get("org"),
        )
        self._second_versions(res)
        self._fhir_statuses(res)
        return res

    def _fhir_statuses(self, res: Resources):
        """Statuses, their second versions and the planned encounters, from a stream of their own
        (the main stream's arrays stay as they were without them)."""
        gen = rng(self.config.seed, self.kode, "fhir_status", res.kind)
        n, v2 = len(res), len(res.v2_rows)

        def draw(names: tuple[str, ...], shares: dict, size: int) -> np.ndarray:
            keys = list(shares)
            p = np.array([shares[k] for k in keys])
            index = np.array([-1 if k is None else names.index(k) for k in keys], dtype=np.int8)
            return index[gen.choice(len(keys), size, p=p / p.sum())]

        if res.kind == "Condition":
            res.verification = draw(VERIFICATION_STATUS, VERIFICATION_SHARES, n)
            refuted = gen.random(v2) < V2_WITHDRAWN_SHARE
            res.v2_verification = np.where(refuted, VERIFICATION_STATUS.index("refuted"),
                                           res.verification[res.v2_rows]).astype(np.int8)
            return
        names, shares = ((ENCOUNTER_STATUS, ENCOUNTER_STATUS_SHARES) if res.kind == "Encounter"
                         else (OBSERVATION_STATUS, OBSERVATION_STATUS_SHARES))
        res.fhir_status = draw(names, shares, n)
        withdrawn = gen.random(v2) < V2_WITHDRAWN_SHARE
        res.v2_fhir_status = np.where(withdrawn, names.index("entered-in-error"),
                                      res.fhir_status[res.v2_rows]).astype(np.int8)
        if res.kind == "Encounter":
            self._planned(res, gen)

    def _planned(self, res: Resources, gen: np.random.Generator):
        """Follow-up appointments booked at ~1% of visits: a `planned` Encounter of the same patient,
        reason, class and serviceProvider, 7-60 days later at the same time of day, saved a minute
        and a few hours after the visit started. Appended after every other row."""
        n = len(res)
        rows = np.flatnonzero((gen.random(n) < PLANNED_SHARE) & (res.fhir_status == ENCOUNTER_STATUS.index("finished")))
        m = len(rows)
        time = res.time[rows] + gen.integers(7, 61, m) * DAY
        last_updated = res.time[rows] + 60 + gen.integers(3600, 4 * 3600, m)
        res.n_first = n
        res.patient = np.concatenate([res.patient, res.patient[rows]])
        res.time = np.concatenate([res.time, time])
        res.code = np.concatenate([res.code, res.code[rows]])
        res.last_updated = np.concatenate([res.last_updated, last_updated])
        res.status = np.concatenate([res.status, res.status[rows]])
        res.org = np.concatenate([res.org, res.org[rows]])
        planned = np.full(m, ENCOUNTER_STATUS.index("planned"), dtype=np.int8)
        res.fhir_status = np.concatenate([res.fhir_status, planned])
        for name in ("value", "value2"):
            values = getattr(res, name)
            if values is not None:
                setattr(res, name, np.concatenate([values, values[rows]]))

    def _second_versions(self, res: Resources):
        """A share of resources is updated later; some updates change what the record says."""
        gen = self._gen
        rows = np.flatnonzero(gen.random(len(res)) < self.config.update_share)
        res.v2_rows = rows
        res.v2_last_updated = res.last_updated[rows] + gen.integers(1, 31, len(rows)) * DAY
        code = res.code[rows].copy()
        status = res.status[rows].copy() if res.status is not None else np.zeros(len(rows), dtype=np.int8)
        u = gen.random(len(rows))
        if res.kind == "Encounter":
            anc = np.isin(code, [ICD[c] for c in ("Z34.0", "Z34.8", "Z34.9", "Z35.9")])
            code[anc & (u < 0.3)] = ICD["Z36"]  # re-coded as a screening: no longer an ANC visit
        elif res.kind == "Observation":
            glucose = code == self.loinc["2339-0"]
            code[glucose & (u < 0.5)] = self.loinc["15074-8"]
        else:
            status[(status == 0) & (u < 0.4)] = 1  # resolved
            code[(code == ICD["I10"]) & (u >= 0.4) & (u < 0.6)] = ICD["R03.0"]  # diagnosis withdrawn
        res.v2_code = code
        res.v2_status = status

    @cached_property
    def all_resources(self) -> dict[str, Resources]:
        return {"Encounter": self.encounters, "Observation": self.observations, "Condition": self.conditions}
