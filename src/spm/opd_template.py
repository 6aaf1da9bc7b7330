"""The blank OPD input workbook (DESIGN §3.4), generated from the one layout definition.

The layout (sheets `identitas`, `mutu`, `anggaran`, `permasalahan`, `tahapan`, `rencana_aksi`, `ikm`, their columns in order, the quality items of
every jenis layanan) is defined once in `spm.sources.opd_layout` and imported from there, never
restated, so the template the project ships, the files the simulator drops and what the reader in
`spm.sources.opd_workbook` accepts cannot drift apart.

The committed templates live in `templates/opd/input_opd_<bidang>.xlsx` (a kab/kota's OPD) and
`input_opd_<bidang>_provinsi.xlsx` (the province's Dinas, for its own jenis layanan, with the penerima
sheet for health); regenerate them after a layout change with `python -m spm.opd_template` (a test checks they equal what this module writes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from spm.sources.opd_layout import (
    BIDANG,
    KOMPONEN,
    LAYANAN_OF_BIDANG,
    LAYOUT_VERSION,
    MUTU_ITEMS,
    NARASI_SHEETS,
    PENERIMA_LAYANAN,
    PERANGKAT_DAERAH,
    SHEETS,
    STATUS_TAHAPAN,
    TAHAPAN,
    TINGKAT,
    Column,
    header,
    layanan_of,
    perangkat_daerah,
    sheets_of,
    workbook_filename,
)

__all__ = [
    "BIDANG", "KOMPONEN", "LAYANAN_OF_BIDANG", "LAYOUT_VERSION", "MUTU_ITEMS", "PERANGKAT_DAERAH", "SHEETS",
    "TINGKAT", "Column", "header", "layanan_of", "sheets_of", "workbook_filename", "template_filename", "template_rows", "write_template",
    "write_templates", "workbook_values", "template_dir",
]

MAX_ROWS = 500  # data validations cover this many rows: room for the OPD's own extra items


def template_dir() -> Path:
    from spm.settings import resource_dir

    return resource_dir("templates") / "opd"


def template_filename(bidang: str, tingkat: str = "kabupaten_kota") -> str:
    return f"input_opd_{bidang}{'_provinsi' if tingkat == 'provinsi' else ''}.xlsx"


def template_rows(bidang: str, tingkat: str = "kabupaten_kota") -> dict[str, list[list]]:
    """The pre-filled cells of the blank workbook: what the OPD must not retype, nothing it must fill."""
    if bidang not in BIDANG:
        raise ValueError(f"bidang {bidang!r} must be one of {', '.join(BIDANG)}")
    layanan = layanan_of(bidang, tingkat)
    identitas = [[None, bidang, None, None, perangkat_daerah(bidang, tingkat)]]
    mutu = [[kode, komponen, uraian, satuan, None, None]
            for kode in layanan for komponen, uraian, satuan, _ in MUTU_ITEMS[kode]]
    anggaran = [[kode, *([None] * (len(SHEETS["anggaran"]) - 1))] for kode in layanan]
    penerima = [[kode, *([None] * (len(SHEETS["penerima"]) - 1))] for kode in layanan if kode in PENERIMA_LAYANAN]
    # Narrative sheets: a row per jenis layanan to write in (rencana aksi rows are the OPD's own).
    permasalahan = [[kode, None, None] for kode in layanan]
    tahapan = [[kode, *([None] * (len(SHEETS["tahapan"]) - 1))] for kode in layanan]
    return {"identitas": identitas, "mutu": mutu, "anggaran": anggaran, "penerima": penerima,
            "permasalahan": permasalahan, "tahapan": tahapan, "rencana_aksi": [], "ikm": []}


def _validation_for(column: Column, bidang: str, tingkat: str = "kabupaten_kota", sheet: str = ""):
    """Excel-side guard rails; the reader checks the same rules again (a validation can be pasted over)."""
    from openpyxl.worksheet.datavalidation import DataValidation

    if column.name == "komponen":
        return DataValidation(type="list", formula1=f'"{",".join(KOMPONEN)}"', allow_blank=True,
                              error="Pilih barang_jasa, sdm atau petunjuk_teknis", showErrorMessage=True)
    if column.name == "kode_layanan":
        codes = [k for k in layanan_of(bidang, tingkat) if sheet != "penerima" or k in PENERIMA_LAYANAN]
        return DataValidation(type="list", formula1=f'"{",".join(codes)}"', allow_blank=True,
                              error=f"Kode jenis layanan bidang {bidang}", showErrorMessage=True)
    if column.name in TAHAPAN:
        return DataValidation(type="list", formula1=f'"{",".join(STATUS_TAHAPAN)}"', allow_blank=True,
                              error="Pilih belum, berjalan atau selesai", showErrorMessage=True)
    if column.name == "nilai_ikm":
        return DataValidation(type="decimal", operator="between", formula1="25", formula2="100", showErrorMessage=True,
                              error="Nilai IKM 25-100 (nilai interval konversi, Permenpan RB 14/2017)")
    if column.name == "jumlah_responden":
        return DataValidation(type="whole", operator="greaterThanOrEqual", formula1="1", showErrorMessage=True,
                              error="Bilangan bulat 1 atau lebih")
    if column.name == "bulan_selesai":
        return DataValidation(type="whole", operator="between", formula1="1", formula2="12", showErrorMessage=True,
                              error="Bulan 1-12")
    if column.name == "bidang":
        return DataValidation(type="list", formula1=f'"{bidang}"', allow_blank=False, showErrorMessage=True)
    if column.name == "triwulan":
        return DataValidation(type="whole", operator="between", formula1="1", formula2="4", showErrorMessage=True,
                              error="Triwulan 1-4")
    if column.kind == "integer" and column.name != "tahun":
        return DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", showErrorMessage=True,
                              error="Bilangan bulat 0 atau lebih")
    if column.kind == "number":
        return DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", showErrorMessage=True,
                              error="Angka 0 atau lebih (Rp)")
    return None


def write_template(path: Path, bidang: str, tingkat: str = "kabupaten_kota") -> Path:
    """Write the blank workbook of a bidang and level of government: headers with their meaning as
    cell comments, items pre-filled."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    rows = template_rows(bidang, tingkat)
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets_of(bidang, tingkat):
        columns = SHEETS[sheet]
        ws = book.create_sheet(sheet)
        ws.append(header(sheet))
        for row in rows[sheet]:
            ws.append(row)
        for i, column in enumerate(columns, start=1):
            cell = ws.cell(row=1, column=i)
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDEBF7" if column.required else "F2F2F2")
            cell.comment = Comment(f"{column.description} ({column.kind}{', wajib' if column.required else ''})",
                                   "SPM")
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = max(14, len(column.name) + 2)
            if sheet in NARASI_SHEETS and column.kind == "text" and column.max_length > 255:
                ws.column_dimensions[letter].width = 50  # a paragraph: wide, wrapped
                for r in range(2, max(len(rows[sheet]) + 1, 30) + 1):
                    ws.cell(row=r, column=i).alignment = Alignment(wrap_text=True, vertical="top")
            if column.name == "kode_wilayah":  # text, or Excel turns 32.10 into the number 32.1
                ws.cell(row=2, column=i).number_format = "@"
            validation = _validation_for(column, bidang, tingkat, sheet)
            if validation is not None:
                last = 2 if sheet == "identitas" else MAX_ROWS
                validation.add(f"{letter}2:{letter}{last}")
                ws.add_data_validation(validation)
        ws.freeze_panes = "A2"
    # The file's bytes change with every save (zip and document times): compare workbooks with
    # workbook_values(), which reads what they say.
    book.properties.creator = "spm-pipeline"
    book.properties.title = (f"Input OPD SPM bidang {bidang}{' provinsi' if tingkat == 'provinsi' else ''} "
                             f"(layout v{LAYOUT_VERSION})")
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def write_templates(folder: Path | None = None) -> list[Path]:
    folder = Path(folder) if folder else template_dir()
    return [write_template(folder / template_filename(b, t), b, t) for t in TINGKAT for b in BIDANG]


def workbook_values(path: Path) -> dict:
    """What a workbook says, independent of zip timestamps: sheets, cell values, comments, validations."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    out: dict = {"sheets": book.sheetnames, "title": book.properties.title}
    for ws in book.worksheets:
        out[ws.title] = {
            "values": [list(r) for r in ws.iter_rows(values_only=True)],
            "comments": [c.comment.text if c.comment else None for c in ws[1]],
            "validations": sorted((dv.type, dv.formula1, dv.formula2, str(dv.sqref))
                                  for dv in ws.data_validations.dataValidation),
        }
    return out


if __name__ == "__main__":  # python -m spm.opd_template [folder]
    for written in write_templates(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(written)
