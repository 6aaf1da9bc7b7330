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

Modules: the code systems, status value sets and shares (spm.simulator.health_codes); the Resources
and Patients containers (spm.simulator.health_tables); the events per programme
(spm.simulator.health_events); the Patients and Resources assembly with second versions, statuses
and planned Encounters (spm.simulator.health_assembly). `Kesehatan` runs them in order; their names
are re-exported here.
"""

from __future__ import annotations

from functools import cached_property

from spm.simulator.config import SimulatorConfig
from spm.simulator.determinism import rng
from spm.simulator.health_assembly import ResourceAssembly
from spm.simulator.health_codes import (
    CLINICAL_STATUS, DAY, ENCOUNTER_CLASS, ENCOUNTER_STATUS, ENCOUNTER_STATUS_SHARES, HEALTH_END, HEALTH_START,
    ICD, ICD10, ICD_CODES, LOINC, OBSERVATION_STATUS, OBSERVATION_STATUS_SHARES, PLANNED_SHARE, TEST_RESULT,
    V2_WITHDRAWN_SHARE, VERIFICATION_SHARES, VERIFICATION_STATUS, VERIFICATION_SYSTEM,
)
from spm.simulator.health_events import HealthEvents, neighbour_of
from spm.simulator.health_tables import Patients, Resources
from spm.simulator.population import Penduduk

__all__ = [
    "CLINICAL_STATUS", "DAY", "ENCOUNTER_CLASS", "ENCOUNTER_STATUS", "ENCOUNTER_STATUS_SHARES", "HEALTH_END",
    "HEALTH_START", "ICD", "ICD10", "ICD_CODES", "LOINC", "OBSERVATION_STATUS", "OBSERVATION_STATUS_SHARES",
    "PLANNED_SHARE", "TEST_RESULT", "V2_WITHDRAWN_SHARE", "VERIFICATION_SHARES", "VERIFICATION_STATUS",
    "VERIFICATION_SYSTEM", "Kesehatan", "Patients", "Resources", "neighbour_of",
]


class Kesehatan:
    """The FHIR records of one kabupaten/kota."""

    def __init__(self, config: SimulatorConfig, penduduk: Penduduk):
        self.config = config
        self.penduduk = penduduk
        self.kode = penduduk.kode_kab_kota
        self.loinc_codes = tuple(dict.fromkeys((*LOINC, *config.tb_test_loinc, *config.hiv_test_loinc)))
        self.loinc = {code: i for i, code in enumerate(self.loinc_codes)}
        # One stream for the events, then the patients, then the resources, in this order.
        gen = rng(config.seed, self.kode, "kesehatan")
        events = HealthEvents(config, penduduk, self.loinc, gen)
        self.quality, self.organizations = events.quality, events.organizations
        enc, obs, cond = events.generate()
        assembly = ResourceAssembly(config, penduduk, self.loinc, gen)
        self.patients, enc, obs, cond = assembly.patients(enc, obs, cond, events.outside)
        self.encounters = assembly.resources("Encounter", enc)
        self.observations = assembly.resources("Observation", obs)
        self.conditions = assembly.resources("Condition", cond)

    def neighbour(self) -> str | None:
        """The kabupaten/kota the outsiders live in: the previous one by code in the province (the
        last one for the first), None when the province has no other."""
        return neighbour_of(self.kode)

    @cached_property
    def all_resources(self) -> dict[str, Resources]:
        return {"Encounter": self.encounters, "Observation": self.observations, "Condition": self.conditions}
