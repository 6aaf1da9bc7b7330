"""Schools and learners (Dapodik) of one kabupaten/kota, drawn from its persons.

Schools sit in desa in proportion to population, with at least one SD per desa and at least one
school of every bentuk_pendidikan in the kabupaten/kota. A learner is a person present on the
semester's snapshot day; whether and where they learn follows their age on 1 July of the school
year and stable per-person draws, so the same child stays at the same school from one semester to
the next. Besides `aktif` rows, a semester holds `keluar` rows (left during the semester) and, in
the ganjil semester, `lulus` rows of last year's final grades at their old school.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

import numpy as np

from spm.simulator.config import REFERENCE_DATE, SimulatorConfig
from spm.simulator.determinism import hash_uniform, rng, stream_key, uuid_text
from spm.simulator.population import Penduduk

BENTUK = ("TK", "KB", "TPA", "SPS", "SD", "SMP", "SDLB", "SMPLB", "SMA", "SMK", "SMALB", "SLB", "PKBM", "SKB")
B = {name: i for i, name in enumerate(BENTUK)}
PAUD = ("TK", "KB", "TPA", "SPS")
KESETARAAN_BENTUK = ("PKBM", "SKB")
STATUS = ("aktif", "mutasi", "lulus", "keluar")
AKTIF, MUTASI, LULUS, KELUAR = range(4)
PROGRAM = (None, "Paket A", "Paket B", "Paket C")

# Persons per school of each bentuk (expected value per desa, Poisson), and the share of private ones.
PERSONS_PER_SCHOOL = {
    "TK": 2_500, "KB": 3_500, "TPA": 40_000, "SPS": 15_000, "SD": 3_500, "SMP": 9_000,
    "SDLB": 200_000, "SMPLB": 300_000, "SMA": 20_000, "SMK": 16_000, "SMALB": 400_000,
    "SLB": 150_000, "PKBM": 25_000, "SKB": None,  # SKB: one per kabupaten/kota
}
SWASTA_SHARE = {
    "TK": 0.95, "KB": 0.9, "TPA": 0.9, "SPS": 0.9, "SD": 0.15, "SMP": 0.4, "SDLB": 0.5, "SMPLB": 0.5,
    "SMA": 0.5, "SMK": 0.75, "SMALB": 0.5, "SLB": 0.6, "PKBM": 0.95, "SKB": 0.0,
}
# Share of learners who go to a school of their own desa when there is one.
LOCAL_SCHOOL_SHARE = {"SD": 0.85, "TK": 0.85, "KB": 0.9, "TPA": 0.9, "SPS": 0.9}
DEFAULT_LOCAL_SCHOOL_SHARE = 0.6
DOMISILI_SHARE = 0.9  # learners whose kode_wilayah_domisili is filled in
KELUAR_SHARE = 0.01
LULUS_ROW_SHARE = 0.6  # last year's final grades still listed as lulus at their old school


def semester_of(semester_id: int) -> tuple[int, int]:
    return semester_id // 10, semester_id % 10


def snapshot_date(semester_id: int) -> date:
    """The day a semester's learner list describes: 1 August (ganjil) or 1 February (genap)."""
    year, s = semester_of(semester_id)
    return date(year, 8, 1) if s == 1 else date(year + 1, 2, 1)


@dataclass
class Schools:
    desa_idx: np.ndarray
    bentuk: np.ndarray  # index into BENTUK
    swasta: np.ndarray  # bool
    number: np.ndarray  # running number within (desa, bentuk, status), for names
    npsn: list[str]
    sekolah_id: list[str]

    def __len__(self) -> int:
        return len(self.bentuk)


@dataclass
class Learners:
    """The learner rows of one semester, ordered by school."""

    semester_id: int
    person: np.ndarray
    school: np.ndarray
    status: np.ndarray
    tingkat: np.ndarray  # 0 = null (PAUD)
    program: np.ndarray  # index into PROGRAM

    def __len__(self) -> int:
        return len(self.person)

    @cached_property
    def school_start(self) -> np.ndarray:
        """Row offset of each school's block (length n_schools + 1)."""
        return np.searchsorted(self.school, np.arange(self.school.max() + 2 if len(self.school) else 1))

    def rows_of(self, school: int) -> slice:
        start = self.school_start
        if school + 1 >= len(start):
            return slice(0, 0)
        return slice(int(start[school]), int(start[school + 1]))


class Pendidikan:
    """Schools and per-semester learner rows of one kabupaten/kota."""

    def __init__(self, config: SimulatorConfig, penduduk: Penduduk):
        self.config = config
        self.penduduk = penduduk
        self.kode = penduduk.kode_kab_kota
        self._key = stream_key(config.seed, self.kode, "pendidikan")
        gen = rng(config.seed, self.kode, "sekolah")
        self.quality = 0.5 + 0.5 * gen.beta(5, 2, len(penduduk.desa))  # per desa, 0.5 .. 1
        self.schools = self._place_schools(gen)
        self._learners: dict[tuple[int, float], Learners] = {}

    def _u(self, stream: str, index) -> np.ndarray:
        return hash_uniform(stream_key(self._key, stream), index)

    # -- schools ---------------------------------------------------------------------------
    def _place_schools(self, gen: np.random.Generator) -> Schools:
        pop = np.bincount(
            self.penduduk.desa_idx[self.penduduk.present_on(REFERENCE_DATE)], minlength=len(self.penduduk.desa)
        )
        desa_idx, bentuk = [], []
        for name in BENTUK:
            per = PERSONS_PER_SCHOOL[name]
            n = np.zeros(len(pop), dtype=np.int64) if per is None else gen.poisson(pop / per)
            if name == "SD":
                n = np.maximum(n, 1)
            if n.sum() == 0:
                n[int(np.argmax(pop))] = 1
            desa_idx.append(np.repeat(np.arange(len(pop)), n))
            bentuk.append(np.full(n.sum(), B[name]))
        desa_idx = np.concatenate(desa_idx)
        bentuk = np.concatenate(bentuk)
        order = np.lexsort((desa_idx, bentuk))
        desa_idx, bentuk = desa_idx[order], bentuk[order]
        swasta = gen.random(len(bentuk)) < np.array([SWASTA_SHARE[BENTUK[b]] for b in bentuk])
        group = (desa_idx * len(BENTUK) + bentuk) * 2 + swasta
        number = np.zeros(len(group), dtype=np.int64)
        for g in np.unique(group):
            where = np.flatnonzero(group == g)
            number[where] = np.arange(1, len(where) + 1)
        if len(bentuk) > 9999:
            raise ValueError(f"{self.kode}: more than 9999 schools do not fit the NPSN numbering")
        kab = self.kode.replace(".", "")
        npsn = [f"{kab}{i + 1:04d}" for i in range(len(bentuk))]
        key = stream_key(self.config.seed, self.kode, "sekolah_id")
        sekolah_id = [uuid_text(key, i) for i in range(len(bentuk))]
        return Schools(desa_idx.astype(np.int32), bentuk.astype(np.int8), swasta, number, npsn, sekolah_id)

    @cached_property
    def npsn_index(self) -> dict[str, int]:
        return {npsn: i for i, npsn in enumerate(self.schools.npsn)}

    def school_name(self, i: int) -> str:
        s = self.schools
        status = "Swasta" if s.swasta[i] else "Negeri"
        return f"{BENTUK[s.bentuk[i]]} {status} {s.number[i]} {self.penduduk.desa[s.desa_idx[i]].nama}"

    def _choose_school(self, person: np.ndarray, bentuk: np.ndarray, stream: str) -> np.ndarray:
        """A stable school of the given bentuk for each person, in their desa when possible."""
        s = self.schools
        desa = self.penduduk.desa_idx[person]
        u_local = self._u("local", person)
        u_pick = self._u(stream, person)
        school = np.empty(len(person), dtype=np.int64)
        for b in np.unique(bentuk):
            rows = np.flatnonzero(bentuk == b)
            of_bentuk = np.flatnonzero(s.bentuk == b)  # ordered by desa
            first = np.searchsorted(s.desa_idx[of_bentuk], desa[rows], side="left")
            last = np.searchsorted(s.desa_idx[of_bentuk], desa[rows], side="right")
            local_share = LOCAL_SCHOOL_SHARE.get(BENTUK[b], DEFAULT_LOCAL_SCHOOL_SHARE)
            local = (last > first) & (u_local[rows] < local_share)
            pick_local = first + (u_pick[rows] * (last - first)).astype(np.int64)
            pick_any = (u_pick[rows] * len(of_bentuk)).astype(np.int64)
            school[rows] = of_bentuk[np.where(local, pick_local, pick_any)]
        return school

    # -- learners --------------------------------------------------------------------------
    def _placement(self, person: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For persons of a given age on 1 July: bentuk (-1 = not learning), tingkat, program."""
        q = self.quality[self.penduduk.desa_idx[person]]
        u = self._u("enrol", person)
        u_kind = self._u("kind", person)
        u_kes = self._u("kesetaraan", person)
        bentuk = np.full(len(person), -1, dtype=np.int64)
        tingkat = np.zeros(len(person), dtype=np.int64)
        program = np.zeros(len(person), dtype=np.int64)

        def put(mask, names, shares):
            cuts = np.cumsum(shares)
            choice = np.minimum(np.searchsorted(cuts, u_kind[mask] * cuts[-1], side="right"), len(names) - 1)
            bentuk[mask] = np.array([B[n] for n in names])[choice]

        put((age >= 2) & (age <= 3) & (u < 0.1 + 0.2 * q), ("KB", "TPA", "SPS"), (0.6, 0.2, 0.2))
        put((age == 4) & (u < 0.25 + 0.4 * q), ("KB", "TK", "SPS"), (0.5, 0.4, 0.1))
        put((age >= 5) & (age <= 6) & (u < 0.35 + 0.55 * q), ("TK", "KB", "SPS", "TPA"), (0.75, 0.15, 0.07, 0.03))
        sd = (age >= 7) & (age <= 12) & (u < 0.97 + 0.025 * q)
        smp = (age >= 13) & (age <= 15) & (u < 0.85 + 0.12 * q)
        sma = (age >= 16) & (age <= 18) & (u < 0.6 + 0.3 * q)
        put(sd, ("SD", "SDLB", "SLB"), (0.995, 0.003, 0.002))
        put(smp, ("SMP", "SMPLB", "SLB"), (0.994, 0.003, 0.003))
        put(sma, ("SMA", "SMK", "SMALB", "SLB"), (0.55, 0.43, 0.01, 0.01))
        formal = sd | smp | sma
        tingkat[formal] = age[formal] - 6
        # Out of formal school: some children follow kesetaraan, and a few young adults Paket C.
        kes = (~formal & (age >= 9) & (age <= 18) & (u_kes < 0.25)) | ((age >= 19) & (age <= 25) & (u_kes < 0.01))
        bentuk[kes] = np.where(u_kind[kes] < 0.85, B["PKBM"], B["SKB"])
        tingkat[kes] = np.minimum(age[kes] - 6, 12)
        program[kes] = np.where(age[kes] <= 12, 1, np.where(age[kes] <= 15, 2, 3))
        return bentuk, tingkat, program

    def learners(self, semester_id: int, transfer_share: float = 0.0) -> Learners:
        """The learner rows of a semester; `transfer_share` adds `mutasi` rows (fault duplicates)."""
        key = (semester_id, transfer_share)
        if key not in self._learners:
            base = self._learners.get((semester_id, 0.0)) or self._build_learners(semester_id)
            self._learners[(semester_id, 0.0)] = base
            if transfer_share:
                self._learners[key] = self._with_transfers(base, transfer_share)
        return self._learners[key]

    def _build_learners(self, semester_id: int) -> Learners:
        year, s = semester_of(semester_id)
        p = self.penduduk
        person = np.flatnonzero(p.present_on(snapshot_date(semester_id)))
        age = p.age_on(date(year, 7, 1))[person]
        bentuk, tingkat, program = self._placement(person, age)
        learning = bentuk >= 0
        person, bentuk, tingkat, program = person[learning], bentuk[learning], tingkat[learning], program[learning]
        school = self._choose_school(person, bentuk, "school")
        status = np.where(self._u(f"keluar{semester_id}", person) < KELUAR_SHARE, KELUAR, AKTIF)
        parts = [(person, school, status, tingkat, program)]
        if s == 1:
            parts.append(self._graduates(year))
        person, school, status, tingkat, program = (np.concatenate(cols) for cols in zip(*parts))
        order = np.lexsort((person, school))
        return Learners(
            semester_id,
            person[order].astype(np.int32),
            school[order].astype(np.int32),
            status[order].astype(np.int8),
            tingkat[order].astype(np.int8),
            program[order].astype(np.int8),
        )

    def _graduates(self, year: int):
        """`lulus` rows: last school year's final grades (TK, SD, SMP, SMA/SMK), at their old school."""
        p = self.penduduk
        person = np.flatnonzero(p.present_on(date(year, 8, 1)) & p.present_on(date(year - 1, 8, 1)))
        last_age = p.age_on(date(year - 1, 7, 1))[person]
        final = np.isin(last_age, (6, 12, 15, 18))
        person, last_age = person[final], last_age[final]
        bentuk, tingkat, program = self._placement(person, last_age)
        keep = (bentuk >= 0) & (program == 0) & (self._u(f"lulus{year}", person) < LULUS_ROW_SHARE)
        person, bentuk, tingkat, program = person[keep], bentuk[keep], tingkat[keep], program[keep]
        school = self._choose_school(person, bentuk, "school")
        return person, school, np.full(len(person), LULUS), tingkat, program

    def _with_transfers(self, base: Learners, share: float) -> Learners:
        """Add, for a share of aktif learners, a `mutasi` row at the school they left this semester."""
        s = self.schools
        aktif = np.flatnonzero(base.status == AKTIF)
        moved = aktif[self._u(f"mutasi{base.semester_id}", base.person[aktif]) < share]
        old_school = []
        keep = []
        for row in moved:
            same = np.flatnonzero(s.bentuk == s.bentuk[base.school[row]])
            if len(same) < 2:
                continue
            shift = 1 + int(self._u("mutasi_to", base.person[row : row + 1])[0] * (len(same) - 1))
            here = int(np.searchsorted(same, base.school[row]))
            old_school.append(same[(here + shift) % len(same)])
            keep.append(row)
        keep = np.array(keep, dtype=np.int64)
        person = np.concatenate([base.person, base.person[keep]])
        school = np.concatenate([base.school, np.array(old_school, dtype=np.int32)])
        status = np.concatenate([base.status, np.full(len(keep), MUTASI, dtype=np.int8)])
        tingkat = np.concatenate([base.tingkat, base.tingkat[keep]])
        program = np.concatenate([base.program, base.program[keep]])
        order = np.lexsort((person, school))
        return Learners(
            base.semester_id, person[order], school[order], status[order], tingkat[order], program[order]
        )

    def has_domisili(self, person: np.ndarray) -> np.ndarray:
        return self._u("domisili", person) < DOMISILI_SHARE

    def residence_desa(self, learners: Learners) -> np.ndarray:
        """§5 residence of each row: kode_wilayah_domisili, else the school's desa (desa indices)."""
        return np.where(
            self.has_domisili(learners.person),
            self.penduduk.desa_idx[learners.person],
            self.schools.desa_idx[learners.school],
        )

    def last_update(self, semester_id: int, school: int) -> str:
        """When a school last synchronised the semester: within its first weeks."""
        start = snapshot_date(semester_id)
        offset = int(self._u(f"sync{semester_id}", np.array([school]))[0] * 40 * 86400)
        moment = datetime(start.year, start.month, start.day, 8) + timedelta(seconds=offset)
        return moment.strftime("%Y-%m-%d %H:%M:%S")

