"""Dukcapil consolidated aggregates (DESIGN §3.2): population by desa × sex × age, and births by month.

The same two layouts come from the API (`text/csv`) and from the file inbox (CSV or XLSX with the
columns on the first sheet). Parsing is strict about structure — a file whose header or shape is
wrong is rejected whole with every problem listed — and lenient about values, which the GX suite
judges row by row (a bad value becomes NULL here and is quarantined there).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from spm.errors import InputError
from spm.sources.angka import AngkaError, parse_angka
from spm.sources.connections import SourceConnection
from spm.sources.http import SourceClient

CONN_ID = "spm_dukcapil"
PENDUDUK_COLUMNS = ("semester", "kode_desa", "jenis_kelamin", "umur", "jumlah")
KELAHIRAN_COLUMNS = ("tahun", "bulan", "kode_desa", "jenis_kelamin", "jumlah")
LAYOUTS = {"penduduk": PENDUDUK_COLUMNS, "kelahiran": KELAHIRAN_COLUMNS}
INTEGER_COLUMNS = {"umur", "jumlah", "tahun", "bulan"}
_INTEGER = re.compile(r"^-?\d+$")  # the sign is kept so range checks can name it
MAX_PROBLEMS = 50


class DukcapilClient(SourceClient):
    """`X-API-Key` auth (the connection's password)."""

    def __init__(self, conn: SourceConnection, **kwargs) -> None:
        super().__init__(conn, **kwargs)
        self._key = conn.require_password("API key")

    def auth_headers(self) -> dict[str, str]:
        return {"X-API-Key": self._key}

    def penduduk_csv(self, kode_kab_kota: str, tahun: int, semester: int) -> bytes:
        resp = self.get("/dkb/v1/penduduk", {"kode_wilayah": kode_kab_kota, "semester": f"{tahun}-{semester}"})
        return _csv_body(resp, "penduduk")

    def kelahiran_csv(self, kode_kab_kota: str, tahun: int) -> bytes:
        resp = self.get("/dkb/v1/kelahiran", {"kode_wilayah": kode_kab_kota, "tahun": str(tahun)})
        return _csv_body(resp, "kelahiran")


def _csv_body(resp, what: str) -> bytes:
    ctype = resp.headers.get("Content-Type", "")
    if "csv" not in ctype:
        raise InputError(f"{CONN_ID}: {what} answer is {ctype or 'untyped'}, the contract says text/csv")
    return resp.content


class ParsedRows:
    """The rows of a parsed table: row_id (source line) + the layout's columns, integers parsed or
    None. Read again from the file's bytes on each pass, so that no list of a file's rows or lines
    is ever held: parsing takes the same memory for a file of 100 rows or of a million."""

    def __init__(self, body: Callable[[], Iterator[tuple[int, list]]], columns: tuple[str, ...],
                 index: dict[str, int], count: int) -> None:
        self._body, self._columns, self._index, self._count = body, columns, index, count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[dict]:
        columns, index = self._columns, self._index
        for line, cells in self._body():
            row = {"row_id": line}
            for name in columns:
                value = cells[index[name]]
                row[name] = _integer(value) if name in INTEGER_COLUMNS else (str(value).strip() or None)
            yield row


@dataclass(frozen=True)
class ParsedTable:
    entity: str  # penduduk | kelahiran
    rows: ParsedRows


def read_table(content: bytes, file_name: str, file_format: str | None = None):
    """Header and a function giving, on each call, a fresh iterator of (line number, cells) of a CSV
    or the first sheet of an XLSX file; the format is given (API answers are CSV) or taken from the
    file name."""
    fmt = file_format or file_name.lower().rsplit(".", 1)[-1]
    if fmt == "xlsx":
        return _read_xlsx(content, file_name)
    if fmt == "csv":
        return _read_csv(content, file_name)
    raise InputError(f"{file_name}: hanya berkas .csv dan .xlsx yang dapat dibaca")


def _read_csv(content: bytes, file_name: str):
    try:
        content.decode("utf-8-sig")  # checked once, whole; the passes decode as they read
    except UnicodeDecodeError as exc:
        raise InputError(f"{file_name}: bukan teks UTF-8 (byte {exc.start})") from None
    # Excel set to Indonesian saves CSV with `;` between fields (the comma is its decimal mark).
    first = content[:4096].split(b"\n", 1)[0]
    delimiter = ";" if b";" in first and b"," not in first else ","

    def lines() -> Iterator[list[str]]:
        return csv.reader(io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline=""),
                          delimiter=delimiter)

    head = next(lines(), None)
    if not head or not any(c.strip() for c in head):
        raise InputError(f"{file_name}: berkas kosong, tidak ada baris judul kolom")
    header = [c.strip().lower() for c in head]

    def body() -> Iterator[tuple[int, list]]:
        reader = lines()
        next(reader)
        return ((i, row) for i, row in enumerate(reader, start=2) if any(c.strip() for c in row))

    return header, body


def _read_xlsx(content: bytes, file_name: str):
    from zipfile import BadZipFile

    import openpyxl

    def open_sheet():
        try:
            return openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (BadZipFile, OSError, KeyError, ValueError) as exc:
            raise InputError(f"{file_name}: bukan buku kerja .xlsx yang dapat dibaca ({type(exc).__name__})") from None

    book = open_sheet()
    try:
        head = next(book.worksheets[0].iter_rows(max_row=1, values_only=True), None)
    finally:
        book.close()
    if not head or not any(c is not None for c in head):
        raise InputError(f"{file_name}: lembar pertama kosong, tidak ada baris judul kolom")
    header = [str(c).strip().lower() if c is not None else "" for c in head]

    def body() -> Iterator[tuple[int, list]]:
        book = open_sheet()
        try:
            for i, row in enumerate(book.worksheets[0].iter_rows(min_row=2, values_only=True), start=2):
                if any(c is not None and str(c).strip() for c in row):
                    yield i, [_cell(c) for c in row]
        finally:
            book.close()

    return header, body


def _cell(value) -> str | int | float:
    """A sheet cell: numbers stay numbers (1.234 typed in an English-set Excel is the number 1.234, not
    one thousand two hundred and thirty-four), text is stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return str(value).strip()


def _integer(value: str | int | float) -> int | None:
    """A count as written (`1234`, `1.234`, `-2`: the sign is kept so range checks can name it), or None
    (quarantined by the suite's integer expectation) for text, a fraction or an ambiguous `1,234`."""
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None
    value = value.strip()
    if _INTEGER.match(value):
        return int(value)
    try:
        return parse_angka(value, whole=True)
    except AngkaError:
        return None


def parse_table(content: bytes, file_name: str, expected_entity: str | None = None,
                file_format: str | None = None) -> ParsedTable:
    """Parse a Dukcapil table; the layout is recognised from the header."""
    header, body = read_table(content, file_name, file_format)
    header = [h for h in header if h] if header and not header[-1] else header
    entity = next((e for e, cols in LAYOUTS.items() if set(cols) <= set(header)), None)
    if expected_entity and entity != expected_entity:
        want = ",".join(LAYOUTS[expected_entity])
        raise InputError(f"{file_name}: judul kolom {','.join(header)} bukan format {expected_entity} ({want})")
    if entity is None:
        raise InputError(
            f"{file_name}: judul kolom {','.join(header)} tidak cocok dengan format mana pun: "
            f"penduduk ({','.join(PENDUDUK_COLUMNS)}) atau kelahiran ({','.join(KELAHIRAN_COLUMNS)})"
        )
    columns = LAYOUTS[entity]
    extra = [h for h in header if h not in columns]
    if extra:
        raise InputError(f"{file_name}: kolom tidak dikenal {', '.join(extra)} dalam format {entity}")
    index = {name: header.index(name) for name in columns}
    problems, broken, count = [], 0, 0
    for line, cells in body():  # the first pass: the file's shape, before anything is staged
        if len(cells) != len(header):
            broken += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(f"baris {line}: {len(cells)} kolom, sedangkan judul kolom ada {len(header)}")
        count += 1
    if broken:
        more = f" (dan {broken - MAX_PROBLEMS} lainnya)" if broken > MAX_PROBLEMS else ""
        raise InputError(f"{file_name}: {broken} baris rusak: {'; '.join(problems)}{more}")
    return ParsedTable(entity, ParsedRows(body, columns, index, count))
