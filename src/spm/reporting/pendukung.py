"""The five supporting indices the SPM guidance names beside the SPM index (issue 20 item 4): sarana
prasarana, SDM, anggaran, proses and kepuasan masyarakat, per bidang, from what the OPD workbook of
the quarter holds. They explain a low index (which of the inputs falls short); they never enter its
`nilai`, whose formula is the Permendagri form's (config/indeks_spm.yaml). Each says how it was
formed; one that cannot be formed says why instead of showing 0 or 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spm.reporting.charts import format_number
from spm.reporting.lokal import bulat
from spm.sources.opd_layout import TAHAPAN, mutu_ikm

INDEKS = (("sarana_prasarana", "Sarana prasarana"), ("sdm", "Sumber daya manusia"), ("anggaran", "Anggaran"),
          ("proses", "Proses penerapan"), ("kepuasan", "Kepuasan masyarakat"))
TANPA_BUKU_KERJA = "belum ada buku kerja OPD triwulan ini"


@dataclass(frozen=True)
class IndeksPendukung:
    kode: str
    nama: str
    nilai: float | None  # 0-100 (kepuasan: the IKM on its 25-100 scale)
    dasar: str  # how it was formed, or why it could not be

    @property
    def nilai_bulat(self) -> float | None:
        """As printed: 2 decimals, half up (lokal.bulat), the figure the IKM mutu is read from."""
        return bulat(self.nilai, 2)

    @property
    def mutu(self) -> str | None:
        """The IKM's mutu pelayanan A-D (kepuasan only)."""
        # on the nilai as shown (2 decimals, half up): 76,605 shows as 76,61 and is B, as the table says
        m = mutu_ikm(self.nilai_bulat) if self.kode == "kepuasan" else None
        return f"{m[0]} ({m[1].lower()})" if m else None


def skor_tahapan() -> dict[str, float]:
    from spm.config import load_yaml

    conf = (load_yaml("indeks_spm.yaml").get("indeks_pendukung") or {}).get("skor_tahapan") or {}
    return {k: float(conf.get(k, d)) for k, d in (("selesai", 100), ("berjalan", 50), ("belum", 0))}


def _ketersediaan(kode: str, nama: str, rows: list[dict[str, Any]], komponen: str, what: str) -> IndeksPendukung:
    items = [r for r in rows if r["komponen"] == komponen and r["jumlah_dibutuhkan"]]
    if not items:
        return IndeksPendukung(kode, nama, None, f"tidak ada item {what} yang dibutuhkan dalam input mutu")
    ratios = [min(r["jumlah_tersedia"], r["jumlah_dibutuhkan"]) / r["jumlah_dibutuhkan"] for r in items]
    full = sum(1 for x in ratios if x >= 1)
    return IndeksPendukung(kode, nama, 100.0 * sum(ratios) / len(ratios),
                           f"rata-rata ketersediaan {len(items)} item {what} (tiap item sampai yang dibutuhkan); "
                           f"{full} item terpenuhi penuh")


def _anggaran(rows: list[dict[str, Any]]) -> IndeksPendukung:
    alokasi = sum(r["alokasi"] or 0 for r in rows)
    if not rows or not alokasi:
        return IndeksPendukung("anggaran", "Anggaran", None, "tidak ada alokasi anggaran dalam input OPD")
    realisasi = sum(r["realisasi"] or 0 for r in rows)
    return IndeksPendukung("anggaran", "Anggaran", 100.0 * realisasi / alokasi,
                           f"realisasi s.d. triwulan Rp {format_number(realisasi)} dari alokasi setahun "
                           f"Rp {format_number(alokasi)} ({len(rows)} jenis layanan)")


def _proses(rows: list[dict[str, Any]], layanan: int) -> IndeksPendukung:
    if not rows:
        return IndeksPendukung("proses", "Proses penerapan", None, "status tahapan penerapan SPM belum diisi OPD")
    skor = skor_tahapan()
    scores = [skor.get(r[t], 0.0) for r in rows for t in TAHAPAN]
    done = sum(1 for r in rows for t in TAHAPAN if r[t] == "selesai")
    return IndeksPendukung("proses", "Proses penerapan", sum(scores) / len(scores),
                           f"{len(TAHAPAN)} tahapan penerapan SPM pada {len(rows)} dari {layanan} jenis layanan "
                           f"(selesai {format_number(skor['selesai'])}, berjalan {format_number(skor['berjalan'])}, "
                           f"belum {format_number(skor['belum'])}); {done} dari {len(scores)} tahapan selesai")


def _kepuasan(rows: list[dict[str, Any]]) -> IndeksPendukung:
    if not rows:
        return IndeksPendukung("kepuasan", "Kepuasan masyarakat", None,
                               "belum ada hasil survei kepuasan masyarakat dalam input OPD")
    responden = sum(r["jumlah_responden"] for r in rows)
    nilai = sum(r["nilai_ikm"] * r["jumlah_responden"] for r in rows) / responden
    units = len({r["unit_layanan"] for r in rows})
    return IndeksPendukung("kepuasan", "Kepuasan masyarakat", nilai,
                           f"IKM rata-rata {len(rows)} survei di {units} unit layanan, ditimbang jumlah responden "
                           f"({format_number(responden)} responden; skala 25-100, Permenpan RB 14/2017)")


def indeks_pendukung(data, bidang: str) -> list[IndeksPendukung]:
    """The five of one bidang of a report (`data`: reporting.data.LaporanData), in INDEKS order."""
    pn = data.penerapan
    if bidang not in pn.bidang_input:
        return [IndeksPendukung(kode, nama, None, TANPA_BUKU_KERJA) for kode, nama in INDEKS]
    mutu = [r for r in data.mutu if r["bidang"] == bidang]
    layanan = [lay.kode for lay in pn.layanan_bidang(bidang, data.layanan)]
    return [
        _ketersediaan("sarana_prasarana", "Sarana prasarana", mutu, "barang_jasa", "barang/jasa"),
        _ketersediaan("sdm", "Sumber daya manusia", mutu, "sdm", "SDM"),
        _anggaran([r for r in data.anggaran if r["bidang"] == bidang]),
        _proses([r for r in pn.rows_of(bidang, "tahapan") if r["kode_layanan"] in layanan], len(layanan)),
        _kepuasan(pn.rows_of(bidang, "ikm")),
    ]
