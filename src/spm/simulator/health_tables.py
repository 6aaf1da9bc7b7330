"""The containers of the simulated FHIR world: `Resources`, the records of one resource type as
columns of numpy arrays (row i is the resource with index i) with their second versions, FHIR
statuses and the planned Encounters appended last, and `Patients`, the Patient resources (ids
permuted from the row number). The FHIR server renders pages of them on the fly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
