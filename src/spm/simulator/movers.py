"""Learners who moved between two simulated kab/kota of one province (`SimulatorConfig.pindah_share`).

A share of the aktif learners of a kab/kota's neighbour (`neighbour_of`: the previous one by code
in the province), when that neighbour is simulated too, moved into the kab/kota and are listed aktif
by one of its schools of the same bentuk, with their new address (the school's desa) as
kode_wilayah_domisili, while their old school has not recorded the move yet: one person (the same
NIK) in both kab/kota's Dapodik. Each kab/kota counts them where they live in its own rows; a
province counts them once (DESIGN §7). Off by default (share 0): the figures of a kab/kota alone
never change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spm.simulator.determinism import hash_uniform, stream_key
from spm.simulator.education import AKTIF, Learners
from spm.simulator.health_events import neighbour_of


@dataclass(frozen=True)
class Movers:
    """The movers into `kode` of one semester, ordered by their school there."""

    kode: str
    origin: str  # the kab/kota they came from (their persons are that Penduduk's)
    semester_id: int
    person: np.ndarray  # index into the origin's Penduduk
    origin_row: np.ndarray  # their row in the origin's Learners
    school: np.ndarray  # school index in `kode`
    desa: np.ndarray  # desa index in `kode`: their new address
    origin_world: Any = field(default=None, repr=False, compare=False)  # the origin's KabKotaWorld

    def rows_of(self, school: int) -> np.ndarray:
        return np.flatnonzero(self.school == school)

    def __len__(self) -> int:
        return len(self.person)


def movers_into(world, worlds, semester_id: int) -> Movers | None:
    """The movers into `world` from its neighbour among `worlds` (anything with `in` and `[]` by
    code), or None when pindah_share is 0 or the neighbour is not simulated."""
    config = world.config
    origin = neighbour_of(world.kode)
    if not config.pindah_share or origin is None or origin not in worlds:
        return None
    cache = world.__dict__.setdefault("_movers", {})
    if semester_id in cache:
        return cache[semester_id]
    source = worlds[origin]
    learners: Learners = source.pendidikan.learners(semester_id)
    aktif = np.flatnonzero(learners.status == AKTIF)
    key = stream_key(config.seed, world.kode, "pindah", origin, semester_id)
    rows = aktif[hash_uniform(key, learners.person[aktif]) < config.pindah_share]
    rows = rows[np.unique(learners.person[rows], return_index=True)[1]]  # one move per person
    bentuk = source.pendidikan.schools.bentuk[learners.school[rows]]
    here = world.pendidikan.schools
    school = np.full(len(rows), -1, dtype=np.int64)
    pick = hash_uniform(stream_key(key, "sekolah"), learners.person[rows])
    for b in np.unique(bentuk):
        mine = np.flatnonzero(here.bentuk == b)
        at = np.flatnonzero(bentuk == b)
        if len(mine):
            school[at] = mine[(pick[at] * len(mine)).astype(np.int64)]
    keep = school >= 0  # no school of that bentuk here: they did not move
    rows, school = rows[keep], school[keep]
    order = np.argsort(school, kind="stable")
    rows, school = rows[order], school[order]
    movers = Movers(world.kode, origin, semester_id, learners.person[rows], rows, school,
                    here.desa_idx[school].astype(np.int64), source)
    cache[semester_id] = movers
    return movers
