"""The e-SPM quarterly workbook (DESIGN §6): one sheet per bidang laid out like the e-SPM form, an index
sheet and a lineage sheet.

Cells hold numbers, never text, so the OPD can total and check them; formats carry the Indonesian
locale tag ([$-421]) so Excel shows 1.234,5. Sheets are protected (no password) against accidental
edits of computed cells: whoever must change a figure changes it at its source and reruns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spm.reporting.lokal import bulat, status, waktu
from spm.reporting.pendukung import indeks_pendukung
from spm.reporting.penerapan import bulan_selesai, status_tahapan, tahapan_kolom
from spm.reporting.pengesahan import NAMA, NIP, TEMPAT_TANGGAL, kepala_opd, koordinator, status_dokumen
from spm.reporting.data import MONTH_ABBREVIATIONS, MUTU_COMPONENT_NAMES, BIDANG_NAMES, LaporanData

FMT_INTEGER = "[$-421]#,##0"
FMT_DECIMAL = "[$-421]#,##0.00"
FMT_RUPIAH = '[$-421]"Rp" #,##0'
ROMAN_NUMERALS = {1: "I", 2: "II", 3: "III", 4: "IV"}
QUARTER_END_DATES = {1: "31 Maret", 2: "30 Juni", 3: "30 September", 4: "31 Desember"}

# Columns of section A (e-SPM form "penerima layanan dasar").
SECTION_A_COLUMNS = ["No", "Uraian SPM", "Satuan", "Jumlah total yang harus dilayani", *MONTH_ABBREVIATIONS,
                     "Jumlah terlayani", "Belum terlayani", "%"]


def period_title(data: LaporanData) -> str:
    return (f"Tahun {data.tahun}, Triwulan {ROMAN_NUMERALS[data.triwulan]} "
            f"(kumulatif 1 Januari s.d. {QUARTER_END_DATES[data.triwulan]} {data.tahun})")


def _styles():
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    thin = Side(style="thin", color="808080")
    return {
        "title": Font(bold=True, size=13),
        "bold": Font(bold=True),
        "header": PatternFill("solid", fgColor="DDE5F0"),
        "border": Border(left=thin, right=thin, top=thin, bottom=thin),
        "centered": Alignment(horizontal="center", vertical="center", wrap_text=True),
        "wrapped": Alignment(vertical="top", wrap_text=True),
        "top": Alignment(vertical="top"),
    }


LINE_HEIGHT = 15.0  # points per line of 11-pt text
PRINT_SCALE = 80  # fixed, never fit-to-page: wide sheets run onto a second page with No/Uraian repeated
PAGE_CHARACTERS = 125  # column-width units that fit across A4 landscape at PRINT_SCALE (LibreOffice's fonts)


def _lines(text: str, width: float) -> int:
    """Lines a wrapped text takes in a column `width` characters wide (a word never split; conservative, so
    LibreOffice and Excel both fit it without clipping)."""
    per_line = max(int(width) - 1, 4)
    if "\n" in str(text):  # a line break of its own starts a new line
        return sum(_lines(part, width) for part in str(text).split("\n"))
    lines, used = 1, 0
    for word in str(text).split():
        need = len(word) + (1 if used else 0)
        if used and used + need > per_line:
            lines, used = lines + 1, len(word)
        else:
            used += need
    return lines


class _Sheet:
    """A sheet being written row by row. Column widths are set first, so every row gets the height its
    wrapped text needs: LibreOffice does not grow a row for wrapped text it did not lay out itself."""

    def __init__(self, ws, st, widths: dict[str, float]):
        from openpyxl.utils import column_index_from_string

        self.ws, self.st, self.row = ws, st, 1
        for col, w in widths.items():
            ws.column_dimensions[col].width = w
        self.widths = {column_index_from_string(c): w for c, w in widths.items()}
        # texts wrap within the first printed page, never running onto the next
        total, self.span = 0.0, 1
        for i in sorted(self.widths):
            total += self.widths[i]
            if total > PAGE_CHARACTERS:
                break
            self.span = i

    def _width(self, first: int, last: int) -> float:
        return sum(self.widths.get(i, 8.43) for i in range(first, last + 1))

    def _height(self, lines: int) -> None:
        if lines > 1:
            self.ws.row_dimensions[self.row].height = max(self.ws.row_dimensions[self.row].height or 0,
                                                          LINE_HEIGHT * lines)

    def text(self, text: str, style: str | None = None, col: int = 1) -> None:
        """A line of text across the sheet's width, wrapped (never spilling past the printed page)."""
        cell = self.ws.cell(self.row, col, text)
        cell.alignment = self.st["wrapped"]
        if style:
            cell.font = self.st[style]
        if self.span > col:
            self.ws.merge_cells(start_row=self.row, start_column=col, end_row=self.row, end_column=self.span)
        self._height(_lines(text, self._width(col, self.span) * (0.85 if style == "title" else 1.0)))
        self.row += 1

    def _columns(self, values: list[Any], spans: dict[int, int] | None) -> list[tuple[int, int, Any]]:
        """(first, last column, value): a value listed in `spans` (first -> last column) is merged across."""
        out, col = [], 1
        for v in values:
            last = (spans or {}).get(col, col)
            out.append((col, last, v))
            col = last + 1
        return out

    def _merge(self, first: int, last: int) -> None:
        self.ws.merge_cells(start_row=self.row, start_column=first, end_row=self.row, end_column=last)
        for i in range(first + 1, last + 1):  # the merged range's own edges keep their border
            self.ws.cell(self.row, i).border = self.st["border"]

    def header(self, names: list[str], spans: dict[int, int] | None = None) -> None:
        lines = 1
        for first, last, name in self._columns(names, spans):
            c = self.ws.cell(self.row, first, name)
            c.font, c.fill, c.border, c.alignment = self.st["bold"], self.st["header"], self.st["border"], self.st["centered"]
            if last > first:
                self._merge(first, last)
            # bold text is wider: a header line holds ~10 % fewer characters
            lines = max(lines, _lines(name, self._width(first, last) * 0.9))
        self._height(lines)
        self.row += 1

    def cells(self, values: list[Any], formats: dict[int, str] | None = None,
              spans: dict[int, int] | None = None) -> None:
        """A table row; `formats` and `spans` are keyed by first column. Without `spans`, a closing text
        spans the rest of the printed page."""
        lines = 1
        columns = self._columns(values, spans)
        for n, (i, last, v) in enumerate(columns, 1):
            c = self.ws.cell(self.row, i, v)
            c.border = self.st["border"]
            if isinstance(v, str):
                c.alignment = self.st["wrapped"]
                if spans is None and n == len(columns) and self.span > i:
                    last = self.span
                if last > i:
                    self._merge(i, last)
                lines = max(lines, _lines(v, self._width(i, last)))
            else:
                if last > i:
                    self._merge(i, last)
                c.alignment = self.st["top"]
                if formats and i in formats and v is not None:
                    c.number_format = formats[i]
        self._height(lines)
        self.row += 1


def _signature(sheet: _Sheet, jabatan: str, col: int = 5) -> None:
    """A block to sign by hand at the right of the printed page (name, NIP and date filled by hand)."""
    sheet.row += 1
    for line in (TEMPAT_TANGGAL, jabatan, "", "", "", NAMA, NIP):
        if line:
            sheet.text(line, col=col)
        else:
            sheet.row += 1


def _letterhead(sheet: _Sheet, data: LaporanData, title: str) -> None:
    sheet.text(title, "title")
    where = f"{data.nama_kab_kota} ({data.kode_kab_kota})" if data.is_provinsi \
        else f"{data.nama_kab_kota} ({data.kode_kab_kota}), Provinsi {data.nama_provinsi}"
    sheet.text(f"Pemerintah Daerah: {where}")
    sheet.text(period_title(data))
    sheet.text(f"Dihitung dari data sumber pada {waktu(data.computed_at)}; sasaran dari penduduk semester "
               f"{data.semester_penduduk}")
    sheet.text(status_dokumen(data)[1], "bold")
    for note in data.notes:
        sheet.text(note)
    sheet.row += 1


def with_code(nama: str, lay) -> str:
    """A jenis layanan as sections A and C name it: its name, and on a line of its own the code of the
    kegiatan/sub-kegiatan it is budgeted under (katalog `kode_nomenklatur`), where the OPD finds it in
    its DPA and in e-SPM."""
    kode = getattr(lay, "kode_nomenklatur", None)
    return f"{nama}\nKode {kode}" if kode else nama


def _section_a(sheet: _Sheet, data: LaporanData, bidang: str) -> None:
    sheet.text("A. PENERIMA LAYANAN DASAR (jumlah warga yang terlayani sesuai standar)", "bold")
    sheet.header(SECTION_A_COLUMNS)
    fmt = {4: FMT_INTEGER, **{5 + i: FMT_INTEGER for i in range(12)}, 17: FMT_INTEGER, 18: FMT_INTEGER,
           19: FMT_DECIMAL}
    for no, lay in enumerate(data.layanan_bidang(bidang), 1):
        c = data.kab_kota(lay.kode)
        if c is None:  # shown, with why, never left out
            sheet.cells([no, with_code(lay.nama, lay), lay.satuan, data.kosong(lay.kode)], {})
            continue
        months = data.monthly.get(lay.kode, [None] * 12)
        nama = with_code(f"{lay.nama} *" if lay.kode in data.sasaran_kurang else lay.nama, lay)  # * in the notes
        # e-SPM takes persons whole and percentages to 2 decimals; the warehouse keeps them unrounded.
        sheet.cells([no, nama, lay.satuan, bulat(c.sasaran), *months, c.terlayani, bulat(c.belum_terlayani),
                     bulat(c.capaian, 2)], fmt)
    snapshot = [lay.nama for lay in data.layanan_bidang(bidang)
                if lay.kode not in data.monthly and lay.sumber == "dapodik" and data.kab_kota(lay.kode) is not None]
    if snapshot:
        sheet.text("Kolom bulan kosong untuk " + "; ".join(snapshot) + ": sumbernya (Dapodik) mencatat peserta didik "
                   "aktif per semester, bukan bulan pertama terlayani; jumlah terlayani adalah keadaan semester itu.")
    sheet.text("Bulan setelah akhir triwulan dikosongkan (belum dilaporkan). % = terlayani : sasaran x 100, "
               "tanpa pembatasan (dapat melebihi 100).")
    sheet.row += 1


def _section_b(sheet: _Sheet, data: LaporanData, bidang: str) -> None:
    sheet.text("B. MUTU LAYANAN DASAR (ketersediaan barang/jasa, SDM dan petunjuk teknis; input OPD)", "bold")
    sheet.header(["No", "Jenis layanan", "Komponen", "Uraian", "Satuan", "Jumlah dibutuhkan", "Jumlah tersedia",
                  "Kekurangan", "% tersedia"])
    rows = [r for r in data.mutu if r["bidang"] == bidang]
    fmt = {6: FMT_INTEGER, 7: FMT_INTEGER, 8: FMT_INTEGER, 9: FMT_DECIMAL}
    for no, r in enumerate(rows, 1):
        need, have = r["jumlah_dibutuhkan"], r["jumlah_tersedia"]
        percent = min(have, need) * 100.0 / need if need else None
        sheet.cells([no, data.nama_layanan(r["kode_layanan"]), MUTU_COMPONENT_NAMES.get(r["komponen"], r["komponen"]),
                     r["uraian"], r["satuan"], need, have, max(need - have, 0), bulat(percent, 2)], fmt)
    if not rows:
        sheet.text("Belum ada input OPD (mutu) untuk triwulan ini: mutu dan indeks bidang ini belum dapat dihitung.")
    sheet.row += 1


def _section_c(sheet: _Sheet, data: LaporanData, bidang: str) -> None:
    sheet.text("C. ANGGARAN (alokasi dan realisasi per jenis layanan; input OPD, rupiah)", "bold")
    sheet.header(["No", "Jenis layanan", "Alokasi", *[f"Realisasi {b}" for b in MONTH_ABBREVIATIONS],
                  "Realisasi s.d. triwulan", "Selisih (alokasi - realisasi)", "% realisasi"])
    rows = [r for r in data.anggaran if r["bidang"] == bidang]
    layanan = {lay.kode: lay for lay in data.layanan}
    fmt = {3: FMT_RUPIAH, **{4 + i: FMT_RUPIAH for i in range(12)}, 16: FMT_RUPIAH, 17: FMT_RUPIAH, 18: FMT_DECIMAL}
    for no, r in enumerate(rows, 1):
        percent = r["realisasi"] * 100.0 / r["alokasi"] if r["alokasi"] else None
        sheet.cells([no, with_code(data.nama_layanan(r["kode_layanan"]), layanan.get(r["kode_layanan"])), r["alokasi"],
                     *[r[f"realisasi_{m:02d}"] for m in range(1, 13)], r["realisasi"], r["alokasi"] - r["realisasi"],
                     bulat(percent, 2)], fmt)
    if not rows:
        sheet.text("Belum ada input OPD (anggaran) untuk triwulan ini.")



def _penerapan_sheet(ws, st, data: LaporanData, bidang: str) -> None:
    """Sections D-F of a bidang, what its OPD wrote (tahapan, permasalahan and solusi, rencana aksi), on a
    sheet of their own as narrow as the page: on the wide bidang sheet every page strip would repeat
    them. A part the OPD left empty is said, never left out."""
    sheet = _Sheet(ws, st, {"A": 5, "B": 40, "C": 14, "D": 16, "E": 16, "F": 16, "G": 18})
    _letterhead(sheet, data, f"PENERAPAN SPM BIDANG {BIDANG_NAMES.get(bidang, bidang).upper()} (lanjutan: D-F)")
    sheet.text(f"Perangkat daerah: {data.opd.get(bidang, '-')}. Teks dikutip apa adanya dari buku kerja OPD.")
    pn = data.penerapan
    sheet.row += 1
    sheet.text("D. TAHAPAN PENERAPAN SPM (status per jenis layanan; input OPD)", "bold")
    if (why := pn.kosong(bidang, pn.rows_of(bidang, "tahapan"))) is None:
        sheet.header(["No", "Jenis layanan", *[name for _, name in tahapan_kolom()], "Keterangan"])
        for no, (lay, r) in enumerate(pn.tahapan_of(bidang, data.layanan), 1):
            sheet.cells([no, lay.nama, *[status_tahapan(r[t] if r else None) for t, _ in tahapan_kolom()],
                         (r["keterangan"] or "") if r else ""], spans={})
    else:
        sheet.text(why)
    sheet.row += 1
    sheet.text("E. PERMASALAHAN DAN SOLUSI (input OPD)", "bold")
    if (why := pn.kosong(bidang, pn.rows_of(bidang, "permasalahan"))) is None:
        sheet.header(["No", "Permasalahan", "Solusi"], spans={3: sheet.span})
        for lay, rows in pn.permasalahan_of(bidang, data.layanan):
            sheet.text(lay.nama, "bold")
            for no, r in enumerate(rows, 1):
                sheet.cells([no, r["permasalahan"], r["solusi"]], spans={3: sheet.span})
            if not rows:
                sheet.text("Tidak ada permasalahan yang dicatat OPD.", col=2)
    else:
        sheet.text(why)
    sheet.row += 1
    sheet.text("F. RENCANA AKSI (input OPD)", "bold")
    if (why := pn.kosong(bidang, pn.rows_of(bidang, "rencana_aksi"))) is None:
        sheet.header(["No", "Kegiatan", "Selesai", "Anggaran", "Keluaran", "Unit pelaksana"], spans={5: 6})
        for lay, rows in pn.rencana_of(bidang, data.layanan):
            sheet.text(lay.nama, "bold")
            for no, r in enumerate(rows, 1):
                sheet.cells([no, r["kegiatan"], bulan_selesai(r["bulan_selesai"], data.tahun), r["anggaran"],
                             r["keluaran"], r["unit_pelaksana"]], {4: FMT_RUPIAH}, spans={5: 6})
    else:
        sheet.text(why)
    _signature(sheet, kepala_opd(data, bidang))
    _protect(ws, "A:A")

def _kab_kota_sheet(ws, st, data: LaporanData) -> None:
    """A province's kab/kota side by side: daerah index, label, capaian per jenis layanan, then the
    spread (best minus worst kab/kota) per jenis layanan."""
    from openpyxl.utils import get_column_letter

    sheet = _Sheet(ws, st, {"A": 8, "B": 30, "C": 10, "D": 18,
                            **{get_column_letter(5 + i): 16 for i in range(len(data.layanan))}})
    _letterhead(sheet, data, "KAB/KOTA BERDAMPINGAN (indeks dan capaian %)")
    sheet.header(["Kode", "Kab/kota", "Indeks", "Label", *[lay.nama for lay in data.layanan]])
    fmt = {3: FMT_DECIMAL, **{5 + i: FMT_DECIMAL for i in range(len(data.layanan))}}
    for w in data.sub_areas():
        ik = data.indeks_kab_kota.get(w.kode)
        values = [(c.capaian if (c := data.capaian_at(w.kode, lay.kode)) else None) for lay in data.layanan]
        sheet.cells([w.kode, w.nama, ik["nilai"] if ik else None,
                     (ik["label"] or "belum dapat dihitung") if ik else "belum dimuat", *values], fmt)
    sheet.row += 1
    sheet.text("Ketimpangan antar kab/kota", "bold")
    sheet.header(["Jenis layanan", "Terbaik", "Capaian (%)", "Terburuk", "Capaian (%)", "Selisih (poin)"])
    for s in data.spreads():
        sheet.cells([data.nama_layanan(s.kode_layanan), data.nama_wilayah(s.best.kode_wilayah), s.best.capaian,
                     data.nama_wilayah(s.worst.kode_wilayah), s.worst.capaian, s.spread],
                    {3: FMT_DECIMAL, 5: FMT_DECIMAL, 6: FMT_DECIMAL})
    _protect(ws, "A:B")


def _protect(ws, repeat_columns: str) -> None:
    """Protected against slips, printed A4 landscape at a fixed readable scale (never shrunk to fit: a
    sheet wider than the page runs onto the next with its first columns repeated), centred, page numbers."""
    ws.protection.sheet = True  # no password: guards against slips, not against the owner
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.scale = PRINT_SCALE
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.print_title_cols = repeat_columns
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "&A, halaman &P"


def write_espm_workbook(data: LaporanData, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    st = _styles()
    wb = Workbook()
    wb.remove(wb.active)
    for bidang in data.bidang:
        ws = wb.create_sheet(BIDANG_NAMES.get(bidang, bidang.title()))
        sheet = _Sheet(ws, st, {"A": 5, "B": 40, "C": 12, "D": 16, **{get_column_letter(5 + i): 15 for i in range(12)},
                                "Q": 15, "R": 16, "S": 10})
        _letterhead(sheet, data, f"LAPORAN PENERAPAN SPM BIDANG {BIDANG_NAMES.get(bidang, bidang).upper()}")
        sheet.text(f"Perangkat daerah: {data.opd.get(bidang, '-')}")
        sheet.row += 1
        _section_a(sheet, data, bidang)
        _section_b(sheet, data, bidang)
        _section_c(sheet, data, bidang)
        _signature(sheet, kepala_opd(data, bidang))
        _protect(ws, "A:B")
        _penerapan_sheet(wb.create_sheet(f"Penerapan {BIDANG_NAMES.get(bidang, bidang.title())}"), st, data, bidang)

    ws = wb.create_sheet("Indeks")
    sheet = _Sheet(ws, st, {"A": 5, "B": 14, "C": 14, "D": 40, "E": 12, "F": 10, "G": 10, "H": 16, "I": 60})
    _letterhead(sheet, data, "INDEKS PENERAPAN SPM")
    sheet.text("Nilai = 0,8 x capaian penerima (dibatasi 100) + 0,2 x mutu; bidang dan daerah: rata-rata jenis layanan.")
    sheet.header(["No", "Tingkat", "Bidang", "Jenis layanan", "Capaian penerima (%)", "Mutu (%)", "Nilai", "Label",
                  "Keterangan"])
    level_names = {"layanan": "Jenis layanan", "bidang": "Bidang", "daerah": "Daerah"}
    no = 0
    for pemerintahan, judul in data.indeks_kelompok():  # a province: its own SPM, then the kab/kota roll-up
        if judul:
            sheet.text(judul)
        for r in data.indeks_of(pemerintahan):
            no += 1
            level = "Provinsi" if r["tingkat_indeks"] == "daerah" and pemerintahan == "provinsi" \
                else level_names.get(r["tingkat_indeks"], r["tingkat_indeks"])
            sheet.cells([no, level, BIDANG_NAMES.get(r["bidang"], "Semua bidang"),
                         data.nama_layanan(r["kode_layanan"]) if r["kode_layanan"] else "",
                         bulat(r["capaian_penerima"], 2), bulat(r["mutu"], 2), bulat(r["nilai"], 2),
                         r["label"] or "belum dapat dihitung", data.keterangan(r["keterangan"])],
                        {5: FMT_DECIMAL, 6: FMT_DECIMAL, 7: FMT_DECIMAL})
    sheet.row += 1
    sheet.text("INDEKS PENDUKUNG (dari input OPD; menjelaskan indeks, tidak ikut dalam nilainya)", "bold")
    sheet.header(["No", "Bidang", "Indeks", "Dasar perhitungan", "Nilai", "Mutu IKM"], spans={6: sheet.span})
    no = 0
    for b in data.bidang:
        for ip in indeks_pendukung(data, b):
            no += 1
            sheet.cells([no, BIDANG_NAMES.get(b, b), ip.nama, ip.dasar, ip.nilai_bulat, ip.mutu or ""],
                        {5: FMT_DECIMAL}, spans={6: sheet.span})
    _signature(sheet, koordinator(data))
    _protect(ws, "A:A")

    if data.is_provinsi:
        _kab_kota_sheet(wb.create_sheet("Kab-kota"), st, data)

    ws = wb.create_sheet("Sumber data")
    sheet = _Sheet(ws, st, {"A": 8, "B": 12, "C": 18, "D": 10, "E": 40, "F": 11, "G": 11, "H": 11, "I": 13, "J": 20,
                            "K": 66})
    _letterhead(sheet, data, "SUMBER DATA (batch etl_batch yang membentuk angka laporan ini)")
    sheet.header(["Batch", "Sumber", "Entitas", "Wilayah", "Periode", "Status", "Baris diterima", "Baris terbit",
                  "Baris dikarantina", "Selesai", "Checksum"])
    for r in data.source_batches:
        finished = r["finished_at"]
        sheet.cells([r["batch_id"], r["source"], r["entity"], r["kode_wilayah"], r["periode"], status(r["status"]),
                     r["rows_received"], r["rows_published"], r["rows_quarantined"],
                     waktu(finished, "") if finished else "", r["checksum"] or ""],
                    {7: FMT_INTEGER, 8: FMT_INTEGER, 9: FMT_INTEGER})
    _protect(ws, "A:A")

    when = data.computed_at.replace(tzinfo=None, microsecond=0)
    wb.properties.creator = "spm (spm_terbitkan_laporan)"
    wb.properties.title = f"Laporan SPM {data.nama_kab_kota} {data.tahun} triwulan {data.triwulan}"
    wb.properties.created = wb.properties.modified = when
    wb.save(path)
