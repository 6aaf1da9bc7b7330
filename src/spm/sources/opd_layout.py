"""The OPD input workbook's layout (DESIGN §3.4), as data: the one definition the reader
(`spm.sources.opd_workbook`), the shipped blank template (`spm.opd_template`) and the simulator's
filled-in copies (`spm.simulator.opd_workbook`) all import, so they cannot drift apart.

One workbook per OPD (bidang), kabupaten/kota or provinsi, and quarter, named by
`workbook_filename`, e.g. `opd_kesehatan_3271_2025_TW1.xlsx` (a kab/kota) or
`opd_kesehatan_32_2025_TW1.xlsx` (the Dinas of the province, for the province's own jenis layanan).
Its sheets (`sheets_of`), in this order, each with a header row in row 1 (exact column names below,
in order) and data from row 2:

- `identitas`: one data row: kode_wilayah (dotted kab/kota code, or the two-digit province code),
  bidang (`pendidikan` or `kesehatan`), tahun, triwulan (1-4), perangkat_daerah (name of the OPD).
- `penerima` (only where the workbook's jenis layanan include ones no sector system holds:
  `PENERIMA_LAYANAN`, the province's health crisis and KLB services): one row per such jenis layanan:
  kode_layanan, jumlah_sasaran (persons entitled in the year so far: affected by the crisis, living in
  the KLB area), then terlayani_01 .. terlayani_12 (persons first served in each month; months after
  the quarter are empty), and keterangan (the events, e.g. "banjir Garut Maret"; never names).
- `mutu`: one row per quality item: kode_layanan (DESIGN §5 code of the bidang), komponen
  (`barang_jasa`, `sdm` or `petunjuk_teknis`), uraian (item), satuan, jumlah_dibutuhkan,
  jumlah_tersedia (whole numbers >= 0; available may exceed needed).
- `anggaran`: one row per jenis layanan: kode_layanan, alokasi (Rp for the year), then
  realisasi_01 .. realisasi_12 (Rp spent in each month; months after the quarter are empty).
- `permasalahan` (what the OPD writes in the report, `NARASI_SHEETS`): one row per problem met:
  kode_layanan, permasalahan, solusi (the problem and how the OPD answers it).
- `tahapan`: one row per jenis layanan: kode_layanan, then the status (`STATUS_TAHAPAN`) of each of
  the four tahapan penerapan SPM (`TAHAPAN`), and keterangan.
- `rencana_aksi`: one row per planned action: kode_layanan, kegiatan, keluaran (what it delivers),
  unit_pelaksana (the unit responsible, never a person's name), bulan_selesai (1-12 of the year),
  anggaran (Rp, optional).

- `ikm` (layout 4): one row per survey of a unit layanan (a puskesmas, a school, the Dinas itself):
  unit_layanan, kode_layanan (the jenis layanan it concerns; empty for the unit as a whole),
  periode_survei, jumlah_responden, nilai_ikm (the Indeks Kepuasan Masyarakat of the survey under
  Permenpan RB 14/2017, on its 25-100 scale; its mutu A-D follows from it, `mutu_ikm`).

The three narrative sheets arrived with layout 3 and ikm with layout 4: a workbook from an older template without them is
still taken (with a warning, and the report says the OPD has not written them); when present they
are checked like the others.

`LAYOUT_VERSION` changes when the layout changes.
"""

from __future__ import annotations

from dataclasses import dataclass

LAYOUT_VERSION = 4  # 2: provinsi workbooks and the penerima sheet; 3: permasalahan, tahapan, rencana_aksi; 4: ikm
BIDANG = ("pendidikan", "kesehatan")
TINGKAT = ("kabupaten_kota", "provinsi")
KOMPONEN = ("barang_jasa", "sdm", "petunjuk_teknis")
PERANGKAT_DAERAH = {"pendidikan": "Dinas Pendidikan", "kesehatan": "Dinas Kesehatan"}
# The four tahapan penerapan SPM every daerah runs (PP 2/2018, Permendagri 59/2021; docs/spm-domain.md), which
# the quarterly e-SPM report asks the status of.
TAHAPAN = ("pengumpulan_data", "penghitungan_kebutuhan", "rencana_pemenuhan", "pelaksanaan")
TAHAPAN_NAMES = {"pengumpulan_data": "Pengumpulan data", "penghitungan_kebutuhan": "Penghitungan kebutuhan pemenuhan",
                 "rencana_pemenuhan": "Penyusunan rencana pemenuhan", "pelaksanaan": "Pelaksanaan pemenuhan"}
STATUS_TAHAPAN = ("belum", "berjalan", "selesai")
STATUS_TAHAPAN_NAMES = {"belum": "Belum dimulai", "berjalan": "Sedang berjalan", "selesai": "Selesai"}
NARASI_SHEETS = ("permasalahan", "tahapan", "rencana_aksi")  # optional in a workbook of an older template
OPTIONAL_SHEETS = (*NARASI_SHEETS, "ikm")  # taken from a workbook of an older template when absent
# Permenpan RB 14/2017 (Pedoman Penyusunan Survei Kepuasan Masyarakat): the nilai interval konversi of
# an IKM survey (25-100) gives its mutu pelayanan: (lowest nilai, mutu, kinerja unit pelayanan).
IKM_MIN, IKM_MAX = 25.0, 100.0
MUTU_IKM = ((88.31, "A", "Sangat baik"), (76.61, "B", "Baik"), (65.00, "C", "Kurang baik"), (25.00, "D", "Tidak baik"))
NARASI_LENGTH = 2000  # characters of a narrative cell: room for a paragraph, refused (never cut) beyond


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
    "penerima": (
        Column("kode_layanan", "text", True, max_length=64, description="jenis layanan code (penerima from the OPD)"),
        Column("jumlah_sasaran", "integer", True, "persons entitled in the year up to the quarter's end"),
        *(Column(f"terlayani_{m:02d}", "integer", False, f"persons first served in month {m} "
                 "(empty after the quarter)") for m in range(1, 13)),
        Column("keterangan", "text", False, "the events (crisis, KLB) the figures are about; no names"),
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
    "permasalahan": (
        Column("kode_layanan", "text", True, max_length=64, description="jenis layanan code of DESIGN §5"),
        Column("permasalahan", "text", True, max_length=NARASI_LENGTH,
               description="a problem met in applying the SPM to this jenis layanan; no names"),
        Column("solusi", "text", True, max_length=NARASI_LENGTH, description="how the OPD answers it"),
    ),
    "tahapan": (
        Column("kode_layanan", "text", True, max_length=64, description="jenis layanan code of DESIGN §5"),
        *(Column(t, "text", True, max_length=16, description=f"{TAHAPAN_NAMES[t]}: {', '.join(STATUS_TAHAPAN)}")
          for t in TAHAPAN),
        Column("keterangan", "text", False, max_length=NARASI_LENGTH, description="notes on the tahapan; no names"),
    ),
    "rencana_aksi": (
        Column("kode_layanan", "text", True, max_length=64, description="jenis layanan code of DESIGN §5"),
        Column("kegiatan", "text", True, max_length=NARASI_LENGTH, description="the planned action"),
        Column("keluaran", "text", True, max_length=NARASI_LENGTH, description="what it delivers (e.g. 40 bidan terlatih)"),
        Column("unit_pelaksana", "text", True, description="the unit responsible (a unit, never a person's name)"),
        Column("bulan_selesai", "integer", True, "month of the year it is to be done (1-12)"),
        Column("anggaran", "number", False, "budget of the action, Rp (empty when none)"),
    ),
    "ikm": (
        Column("unit_layanan", "text", True, "the unit surveyed (puskesmas, sekolah, the Dinas): a unit, never a person"),
        Column("kode_layanan", "text", False, max_length=64,
               description="jenis layanan the survey concerns (DESIGN §5 code); empty for the unit as a whole"),
        Column("periode_survei", "text", True, max_length=64, description="when surveyed, e.g. 2026 semester I"),
        Column("jumlah_responden", "integer", True, "respondents of the survey (at least 1)"),
        Column("nilai_ikm", "number", True, "IKM of the survey, 25-100 (Permenpan RB 14/2017 nilai interval konversi)"),
    ),
}

def mutu_ikm(nilai: float | None) -> tuple[str, str] | None:
    """(mutu, kinerja) of an IKM nilai on the 25-100 scale; None outside it."""
    if nilai is None or not IKM_MIN <= nilai <= IKM_MAX:
        return None
    return next((m, k) for low, m, k in MUTU_IKM if nilai >= low)


# Quality items per jenis layanan: (komponen, uraian, satuan, typical need per 1000 sasaran: what
# the simulator fills in; the template lists the items).
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
    # The province's own (LAYANAN_PROVINSI), after Permendikbudristek 32/2022 and Permenkes 6/2024.
    "pend_menengah": (("barang_jasa", "Buku teks pelajaran SMA/SMK", "eksemplar", 900),
                      ("sdm", "Guru SMA/SMK", "orang", 55), ("petunjuk_teknis", "Pedoman asesmen SMA/SMK", "dokumen", 1)),
    "pend_khusus": (("barang_jasa", "Alat bantu belajar peserta didik disabilitas", "paket", 300),
                    ("sdm", "Guru pendidikan khusus", "orang", 150),
                    ("petunjuk_teknis", "Pedoman pembelajaran pendidikan khusus", "dokumen", 1)),
    "kes_krisis_bencana": (("barang_jasa", "Paket logistik kesehatan krisis", "paket", 50),
                           ("sdm", "Tim gerak cepat kesehatan", "orang", 10),
                           ("petunjuk_teknis", "Pedoman penanggulangan krisis kesehatan", "dokumen", 1)),
    "kes_klb": (("barang_jasa", "Logistik penyelidikan epidemiologi KLB", "paket", 20),
                ("sdm", "Tim penyelidikan epidemiologi", "orang", 10),
                ("petunjuk_teknis", "Pedoman penanggulangan KLB", "dokumen", 1)),
}
# The province's own jenis layanan (katalog `tingkat_pemerintahan: provinsi`), filled in by the
# Dinas of the province; the others are the kab/kota SPM.
LAYANAN_PROVINSI = ("pend_menengah", "pend_khusus", "kes_krisis_bencana", "kes_klb")
# Jenis layanan whose sasaran and terlayani only the OPD knows (katalog `sumber: opd`): no sector
# system records who was affected by a disaster or lived in a KLB area.
PENERIMA_LAYANAN = ("kes_krisis_bencana", "kes_klb")
_PREFIX = {"pendidikan": "pend_", "kesehatan": "kes_"}


def layanan_of(bidang: str, tingkat: str = "kabupaten_kota") -> tuple[str, ...]:
    """The jenis layanan a workbook of a bidang and level of government reports, in report order."""
    if tingkat not in TINGKAT:
        raise ValueError(f"tingkat {tingkat!r} must be one of {', '.join(TINGKAT)}")
    return tuple(k for k in MUTU_ITEMS if k.startswith(_PREFIX[bidang])
                 and (k in LAYANAN_PROVINSI) == (tingkat == "provinsi"))


LAYANAN_OF_BIDANG = {bidang: layanan_of(bidang) for bidang in BIDANG}  # of a kab/kota


def tingkat_of_kode(kode_wilayah: str) -> str:
    return "provinsi" if "." not in kode_wilayah else "kabupaten_kota"


def sheets_of(bidang: str, tingkat: str = "kabupaten_kota") -> tuple[str, ...]:
    """The sheets of a workbook, in order: `penerima` only where it has PENERIMA_LAYANAN."""
    penerima = any(k in PENERIMA_LAYANAN for k in layanan_of(bidang, tingkat))
    return tuple(s for s in SHEETS if s != "penerima" or penerima)


def perangkat_daerah(bidang: str, tingkat: str = "kabupaten_kota") -> str:
    return PERANGKAT_DAERAH[bidang] + (" Provinsi" if tingkat == "provinsi" else "")


def workbook_filename(bidang: str, kode_wilayah: str, tahun: int, triwulan: int) -> str:
    return f"opd_{bidang}_{kode_wilayah.replace('.', '')}_{tahun}_TW{triwulan}.xlsx"


def header(sheet: str) -> list[str]:
    return [c.name for c in SHEETS[sheet]]
