"""The simulated world: per kabupaten/kota, persons first, schools and health records on demand.

Each part draws from its own seeded stream, so building parts lazily (a test that needs only the
population never pays for ten million observations) does not change any number.
"""

from __future__ import annotations

import threading
from functools import cached_property

from spm.simulator.config import SimulatorConfig, check_kode_kab_kota
from spm.simulator.education import Pendidikan
from spm.simulator.health import Kesehatan
from spm.simulator.population import Penduduk, generate_penduduk


class KabKotaWorld:
    """Everything simulated for one kabupaten/kota."""

    def __init__(self, config: SimulatorConfig, kode: str):
        self.config = config
        self.kode = check_kode_kab_kota(kode)
        self._lock = threading.Lock()  # servers build parts from request threads

    @cached_property
    def penduduk(self) -> Penduduk:
        with self._lock:
            return generate_penduduk(self.config, self.kode)

    @cached_property
    def pendidikan(self) -> Pendidikan:
        penduduk = self.penduduk
        with self._lock:
            return Pendidikan(self.config, penduduk)

    @cached_property
    def kesehatan(self) -> Kesehatan:
        penduduk = self.penduduk
        with self._lock:
            return Kesehatan(self.config, penduduk)


class World:
    """The kabupaten/kota of one SimulatorConfig, by code."""

    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.kab_kota = {kode: KabKotaWorld(config, kode) for kode in config.kode_wilayah}

    def __getitem__(self, kode: str) -> KabKotaWorld:
        return self.kab_kota[kode]

    def __contains__(self, kode: str) -> bool:
        return kode in self.kab_kota

    def __iter__(self):
        return iter(self.kab_kota.values())

    @property
    def fhir(self) -> KabKotaWorld:
        """The kabupaten/kota whose records the FHIR server holds."""
        return self.kab_kota[self.config.satusehat_kode_wilayah]
