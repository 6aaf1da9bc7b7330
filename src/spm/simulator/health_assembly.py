"""Assembly of the simulated FHIR world: the generated events (spm.simulator.health_events) become
the Patients table and a Resources table per type (spm.simulator.health_tables).

Patients: everyone with a record, a quarter of the others and the outsiders, each registered before
their first record. Resources: `meta.lastUpdated` follows the clinical time by hours, sometimes by
weeks (late synchronisation). A share (`SimulatorConfig.update_share`) has a second version: later
lastUpdated, and for some a different code or clinical status. FHIR statuses (DESIGN §5) are drawn
from a stream of their own (`fhir_status`), so every other array is the same as without them; a
tenth of the second versions says `entered-in-error` (Encounter, Observation) or `refuted`
(Condition). About 1% of visits book a follow-up: an extra `planned` Encounter appended after all
the others (`Resources.n_first`), so the other rows keep their index and id.
"""

from __future__ import annotations

import numpy as np

from spm.simulator.config import SimulatorConfig
from spm.simulator.determinism import rng, stream_key
from spm.simulator.health_codes import (
    DAY, ENCOUNTER_STATUS, ENCOUNTER_STATUS_SHARES, HEALTH_END, HEALTH_START, ICD, OBSERVATION_STATUS,
    OBSERVATION_STATUS_SHARES, PLANNED_SHARE, V2_WITHDRAWN_SHARE, VERIFICATION_SHARES, VERIFICATION_STATUS,
)
from spm.simulator.health_tables import Patients, Resources
from spm.simulator.population import Penduduk

Columns = dict[str, np.ndarray]


class ResourceAssembly:
    """Builds the Patients and Resources tables of one kabupaten/kota from its events, drawing from
    `gen` (the `kesehatan` stream, after the events) and from the `fhir_status` streams."""

    def __init__(self, config: SimulatorConfig, penduduk: Penduduk, loinc: dict[str, int], gen: np.random.Generator):
        self.config = config
        self.penduduk = penduduk
        self.kode = penduduk.kode_kab_kota
        self.loinc = loinc
        self._gen = gen

    def patients(self, enc: Columns, obs: Columns, cond: Columns,
                 outside: tuple | None) -> tuple[Patients, Columns, Columns, Columns]:
        """The patients, and the records present in the area and period with `patient` indices."""
        gen, p = self._gen, self.penduduk

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
        if outside is not None:
            o_birth, o_sex, o_villages, o_village, o_nik = outside
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

    def resources(self, kind: str, cols: Columns) -> Resources:
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
