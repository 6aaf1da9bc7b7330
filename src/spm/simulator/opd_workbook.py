"""The OPD input workbook (DESIGN §3.4): its layout as data, and simulated filled-in copies.

One workbook per OPD (bidang), kabupaten/kota and quarter, named by `workbook_filename`, e.g.
`opd_kesehatan_3271_2025_TW1.xlsx`. It has three sheets, in this order, each with a header row in
row 1 (exact column names below, in order) and data from row 2:

- `identitas`: one data row: kode_wilayah (dotted kab/kota code), bidang (`pendidikan` or
  `kesehatan`), tahun, triwulan (1-4), perangkat_daerah (name of the OPD).
- `mutu`: one row per quality item: kode_layanan (DESIGN §5 code of the bidang), komponen
  (`barang_jasa`, `sdm` or `petunjuk_teknis`), uraian (item), satuan, jumlah_dibutuhkan,
  jumlah_tersedia (whole numbers >= 0; available may exceed needed).
- `anggaran`: one row per jenis layanan: kode_layanan, alokasi (Rp for the year), then
  realisasi_01 .. realisasi_12 (Rp spent in each month; months after the quarter are empty).

`mutu` of a layanan = sum(min(tersedia, dibutuhkan)) / sum(dibutuhkan) x 100 is how the simulator's
expected figures read it (the project's index rule decides the official one).
The project's own template module adopts `SHEETS`; `LAYOUT_VERSION` changes when it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from openpyxl import Workbook

from spm.simulator.determinism import rng
from spm.simulator.world import KabKotaWorld

LAYOUT_VERSION = 1
BIDANG = ("pendidikan", "kesehatan")
KOMPONEN = ("barang_jasa", "sdm", "petunjuk_teknis")
PERANGKAT_DAERAH = {"pendidikan": "Dinas Pendidikan", "kesehatan": "Dinas Kesehatan"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "text", "integer" or "number"
    required: bool
    description: str
    max_length: int = 255  # of a text: its warehouse column; a longer text is refused, never cut


SHEETS: dict[str, tuple[Column, ...]] = {
    "identitas": (
        Column("kode_wilayah", "text", True, "kabupaten/kota code, dotted (e.g. 32.71)"),
        Column("bidang", "text", True, "pendidikan or kesehatan"),
        Column("tahun", "integer", True, "year reported"),
        Column("triwulan", "integer", True, "quarter 1-4"),
        Column("perangkat_daerah", "text", True, "the OPD filling the workbook"),
    ),
    "mutu": (
        Column("kode_layanan", "text", True, max_length=64, description="jenis layanan code of DESIGN §5"),
        Column("komponen", "text", True, max_length=64, description="barang_jasa, sdm or petunjuk_teknis"),
        Column("uraian", "text", True, "quality item"),
        Column("satuan", "text", True, max_length=64, description="unit of the item"),
        Column("jumlah_dibutuhkan", "integer", True, "needed for the sasaran of the year"),
        Column("jumlah_tersedia", "integer", True, "available at the quarter's end"),
    ),
    "anggaran": (
        Column("kode_layanan", "text", True, max_length=64, description="jenis layanan code of DESIGN §5"),
        Column("alokasi", "number", True, "budget allocated for the year, Rp"),
        *(Column(f"realisasi_{m:02d}", "number", False, f"spent in month {m}, Rp (empty after the quarter)")
          for m in range(1, 13)),
    ),
}

# Quality items per jenis layanan: (komponen, uraian, satuan, typical need per 1000 sasaran).
MUTU_ITEMS: dict[str, tuple[tuple[str, str, str, float], ...]] = {
    "pend_paud": (("barang_jasa", "Alat permainan edukatif", "paket", 20), ("sdm", "Pendidik PAUD", "orang", 60),
                  ("petunjuk_teknis", "Pedoman kurikulum PAUD", "dokumen", 1)),
    "pend_dasar": (("barang_jasa", "Buku teks pelajaran", "eksemplar", 900), ("sdm", "Guru kelas/mapel", "orang", 45),
                   ("petunjuk_teknis", "Pedoman asesmen", "dokumen", 1)),
    "pend_kesetaraan": (("barang_jasa", "Modul Paket A/B/C", "eksemplar", 700), ("sdm", "Tutor", "orang", 40),
                        ("petunjuk_teknis", "Pedoman penyelenggaraan kesetaraan", "dokumen", 1)),
    "kes_ibu_hamil": (("barang_jasa", "Buku KIA", "buah", 1000), ("sdm", "Bidan", "orang", 8),
                      ("petunjuk_teknis", "Pedoman ANC terpadu", "dokumen", 1)),
    "kes_ibu_bersalin": (("barang_jasa", "Partus set", "set", 20), ("sdm", "Bidan", "orang", 8),
                         ("petunjuk_teknis", "Pedoman persalinan normal", "dokumen", 1)),
    "kes_bbl": (("barang_jasa", "Vitamin K1 injeksi", "ampul", 1000), ("sdm", "Bidan", "orang", 6),
                ("petunjuk_teknis", "Pedoman pelayanan neonatal esensial", "dokumen", 1)),
    "kes_balita": (("barang_jasa", "Timbangan dan alat ukur panjang/tinggi", "set", 10),
                   ("sdm", "Kader posyandu", "orang", 50), ("petunjuk_teknis", "Buku pedoman SDIDTK", "dokumen", 1)),
    "kes_usia_dikdas": (("barang_jasa", "Kit UKS", "paket", 5), ("sdm", "Tenaga kesehatan UKS", "orang", 3),
                        ("petunjuk_teknis", "Pedoman penjaringan kesehatan", "dokumen", 1)),
    "kes_usia_produktif": (("barang_jasa", "Tensimeter digital", "buah", 2), ("sdm", "Tenaga posbindu PTM", "orang", 4),
                           ("petunjuk_teknis", "Pedoman skrining PTM", "dokumen", 1)),
    "kes_usia_lanjut": (("barang_jasa", "Strip tes kolesterol", "buah", 1000), ("sdm", "Kader posyandu lansia", "orang", 15),
                        ("petunjuk_teknis", "Pedoman pelayanan lansia", "dokumen", 1)),
    "kes_hipertensi": (("barang_jasa", "Obat antihipertensi", "paket", 900), ("sdm", "Dokter", "orang", 2),
                       ("petunjuk_teknis", "Pedoman tata laksana hipertensi", "dokumen", 1)),
    "kes_dm": (("barang_jasa", "Strip tes gula darah", "buah", 1000), ("sdm", "Dokter", "orang", 3),
               ("petunjuk_teknis", "Pedoman tata laksana DM", "dokumen", 1)),
    "kes_odgj_berat": (("barang_jasa", "Obat antipsikotik", "paket", 900), ("sdm", "Perawat jiwa", "orang", 20),
                       ("petunjuk_teknis", "Pedoman keswa di puskesmas", "dokumen", 1)),
    "kes_terduga_tb": (("barang_jasa", "Cartridge TCM", "buah", 1000), ("sdm", "Petugas TB", "orang", 10),
                       ("petunjuk_teknis", "Pedoman penanggulangan TBC", "dokumen", 1)),
    "kes_risiko_hiv": (("barang_jasa", "Reagen tes HIV", "tes", 1000), ("sdm", "Konselor HIV", "orang", 8),
                       ("petunjuk_teknis", "Pedoman tes HIV", "dokumen", 1)),
}
_PREFIX = {"pendidikan": "pend_", "kesehatan": "kes_"}
LAYANAN_OF_BIDANG = {bidang: tuple(k for k in MUTU_ITEMS if k.startswith(_PREFIX[bidang])) for bidang in BIDANG}

# Ways a workbook can break the layout (fault `malformed` of the inbox writer).
MALFORMED_KINDS = ("missing_sheet", "bad_header", "bad_value", "unknown_layanan")


def workbook_filename(bidang: str, kode_wilayah: str, tahun: int, triwulan: int) -> str:
    return f"opd_{bidang}_{kode_wilayah.replace('.', '')}_{tahun}_TW{triwulan}.xlsx"


def header(sheet: str) -> list[str]:
    return [c.name for c in SHEETS[sheet]]


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
