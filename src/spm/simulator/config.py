"""What a simulator run is made of: the areas, the size, the seed, credentials and ports.

The calendar of the simulated world is fixed: it covers 2023-01-01 .. 2026-12-31. Population
semesters 2023-1 .. 2026-2 and Dapodik semesters 20231 .. 20262 exist; health records are dated
2024 .. 2026. The data vintage is semester 2 of 2024 (31 December 2024): at scale 1 the population
of that semester equals the real Dukcapil totals of each kabupaten/kota exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from spm import reference

FIRST_YEAR = 2023
LAST_YEAR = 2026
WORLD_START = date(FIRST_YEAR, 1, 1)
WORLD_END = date(LAST_YEAR, 12, 31)
# The real totals in spm.reference are Dukcapil semester 2 of 2024: the world is anchored there.
REFERENCE_SEMESTER = (2024, 2)
REFERENCE_DATE = date(2024, 12, 31)
HEALTH_FIRST_YEAR = 2024

POPULATION_SEMESTERS: tuple[tuple[int, int], ...] = tuple(
    (year, s) for year in range(FIRST_YEAR, LAST_YEAR + 1) for s in (1, 2)
)
DAPODIK_SEMESTERS: tuple[int, ...] = tuple(year * 10 + s for year, s in POPULATION_SEMESTERS)
BIRTH_YEARS: tuple[int, ...] = tuple(range(FIRST_YEAR, LAST_YEAR + 1))

# LOINC codes the simulator uses for TB and HIV tests unless told otherwise. The project's own list
# lives in its config; pass the same list to the expected figures.
DEFAULT_TB_TEST_LOINC: tuple[str, ...] = ("11545-1", "38379-4")
DEFAULT_HIV_TEST_LOINC: tuple[str, ...] = ("75622-1", "7917-8", "56888-1")

_KODE_KAB_KOTA = re.compile(r"^\d{2}\.\d{2}$")


def semester_date(tahun: int, semester: int) -> date:
    """The state a population semester describes: 30 June (1) or 31 December (2)."""
    return date(tahun, 6, 30) if semester == 1 else date(tahun, 12, 31)


def check_kode_kab_kota(kode: str) -> str:
    """`kode` if it is a kabupaten/kota code of the shipped Kemendagri list, else ValueError."""
    if not isinstance(kode, str) or not _KODE_KAB_KOTA.match(kode):
        raise ValueError(f"{kode!r} is not a kabupaten/kota code (expected the dotted form, e.g. 32.71)")
    try:
        found = reference.wilayah(kode)
    except KeyError:
        raise ValueError(f"{kode!r} is not in the Kemendagri code list") from None
    if found.tingkat != "kabupaten_kota":
        raise ValueError(f"{kode!r} is not a kabupaten/kota code")
    return kode


@dataclass(frozen=True)
class SimulatorConfig:
    """One simulated set of sources.

    kode_wilayah: the kabupaten/kota codes (dotted) to simulate; Dapodik and Dukcapil serve all of
        them, the FHIR server serves `satusehat_kode_wilayah` (default: the first) like a regional hub.
    scale: share of the real population to simulate, 0 < scale <= 1 (1 = full size).
    seed: everything generated follows from it; same config, same bytes.
    """

    kode_wilayah: tuple[str, ...] = ("32.71",)
    scale: float = 0.002
    seed: int = 20261123
    satusehat_kode_wilayah: str | None = None
    tb_test_loinc: tuple[str, ...] = DEFAULT_TB_TEST_LOINC
    hiv_test_loinc: tuple[str, ...] = DEFAULT_HIV_TEST_LOINC
    dapodik_token: str = "sim-dapodik-token"
    dukcapil_api_key: str = "sim-dukcapil-key"
    satusehat_client_id: str = "sim-satusehat-client"
    satusehat_client_secret: str = "sim-satusehat-secret"
    token_ttl_seconds: int = 3600
    max_page_size: int = 1000
    host: str = "127.0.0.1"
    dapodik_port: int = 0
    dukcapil_port: int = 0
    satusehat_port: int = 0
    # Share of FHIR resources of each type that have a second, later version (fault
    # `fhir_updates` serves it instead of the first).
    update_share: float = 0.03
    # Share of the aktif learners of a kab/kota's simulated neighbour who moved into it and are listed
    # by both kab/kota's Dapodik (spm.simulator.movers); 0 = nobody moves.
    pindah_share: float = 0.0

    def __post_init__(self):
        codes = (self.kode_wilayah,) if isinstance(self.kode_wilayah, str) else tuple(self.kode_wilayah)
        if not codes:
            raise ValueError("at least one kabupaten/kota code is needed")
        for kode in codes:
            check_kode_kab_kota(kode)
        if len(set(codes)) != len(codes):
            raise ValueError(f"kabupaten/kota codes repeat: {', '.join(codes)}")
        object.__setattr__(self, "kode_wilayah", codes)
        if self.satusehat_kode_wilayah is None:
            object.__setattr__(self, "satusehat_kode_wilayah", codes[0])
        elif self.satusehat_kode_wilayah not in codes:
            raise ValueError(f"satusehat_kode_wilayah {self.satusehat_kode_wilayah!r} is not one of {', '.join(codes)}")
        if not (0 < self.scale <= 1):
            raise ValueError(f"scale {self.scale!r} must be above 0 and at most 1")
        if not (0 <= self.update_share <= 1):
            raise ValueError(f"update_share {self.update_share!r} must be between 0 and 1")
        if not (0 <= self.pindah_share <= 1):
            raise ValueError(f"pindah_share {self.pindah_share!r} must be between 0 and 1")
        if self.token_ttl_seconds <= 0 or self.max_page_size <= 0:
            raise ValueError("token_ttl_seconds and max_page_size must be above 0")
        object.__setattr__(self, "tb_test_loinc", tuple(self.tb_test_loinc))
        object.__setattr__(self, "hiv_test_loinc", tuple(self.hiv_test_loinc))
        if not self.tb_test_loinc or not self.hiv_test_loinc:
            raise ValueError("the TB and HIV test LOINC lists must not be empty")
