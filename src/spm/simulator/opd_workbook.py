"""Simulated filled-in OPD input workbooks (DESIGN §3.4), in the layout of `spm.sources.opd_layout`.

`mutu` of a layanan = sum(min(tersedia, dibutuhkan)) / sum(dibutuhkan) x 100 is how the simulator's
expected figures read it (the project's index rule decides the official one).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from openpyxl import Workbook

from spm.simulator.determinism import rng
from spm.simulator.world import KabKotaWorld
from spm.sources.opd_layout import BIDANG, LAYANAN_OF_BIDANG, MUTU_ITEMS, PERANGKAT_DAERAH, SHEETS, header

# Ways a workbook can break the layout (fault `malformed` of the inbox writer).
MALFORMED_KINDS = ("missing_sheet", "bad_header", "bad_value", "unknown_layanan")


def workbook_rows(world: KabKotaWorld, bidang: str, tahun: int, triwulan: int) -> dict[str, list[list]]:
    """The data rows of each sheet, deterministic per (seed, area, bidang, year, quarter)."""
    if bidang not in BIDANG:
        raise ValueError(f"bidang {bidang!r} must be one of {', '.join(BIDANG)}")
    gen = rng(world.config.seed, world.kode, "opd", bidang, tahun, triwulan)
    people = max(1.0, world.penduduk.present_on(date(tahun - 1, 12, 31)).sum() / 1000)
    mutu, anggaran = [], []
    for kode in LAYANAN_OF_BIDANG[bidang]:
        for komponen, uraian, satuan, per_1000 in MUTU_ITEMS[kode]:
            needed = max(1, int(round(per_1000 * people / 10))) if komponen != "petunjuk_teknis" else 1
            available = int(round(needed * min(1.1, gen.beta(6, 1.5) + 0.05 * triwulan)))
            mutu.append([kode, komponen, uraian, satuan, needed, available])
        alokasi = float(round(gen.uniform(50, 400) * people * 1000, -3))
        months = [None] * 12
        for m in range(3 * triwulan):
            months[m] = float(round(alokasi / 12 * gen.uniform(0.3, 1.3), -3))
        anggaran.append([kode, alokasi, *months])
    identitas = [[world.kode, bidang, tahun, triwulan, f"{PERANGKAT_DAERAH[bidang]} {world.kode}"]]
    return {"identitas": identitas, "mutu": mutu, "anggaran": anggaran}


def write_opd_workbook(path: Path, world: KabKotaWorld, bidang: str, tahun: int, triwulan: int,
                       malformed: str | None = None) -> Path:
    """Write a filled-in workbook; `malformed` (one of MALFORMED_KINDS) breaks it on purpose."""
    if malformed is not None and malformed not in MALFORMED_KINDS:
        raise ValueError(f"malformed {malformed!r} must be one of {', '.join(MALFORMED_KINDS)}")
    rows = workbook_rows(world, bidang, tahun, triwulan)
    book = Workbook()
    book.remove(book.active)
    for sheet in SHEETS:
        if malformed == "missing_sheet" and sheet == "anggaran":
            continue
        ws = book.create_sheet(sheet)
        names = header(sheet)
        if malformed == "bad_header" and sheet == "mutu":
            names = [("jml_tersedia" if n == "jumlah_tersedia" else n) for n in names]
        ws.append(names)
        for i, row in enumerate(rows[sheet]):
            if malformed == "bad_value" and sheet == "mutu" and i == 1:
                row = [*row[:5], "lengkap"]  # text where a number belongs
            if malformed == "unknown_layanan" and sheet == "anggaran" and i == 0:
                row = ["kes_tidak_ada", *row[1:]]
            ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def expected_mutu(world: KabKotaWorld, bidang: str, tahun: int, triwulan: int) -> dict[str, float]:
    """Per jenis layanan: % of needed items available (each item capped at what is needed)."""
    needed: dict[str, int] = {}
    met: dict[str, int] = {}
    for kode, _, _, _, n, available in workbook_rows(world, bidang, tahun, triwulan)["mutu"]:
        needed[kode] = needed.get(kode, 0) + n
        met[kode] = met.get(kode, 0) + min(n, available)
    return {kode: 100.0 * met[kode] / needed[kode] for kode in needed}


def expected_anggaran(world: KabKotaWorld, bidang: str, tahun: int, triwulan: int) -> dict[str, dict]:
    """Per jenis layanan: alokasi and realisasi year-to-date (sum of the filled months)."""
    out = {}
    for kode, alokasi, *months in workbook_rows(world, bidang, tahun, triwulan)["anggaran"]:
        out[kode] = {"alokasi": alokasi, "realisasi": float(np.nansum([m for m in months if m is not None]))}
    return out
