"""Simulator of the SPM source systems (DESIGN §8): Dapodik, Dukcapil, a SATUSEHAT-style FHIR hub and
the OPD/Dukcapil file inboxes, with deterministic synthetic data and switchable faults.

Entry points: `SimulatorConfig`, `World`, `SimulatorServers`, `Faults`, the inbox writers and the
expected figures in `spm.simulator.expected`. See docs/simulator.md.
"""

from spm.simulator.config import REFERENCE_SEMESTER, SimulatorConfig
from spm.simulator.faults import Faults
from spm.simulator.inbox import write_dukcapil_files, write_inbox, write_opd_files
from spm.simulator.servers import SimulatorServers
from spm.simulator.world import KabKotaWorld, World

__all__ = [
    "REFERENCE_SEMESTER",
    "Faults",
    "KabKotaWorld",
    "SimulatorConfig",
    "SimulatorServers",
    "World",
    "write_dukcapil_files",
    "write_inbox",
    "write_opd_files",
]
