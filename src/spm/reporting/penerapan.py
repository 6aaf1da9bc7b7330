"""What the OPD wrote for the quarter's report (the narrative sheets of its workbook): permasalahan and
solusi, the status of the four tahapan penerapan SPM per jenis layanan, and the rencana aksi. Read
from the published facts of the same partition as its mutu and anggaran; the report and the e-SPM
workbook print them per bidang, each missing part said in Indonesian, never left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from spm.sources.opd_layout import STATUS_TAHAPAN_NAMES, TAHAPAN, TAHAPAN_NAMES
from spm.warehouse.tables_opd import (
    fact_input_ikm, fact_input_permasalahan, fact_input_rencana_aksi, fact_input_tahapan,
)

MONTH_NAMES = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
               "November", "Desember")
TANPA_INPUT = "Belum ada input OPD untuk triwulan ini."
BELUM_DIISI = "belum diisi OPD"


@dataclass
class Penerapan:
    """Rows per table, in workbook order (`baris`); `bidang_input`: the bidang whose OPD workbook of the
    quarter was published (a bidang without one has nothing to show, for another reason)."""

    permasalahan: list[dict[str, Any]] = field(default_factory=list)
    tahapan: list[dict[str, Any]] = field(default_factory=list)
    rencana_aksi: list[dict[str, Any]] = field(default_factory=list)
    bidang_input: set[str] = field(default_factory=set)
    ikm: list[dict[str, Any]] = field(default_factory=list)  # Survei Kepuasan Masyarakat results
    tingkat: str = "kabupaten_kota"  # whose SPM the OPD reports: a province's Dinas its own jenis layanan

    def kosong(self, bidang: str, rows: list[dict[str, Any]]) -> str | None:
        """Why a bidang's part shows no row: no workbook, or the OPD left it empty; None when it has rows."""
        if bidang not in self.bidang_input:
            return TANPA_INPUT
        if not rows:
            return f"Bagian ini {BELUM_DIISI} untuk triwulan ini."
        return None

    def permasalahan_of(self, bidang: str, layanan: list) -> list[tuple[Any, list[dict[str, Any]]]]:
        """(jenis layanan, its problems) in catalog order; a jenis layanan the OPD wrote nothing for has []."""
        return [(lay, [r for r in self.permasalahan if r["kode_layanan"] == lay.kode])
                for lay in self.layanan_bidang(bidang, layanan)]

    def tahapan_of(self, bidang: str, layanan: list) -> list[tuple[Any, dict[str, Any] | None]]:
        by_kode = {r["kode_layanan"]: r for r in self.tahapan}
        return [(lay, by_kode.get(lay.kode)) for lay in self.layanan_bidang(bidang, layanan)]

    def rencana_of(self, bidang: str, layanan: list) -> list[tuple[Any, list[dict[str, Any]]]]:
        """(jenis layanan, its actions) for the jenis layanan with actions, in catalog order."""
        out = [(lay, [r for r in self.rencana_aksi if r["kode_layanan"] == lay.kode])
               for lay in self.layanan_bidang(bidang, layanan)]
        return [(lay, rows) for lay, rows in out if rows]

    def layanan_bidang(self, bidang: str, layanan: list) -> list:
        """The jenis layanan of `layanan` (the catalog) its OPD reports for a bidang."""
        return [lay for lay in layanan if lay.bidang == bidang and lay.tingkat_pemerintahan == self.tingkat]

    def rows_of(self, bidang: str, table: str) -> list[dict[str, Any]]:
        return [r for r in getattr(self, table) if r["bidang"] == bidang]


def tahapan_kolom() -> list[tuple[str, str]]:
    """(column, Indonesian name) of the four tahapan, in order."""
    return [(t, TAHAPAN_NAMES[t]) for t in TAHAPAN]


def status_tahapan(value: str | None) -> str:
    return STATUS_TAHAPAN_NAMES.get(value, value) if value else BELUM_DIISI


def bulan_selesai(value: int | None, tahun: int) -> str:
    return f"{MONTH_NAMES[value - 1]} {tahun}" if value and 1 <= value <= 12 else "–"


def load_penerapan(conn, kode_kab_kota: str, tahun: int, triwulan: int, figures: list[dict[str, Any]],
                   tingkat: str = "kabupaten_kota") -> Penerapan:
    """The partition's narrative; `figures`: its published mutu and anggaran rows (which bidang sent a workbook)."""
    def rows(table: sa.Table) -> list[dict[str, Any]]:
        c = table.c
        return [dict(r._mapping) for r in conn.execute(sa.select(table).where(
            c.kode_kab_kota == kode_kab_kota, c.tahun == tahun, c.triwulan == triwulan).order_by(c.bidang, c.baris))]

    return Penerapan(rows(fact_input_permasalahan), rows(fact_input_tahapan), rows(fact_input_rencana_aksi),
                     {r["bidang"] for r in figures}, rows(fact_input_ikm), tingkat)
