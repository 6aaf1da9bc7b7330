"""Read an OPD input workbook and check it against the template layout (DESIGN §3.4).

Template checks happen here, before anything reaches the warehouse: the sheets of the workbook's
kind (`sheets_of`: penerima only in a workbook with OPD-entered penerima; the narrative sheets
permasalahan, tahapan and rencana_aksi and the ikm sheet may be absent from a workbook of an older template), their
header rows (exact names, in order), the identitas row (kab/kota or provinsi code, bidang, tahun, triwulan; agreeing
with the file name when it follows `workbook_filename`), and the type of every cell (whole numbers
for the jumlah columns, amounts for alokasi and realisasi, no empty required cell). Every problem is
kept with its sheet, row and column so that the OPD can fix the file in one pass; value rules
(non-negative, known kode_layanan, realisasi within the quarter, ...) are the GX suites' job.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

from spm.sources.opd_layout import (
    BIDANG, NARASI_SHEETS, OPTIONAL_SHEETS, SHEETS, TAHAPAN, Column, header, sheets_of, tingkat_of_kode,
)
from spm.sources.angka import AngkaError, parse_angka

KODE_KAB_KOTA = re.compile(r"^\d{2}(\.\d{2})?$")  # a kab/kota (32.71) or, for its own services, a province (32)
FILE_NAME = re.compile(r"^opd_(?P<bidang>[a-z]+)_(?P<kab>\d{4}|\d{2})_(?P<tahun>\d{4})_TW(?P<triwulan>\d)(?:\D.*)?\.xlsx$",
                       re.IGNORECASE)
TAHUN_MIN, TAHUN_MAX = 2000, 2100
BULAN = tuple(range(1, 13))


@dataclass(frozen=True)
class Problem:
    sheet: str | None
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.sheet:
            where.append(f"lembar {self.sheet}")
        if self.row:
            where.append(f"baris {self.row}")
        if self.column:
            where.append(f"kolom {self.column}")
        return (", ".join(where) + ": " if where else "") + self.message

    @property
    def key(self) -> tuple:
        return (self.sheet, self.row, self.column)


@dataclass(frozen=True)
class Identitas:
    kode_wilayah: str
    bidang: str
    tahun: int
    triwulan: int
    perangkat_daerah: str

    @property
    def periode(self) -> str:
        return f"{self.tahun}-T{self.triwulan}"

    def label(self) -> str:
        return f"{self.bidang} {self.kode_wilayah} {self.periode}"

    @property
    def tingkat(self) -> str:
        return tingkat_of_kode(self.kode_wilayah)


@dataclass
class OpdWorkbook:
    file_name: str
    identitas: Identitas | None = None
    mutu: list[dict[str, Any]] = field(default_factory=list)  # row_id = row in the sheet
    anggaran: list[dict[str, Any]] = field(default_factory=list)
    penerima: list[dict[str, Any]] = field(default_factory=list)
    permasalahan: list[dict[str, Any]] = field(default_factory=list)
    tahapan: list[dict[str, Any]] = field(default_factory=list)
    rencana_aksi: list[dict[str, Any]] = field(default_factory=list)
    ikm: list[dict[str, Any]] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # OPTIONAL_SHEETS a workbook of an older template lacks
    problems: list[Problem] = field(default_factory=list)
    structural: bool = False  # sheets or headers broken: the rows cannot be read at all
    formulas: dict[str, frozenset] = field(default_factory=dict, repr=False)  # sheet -> formula cells

    def value(self, sheet: str, row_id: int, column: str) -> Any:
        rows = getattr(self, sheet, []) if sheet in SHEETS and sheet != "identitas" else []
        return next((r.get(column) for r in rows if r["row_id"] == row_id), None)


def column_label(sheet: str, name: str) -> str:
    """`jumlah_tersedia (F)`: the header the OPD sees and the Excel column letter."""
    from openpyxl.utils import get_column_letter

    names = header(sheet)
    return f"{name} ({get_column_letter(names.index(name) + 1)})" if name in names else name


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell(sheet: str, row: int, column: Column, value: Any, problems: list[Problem],
          formulas: frozenset = frozenset()) -> Any:
    """The typed value of a cell, or None with a problem recorded. `formulas`: (row, column name) of
    the sheet's formula cells, whose value is the one the spreadsheet program saved with them."""
    where = (sheet, row, column_label(sheet, column.name))
    if _is_blank(value) and (row, column.name) in formulas:
        problems.append(Problem(*where, "rumus tanpa nilai tersimpan: buka dan simpan berkas di Excel atau "
                                        "LibreOffice agar hasil rumus ikut tersimpan, atau ketik nilainya"))
        return None
    if _is_blank(value):
        if column.required:
            problems.append(Problem(*where, "kosong; kolom ini wajib diisi"))
        return None
    if column.kind == "text":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if column.name == "kode_wilayah":  # 32.10 typed as a number reads back as 32.1
                problems.append(Problem(*where, f"{value!r} tersimpan sebagai angka; ketik kode sebagai teks, "
                                                "misalnya '32.71"))
                return None
            return str(int(value)) if float(value).is_integer() else str(value)
        text = str(value).strip()
        if len(text) > column.max_length:
            problems.append(Problem(*where, f"teks {len(text)} karakter, lebih dari {column.max_length} yang "
                                            "dapat disimpan; persingkat"))
            return None
        return text
    if isinstance(value, bool):
        problems.append(Problem(*where, f"{value!r} bukan angka"))
        return None
    if isinstance(value, str):  # typed as text: read as Indonesians write numbers (spm.sources.angka)
        try:
            value = parse_angka(value, whole=column.kind == "integer", rupiah=column.kind == "number")
        except AngkaError as exc:
            problems.append(Problem(*where, str(exc)))
            return None
    if not isinstance(value, (int, float)):
        problems.append(Problem(*where, f"{value!r} bukan angka"))
        return None
    if column.kind == "integer":
        if float(value).is_integer():
            return int(value)
        problems.append(Problem(*where, f"{value!r} bukan bilangan bulat"))
        return None
    return float(value)


def _check_header(sheet: str, got: list[Any], problems: list[Problem]) -> bool:
    from openpyxl.utils import get_column_letter

    want = header(sheet)
    while got and _is_blank(got[-1]):
        got = got[:-1]
    ok = True
    for i in range(max(len(want), len(got))):
        have = str(got[i]).strip() if i < len(got) and got[i] is not None else None
        expected = want[i] if i < len(want) else None
        if have != expected:
            ok = False
            letter = get_column_letter(i + 1)
            if expected is None:
                msg = f"kolom {have!r} tidak dikenal; templat hanya memiliki {len(want)} kolom"
            elif have is None:
                msg = f"judul kolom kosong; seharusnya {expected!r}"
            else:
                msg = f"judul kolom {have!r} seharusnya {expected!r}"
            problems.append(Problem(sheet, 1, letter, msg))
    return ok


def _data_rows(ws, sheet: str, problems: list[Problem]) -> list[tuple[int, tuple]]:
    """(row number, values of the template's columns) of every filled row; a value right of the
    template's columns (where no header is) is a problem, never ignored."""
    from openpyxl.utils import get_column_letter

    width = len(header(sheet))
    out = []
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        if number == 1:
            continue
        if all(_is_blank(v) for v in values):
            continue  # blank rows between items are harmless
        for i, v in enumerate(values[width:], start=width + 1):
            if not _is_blank(v):
                problems.append(Problem(sheet, number, get_column_letter(i),
                                        "nilai di luar kolom template (kolom tanpa judul); pindahkan ke kolom "
                                        "yang benar atau hapus"))
        values = tuple(values[:width])
        out.append((number, values + (None,) * (width - len(values))))
    return out


def _formula_cells(content: bytes) -> dict[str, frozenset]:
    """Per sheet, (row, column name) of the template's cells that hold a formula."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    try:
        out = {}
        for sheet, columns in SHEETS.items():
            if sheet not in wb.sheetnames:
                continue
            found = set()
            for number, values in enumerate(wb[sheet].iter_rows(min_row=2, values_only=True), start=2):
                for column, v in zip(columns, values):
                    if isinstance(v, str) and v.startswith("="):
                        found.add((number, column.name))
            out[sheet] = frozenset(found)
        return out
    finally:
        wb.close()


def _identitas(book: OpdWorkbook, rows: list[tuple[int, tuple]]) -> None:
    problems = book.problems
    if len(rows) != 1:
        problems.append(Problem("identitas", None, None,
                                f"harus berisi tepat satu baris terisi di bawah judul kolom, ditemukan {len(rows)}"))
        book.structural = True
        return
    number, values = rows[0]
    before = len(problems)
    typed = _typed_row(book, "identitas", number, values)

    def bad(column: str, message: str) -> None:
        problems.append(Problem("identitas", number, column_label("identitas", column), message))

    kode, bidang, tahun, triwulan = (typed.get(k) for k in ("kode_wilayah", "bidang", "tahun", "triwulan"))
    if kode is not None and not KODE_KAB_KOTA.match(kode):
        bad("kode_wilayah", f"{kode!r} bukan kode kabupaten/kota (PP.KK, misalnya 32.71) atau provinsi (PP, "
                            "misalnya 32)")
    if bidang is not None and bidang not in BIDANG:
        bad("bidang", f"{bidang!r} harus salah satu dari {', '.join(BIDANG)}")
    if tahun is not None and not TAHUN_MIN <= tahun <= TAHUN_MAX:
        bad("tahun", f"{tahun} bukan tahun yang wajar")
    if triwulan is not None and triwulan not in (1, 2, 3, 4):
        bad("triwulan", f"{triwulan} harus 1, 2, 3 atau 4")
    if len(problems) > before:
        book.structural = True  # without a valid identitas the partition is unknown
        return
    book.identitas = Identitas(kode, bidang, tahun, triwulan, typed["perangkat_daerah"])
    _check_file_name(book, number)


def _check_file_name(book: OpdWorkbook, number: int) -> None:
    """A workbook copied from last quarter keeps its old identitas: the name tells which one was meant."""
    match = FILE_NAME.match(book.file_name)
    if not match:
        return
    ident = book.identitas
    kab = match["kab"]
    named = {"bidang": match["bidang"].lower(), "kode_wilayah": f"{kab[:2]}.{kab[2:]}" if len(kab) == 4 else kab,
             "tahun": int(match["tahun"]), "triwulan": int(match["triwulan"])}
    for column, value in named.items():
        if getattr(ident, column) != value:
            book.problems.append(Problem("identitas", number, column_label("identitas", column),
                                         f"{getattr(ident, column)!r} tidak sama dengan nama berkas "
                                         f"{book.file_name} ({value!r}); mana yang dimaksud?"))


def _typed_row(book: OpdWorkbook, sheet: str, number: int, values: tuple) -> dict[str, Any]:
    formulas = book.formulas.get(sheet, frozenset())
    return {c.name: _cell(sheet, number, c, v, book.problems, formulas) for c, v in zip(SHEETS[sheet], values)}


def _plain(book: OpdWorkbook, sheet: str, rows: list[tuple[int, tuple]]) -> None:
    """A sheet whose rows are taken as typed (mutu and the narrative sheets)."""
    out = getattr(book, sheet)
    for number, values in rows:
        if sheet in NARASI_SHEETS and all(_is_blank(v) for v in values[1:]):
            continue  # only the template's pre-filled kode_layanan: not written yet (the suite warns)
        typed = _typed_row(book, sheet, number, values)
        if sheet == "tahapan":  # a status picked from the list or typed "Selesai" is the same status
            typed.update({t: typed[t].lower() for t in TAHAPAN if isinstance(typed.get(t), str)})
        out.append({"row_id": number, **typed})


def _monthly(book: OpdWorkbook, sheet: str, rows: list[tuple[int, tuple]], prefix: str, total: str) -> None:
    """A sheet with one column per month (`<prefix>_01` ..): `total` = the sum of the filled months
    (year to date), `bulan_terakhir` = the last filled month (months after the quarter must be empty)."""
    out = getattr(book, sheet)
    for number, values in rows:
        typed = _typed_row(book, sheet, number, values)
        filled = [m for m in BULAN if typed.get(f"{prefix}_{m:02d}") is not None]
        typed[total] = sum(typed[f"{prefix}_{m:02d}"] for m in filled)
        typed["bulan_terakhir"] = filled[-1] if filled else None
        out.append({"row_id": number, **typed})


def _penerima(book: OpdWorkbook, sheetnames: list[str], rows: list[tuple[int, tuple]] | None) -> None:
    """The penerima sheet: required where the workbook's kind has OPD-entered penerima, refused with
    rows where it has none (figures nobody would read must not pass as reported)."""
    ident = book.identitas
    if ident is None:
        return
    wanted = "penerima" in sheets_of(ident.bidang, ident.tingkat)
    if wanted and "penerima" not in sheetnames:
        book.problems.append(Problem("penerima", None, None, "lembar tidak ada; buku kerja ini harus memiliki lembar "
                                                             f"{', '.join(sheets_of(ident.bidang, ident.tingkat))}"))
        book.structural = True
    elif wanted and rows is None:
        book.structural = True  # header broken, already reported
    elif not wanted and rows:
        book.problems.append(Problem("penerima", None, None, f"lembar ini hanya untuk buku kerja yang mengisi penerima "
                                                             f"layanan; buku kerja {ident.label()} tidak memilikinya: "
                                                             "hapus lembar ini"))
    elif wanted:
        _monthly(book, "penerima", rows, "terlayani", "terlayani")


def read_workbook(content: bytes, file_name: str) -> OpdWorkbook:
    """Parse and template-check a workbook. `problems` empty means it may go on to validation."""
    from openpyxl import load_workbook

    book = OpdWorkbook(file_name)
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the sender's problem, said plainly
        book.problems.append(Problem(None, None, None, f"bukan buku kerja .xlsx yang dapat dibaca "
                                                       f"({type(exc).__name__}: {exc}); simpan dari templat sebagai "
                                                       "Excel Workbook (.xlsx)"))
        book.structural = True
        return book
    try:
        book.formulas = _formula_cells(content)
        # Which sheets the workbook must have depends on its kind (identitas), so penerima is read
        # when present and required once the kind is known.
        base = [s for s in SHEETS if s != "penerima" and s not in OPTIONAL_SHEETS]
        book.absent = [s for s in OPTIONAL_SHEETS if s not in wb.sheetnames]
        missing = [s for s in base if s not in wb.sheetnames]
        for sheet in missing:
            book.problems.append(Problem(sheet, None, None, f"lembar tidak ada; buku kerja harus memiliki lembar "
                                                            f"{', '.join(base)} "
                                                            f"(yang ada: {', '.join(wb.sheetnames)})"))
        rows: dict[str, list] = {}
        for sheet in SHEETS:
            if sheet in missing or sheet not in wb.sheetnames:
                continue
            ws = wb[sheet]
            first = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
            if not _check_header(sheet, list(first), book.problems):
                continue
            rows[sheet] = _data_rows(ws, sheet, book.problems)
        if any(s not in rows for s in base):
            book.structural = True
        if "identitas" in rows:
            _identitas(book, rows["identitas"])
        for sheet in ("mutu", *OPTIONAL_SHEETS):
            if sheet in rows:
                _plain(book, sheet, rows[sheet])
        if "anggaran" in rows:
            _monthly(book, "anggaran", rows["anggaran"], "realisasi", "realisasi")
        _penerima(book, wb.sheetnames, rows.get("penerima"))
    finally:
        wb.close()
    return book
