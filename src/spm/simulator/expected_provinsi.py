"""Expected provinsi rows (DESIGN §7 "Provinsi rows"): what a correct pipeline must compute for a
province from the simulated kab/kota worlds of it (spm.simulator.expected for each of them)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from spm.simulator.expected import (
    KODE_LAYANAN, PROVINSI_LAYANAN, _mover_counts, _movers, dapodik_semester_for, expected_capaian, roll_up,
)
from spm.simulator.population import SEXES
from spm.simulator.world import KabKotaWorld


def expected_capaian_provinsi(worlds: Sequence[KabKotaWorld], tahun: int, triwulan: int, **rules) -> pd.DataFrame:
    """Provinsi rows (DESIGN §7) over kab/kota worlds of one province, all loaded, each with the
    others' hubs as visitors: sasaran summed, terlayani the distinct persons served in any of them;
    the kab/kota SPM and the province's own jenis layanan (PROVINSI_LAYANAN).

    A person counts in two kab/kota only as a learner who moved (spm.simulator.movers: listed by
    the old school in one, living at the new address in the other): the sum of the kab/kota counts
    less those movers. Otherwise the simulator's persons live in one kab/kota each (a resident
    belongs to one Penduduk; a hub's outsiders are distinct persons counted where they live).
    Columns: those of `roll_up`, kode_wilayah the province's code, plus kab_kota_dimuat. `rules`:
    expected_capaian's keyword arguments."""
    frames, twice = [], {}
    semester_id = dapodik_semester_for(tahun, triwulan)
    for world in worlds:
        others = [w for w in worlds if w is not world]
        frames.append(roll_up(expected_capaian(world, tahun, triwulan, visitors=others,
                                               layanan=KODE_LAYANAN + PROVINSI_LAYANAN, **rules), "kabupaten_kota"))
        # A mover counts in both kab/kota (where each one's rows say they live): once here.
        for kode, counts in _mover_counts(world, _movers(world, others, semester_id), tahun).items():
            by_sex = counts.sum(axis=0)
            for s, sex in enumerate(SEXES):
                twice[(kode, sex)] = twice.get((kode, sex), 0) + int(by_sex[s])
            twice[(kode, "semua")] = twice.get((kode, "semua"), 0) + int(by_sex.sum())
    kab = pd.concat(frames, ignore_index=True)
    kab["kab_kota_dimuat"] = 1
    kab["kode_wilayah"] = kab["kode_wilayah"].str.split(".").str[0]
    keys = ["tahun", "triwulan", "kode_wilayah", "jenis_kelamin", "kode_layanan", "population_semester"]
    out = kab.groupby(keys, as_index=False)[["sasaran", "terlayani", "kab_kota_dimuat"]].sum()
    out["terlayani"] -= [twice.get((k, sex), 0) for k, sex in zip(out.kode_layanan, out.jenis_kelamin)]
    # pend_kesetaraan's sasaran is net of formal learners: each kab/kota subtracted a formal mover.
    out["sasaran"] += [float(twice.get(("formal_7_18", sex), 0)) if k == "pend_kesetaraan" else 0.0
                       for k, sex in zip(out.kode_layanan, out.jenis_kelamin)]
    return out
