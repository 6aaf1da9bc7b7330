"""Simulated filled-in OPD input workbooks (DESIGN §3.4), in the layout of `spm.sources.opd_layout`:
one per kab/kota and bidang, and one per province and bidang for the province's own jenis layanan
(written where two or more kab/kota of a province are simulated, as the province is computed then),
whose health workbook has the penerima sheet (people affected by a disaster's health crisis and in
a KLB area, a few hundred a month in some months, most of them served).

`mutu` of a layanan = sum(min(tersedia, dibutuhkan)) / sum(dibutuhkan) x 100 is how the simulator's
expected figures read it (the project's index rule decides the official one).

The narrative sheets (layout 3) follow from the mutu rows, as an OPD would write them: the item most
short of its need is the permasalahan and its supply the solusi and the rencana aksi; the four
tahapan advance with the quarter.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from openpyxl import Workbook

from spm.simulator.determinism import rng
from spm.simulator.world import KabKotaWorld
from spm.sources.opd_layout import (
    BIDANG, MUTU_ITEMS, PENERIMA_LAYANAN, header, layanan_of, perangkat_daerah, sheets_of,
)

# Ways a workbook can break the layout (fault `malformed` of the inbox writer).
MALFORMED_KINDS = ("missing_sheet", "bad_header", "bad_value", "unknown_layanan")


def _people(areas: list[KabKotaWorld], tahun: int) -> float:
    """Thousands of residents on 31 December of the year before (what the needs scale with)."""
    return max(1.0, sum(float(a.penduduk.present_on(date(tahun - 1, 12, 31)).sum()) for a in areas) / 1000)


def penerima_rows(seed: int, kode_provinsi: str, tahun: int, triwulan: int) -> list[list]:
    """The penerima sheet: per layanan, the persons affected so far and those first served in each
    month. Each month is drawn on its own (seed, province, layanan, year, month), so a later
    quarter's workbook repeats the earlier months as they were."""
    rows = []
    for kode in PENERIMA_LAYANAN:
        affected, served = 0, [None] * 12
        for m in range(1, 3 * triwulan + 1):
            gen = rng(seed, kode_provinsi, "penerima", kode, tahun, m)
            new = int(gen.poisson(300)) if gen.random() < 0.4 else 0
            affected += new
            served[m - 1] = int(round(new * gen.uniform(0.7, 1.0)))
        rows.append([kode, affected, *served, "simulasi: kejadian per bulan"])
    return rows


def _narasi_rows(gen, mutu: list[list], layanan: tuple[str, ...], bidang: str, triwulan: int) -> dict[str, list[list]]:
    permasalahan, tahapan, rencana = [], [], []
    for kode in layanan:
        short = [(needed - available, uraian, satuan, komponen, needed, available)
                 for k, komponen, uraian, satuan, needed, available in mutu if k == kode and available < needed]
        if short:
            gap, uraian, satuan, komponen, needed, available = max(short, key=lambda x: (x[0] / x[4], x[1]))
            cara = "rekrutmen dan penugasan" if komponen == "sdm" else "pengadaan"
            permasalahan.append([kode, f"{uraian} baru tersedia {available} dari {needed} {satuan} yang dibutuhkan.",
                                 f"Memenuhi kekurangan {gap} {satuan} melalui {cara} pada triwulan berikutnya."])
            for gap, uraian, satuan, komponen, _, _ in short:
                if komponen == "petunjuk_teknis":
                    continue
                unit = "Subbagian Umum dan Kepegawaian" if komponen == "sdm" else f"Bidang Sarana {bidang.title()}"
                rencana.append([kode, f"{'Penugasan' if komponen == 'sdm' else 'Pengadaan'} {uraian.lower()}",
                                f"{gap} {satuan}", unit, min(12, 3 * triwulan + 3),
                                float(round(gap * gen.uniform(0.2, 5.0) * 1e6, -3))])
        else:
            permasalahan.append([kode, "Tidak ada permasalahan pada triwulan ini.",
                                 "Mempertahankan ketersediaan barang/jasa, SDM dan petunjuk teknis."])
        status = ["selesai", "selesai" if triwulan >= 2 else "berjalan",
                  "selesai" if triwulan >= 3 else ("berjalan" if triwulan == 2 else "belum"),
                  "selesai" if triwulan == 4 else ("berjalan" if triwulan >= 2 else "belum")]
        tahapan.append([kode, *status, None])
    return {"permasalahan": permasalahan, "tahapan": tahapan, "rencana_aksi": rencana}


def workbook_rows(world: KabKotaWorld, bidang: str, tahun: int, triwulan: int,
                  provinsi: list[KabKotaWorld] | None = None) -> dict[str, list[list]]:
    """The data rows of each sheet, deterministic per (seed, area, bidang, year, quarter). With
    `provinsi` (the simulated kab/kota of one province), the workbook of the province's own Dinas."""
    if bidang not in BIDANG:
        raise ValueError(f"bidang {bidang!r} must be one of {', '.join(BIDANG)}")
    tingkat = "provinsi" if provinsi else "kabupaten_kota"
    kode_wilayah = world.kode.split(".")[0] if provinsi else world.kode
    gen = rng(world.config.seed, kode_wilayah, "opd", bidang, tahun, triwulan)
    people = _people(provinsi or [world], tahun)
    mutu, anggaran = [], []
    for kode in layanan_of(bidang, tingkat):
        for komponen, uraian, satuan, per_1000 in MUTU_ITEMS[kode]:
            needed = max(1, int(round(per_1000 * people / 10))) if komponen != "petunjuk_teknis" else 1
            available = int(round(needed * min(1.1, gen.beta(6, 1.5) + 0.05 * triwulan)))
            mutu.append([kode, komponen, uraian, satuan, needed, available])
        alokasi = float(round(gen.uniform(50, 400) * people * 1000, -3))
        months = [None] * 12
        for m in range(3 * triwulan):
            months[m] = float(round(alokasi / 12 * gen.uniform(0.3, 1.3), -3))
        anggaran.append([kode, alokasi, *months])
    identitas = [[kode_wilayah, bidang, tahun, triwulan, f"{perangkat_daerah(bidang, tingkat)} {kode_wilayah}"]]
    rows = {"identitas": identitas, "mutu": mutu, "anggaran": anggaran,
            **_narasi_rows(rng(world.config.seed, kode_wilayah, "opd-narasi", bidang, tahun, triwulan), mutu,
                           layanan_of(bidang, tingkat), bidang, triwulan)}
    rows["ikm"] = _ikm_rows(rng(world.config.seed, kode_wilayah, "opd-ikm", bidang, tahun, triwulan),
                            layanan_of(bidang, tingkat), bidang, tahun, triwulan)
    if "penerima" in sheets_of(bidang, tingkat):
        rows["penerima"] = penerima_rows(world.config.seed, kode_wilayah, tahun, triwulan)
    return rows


def _ikm_rows(gen, layanan: tuple[str, ...], bidang: str, tahun: int, triwulan: int) -> list[list]:
    """A Survei Kepuasan Masyarakat per semester of the Dinas as a whole and of a few of its units, each
    about one jenis layanan (nilai on the 25-100 scale, mostly B and C, now and then A or D)."""
    semester = "I" if triwulan <= 2 else "II"
    unit = "UPTD Puskesmas" if bidang == "kesehatan" else "Satuan pendidikan binaan"
    rows = [[perangkat_daerah(bidang), None, f"{tahun} semester {semester}", int(gen.integers(200, 600)),
             round(float(gen.uniform(70, 92)), 2)]]
    for i, kode in enumerate(layanan[:3], start=1):
        rows.append([f"{unit} {i}", kode, f"{tahun} semester {semester}", int(gen.integers(60, 300)),
                     round(float(min(100.0, max(25.0, gen.normal(79, 9)))), 2)])
    return rows


def write_opd_workbook(path: Path, world: KabKotaWorld, bidang: str, tahun: int, triwulan: int,
                       malformed: str | None = None, provinsi: list[KabKotaWorld] | None = None) -> Path:
    """Write a filled-in workbook (of the province's Dinas with `provinsi`, its simulated kab/kota);
    `malformed` (one of MALFORMED_KINDS) breaks it on purpose."""
    if malformed is not None and malformed not in MALFORMED_KINDS:
        raise ValueError(f"malformed {malformed!r} must be one of {', '.join(MALFORMED_KINDS)}")
    rows = workbook_rows(world, bidang, tahun, triwulan, provinsi)
    book = Workbook()
    book.remove(book.active)
    for sheet in rows:
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


def expected_mutu(world: KabKotaWorld, bidang: str, tahun: int, triwulan: int,
                  provinsi: list[KabKotaWorld] | None = None) -> dict[str, float]:
    """Per jenis layanan: % of needed items available (each item capped at what is needed)."""
    needed: dict[str, int] = {}
    met: dict[str, int] = {}
    for kode, _, _, _, n, available in workbook_rows(world, bidang, tahun, triwulan, provinsi)["mutu"]:
        needed[kode] = needed.get(kode, 0) + n
        met[kode] = met.get(kode, 0) + min(n, available)
    return {kode: 100.0 * met[kode] / needed[kode] for kode in needed}


def expected_anggaran(world: KabKotaWorld, bidang: str, tahun: int, triwulan: int) -> dict[str, dict]:
    """Per jenis layanan: alokasi and realisasi year-to-date (sum of the filled months)."""
    out = {}
    for kode, alokasi, *months in workbook_rows(world, bidang, tahun, triwulan)["anggaran"]:
        out[kode] = {"alokasi": alokasi, "realisasi": float(np.nansum([m for m in months if m is not None]))}
    return out


def expected_penerima(seed: int, kode_provinsi: str, tahun: int, triwulan: int) -> dict[str, dict]:
    """Per OPD-entered jenis layanan: sasaran, terlayani (year to date) and the months, as the
    province's capaian rows must show them."""
    out = {}
    for kode, sasaran, *rest in penerima_rows(seed, kode_provinsi, tahun, triwulan):
        months = rest[:12]
        out[kode] = {"sasaran": sasaran, "terlayani": sum(m for m in months if m is not None),
                     "bulan": {i + 1: m for i, m in enumerate(months) if m is not None}}
    return out
