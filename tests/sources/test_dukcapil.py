import io
from datetime import date

import openpyxl
import pytest

from spm.errors import InputError
from spm.ingest.kependudukan import default_semester, partitions, rows_checksum
from spm.sources.dukcapil import PENDUDUK_COLUMNS, parse_table

CSV = b"semester,kode_desa,jenis_kelamin,umur,jumlah\n2024-2,32.71.01.1001,L,0,12\n2024-2,32.71.01.1001,P,1,x\n"


def test_csv_rows_keep_source_lines_and_bad_integers_become_null():
    parsed = parse_table(CSV, "a.csv")
    assert parsed.entity == "penduduk"
    assert list(parsed.rows) == [
        {"row_id": 2, "semester": "2024-2", "kode_desa": "32.71.01.1001", "jenis_kelamin": "L", "umur": 0, "jumlah": 12},
        {"row_id": 3, "semester": "2024-2", "kode_desa": "32.71.01.1001", "jenis_kelamin": "P", "umur": 1, "jumlah": None},
    ]


def test_negative_numbers_are_kept_for_the_range_check():
    parsed = parse_table(b"tahun,bulan,kode_desa,jenis_kelamin,jumlah\n2024,3,32.71.01.1001,L,-4\n", "k.csv")
    assert parsed.entity == "kelahiran" and list(parsed.rows)[0]["jumlah"] == -4


def _xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for r in rows:
        book.active.append(r)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_xlsx_first_sheet_same_result_and_checksum_as_csv():
    content = _xlsx([list(PENDUDUK_COLUMNS), ["2024-2", "32.71.01.1001", "L", 0, 12.0],
                     ["2024-2", "32.71.01.1001", "P", 1, "x"]])
    from_xlsx = parse_table(content, "a.xlsx")
    from_csv = parse_table(CSV, "a.csv")
    assert from_xlsx.entity == from_csv.entity and list(from_xlsx.rows) == list(from_csv.rows)
    reordered = list(reversed(list(from_csv.rows)))
    assert rows_checksum(reordered, PENDUDUK_COLUMNS) == rows_checksum(from_csv.rows, PENDUDUK_COLUMNS)


@pytest.mark.parametrize("content,name,message", [
    (b"", "e.csv", "berkas kosong"),
    (b"a,b,c\n1,2,3\n", "h.csv", "tidak cocok dengan format mana pun"),
    (b"semester,kode_desa,jenis_kelamin,umur,jumlah,nama\n", "x.csv", "kolom tidak dikenal nama"),
    (b"semester,kode_desa,jenis_kelamin,umur,jumlah\n2024-2,32.71.01.1001,L\n", "s.csv", "baris 2: 3 kolom"),
    (b"\xff\xfe\x00garbage", "b.csv", "bukan teks UTF-8"),
    (b"PK\x03\x04 not really a workbook", "w.xlsx", "bukan buku kerja .xlsx yang dapat dibaca"),
    (b"whatever", "w.pdf", "hanya berkas .csv dan .xlsx"),
])
def test_malformed_files_are_rejected_whole_with_a_reason(content, name, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_table(content, name)


def test_expected_layout_is_enforced():
    with pytest.raises(InputError, match="bukan format kelahiran"):
        parse_table(CSV, "api", expected_entity="kelahiran", file_format="csv")


@pytest.mark.parametrize("run_date,expected", [
    (date(2026, 11, 23), (2026, 1)), (date(2026, 7, 1), (2026, 1)),
    (date(2026, 6, 30), (2025, 2)), (date(2026, 1, 2), (2025, 2)),
])
def test_default_semester_is_the_latest_ended_one(run_date, expected):
    assert default_semester(run_date) == expected


def test_partitions_per_kab_kota_and_bad_codes():
    assert partitions(["32.71"], 2025, 2) == [
        {"entity": "penduduk", "kode_kab_kota": "32.71", "periode": "2025-2"},
        {"entity": "kelahiran", "kode_kab_kota": "32.71", "periode": "2025"},
    ]
    from spm.errors import ConfigError

    with pytest.raises(ConfigError, match="not a kabupaten/kota code"):
        partitions(["3271"], 2025, 2)
    with pytest.raises(ConfigError, match="semester must be 1 or 2"):
        partitions(["32.71"], 2025, 3)


def test_counts_with_thousand_dots_and_semicolon_csv_from_indonesian_excel():
    content = ("semester;kode_desa;jenis_kelamin;umur;jumlah\n"
               "2024-2;32.71.01.1001;L;0;1.234\n"
               "2024-2;32.71.01.1001;P;0;1,234\n"     # ambiguous: left to the integer expectation (quarantined)
               "2024-2;32.71.01.1001;L;1;\"2.000\"\n").encode()
    parsed = parse_table(content, "dkb.csv")
    assert [r["jumlah"] for r in parsed.rows] == [1234, None, 2000]
    assert list(parsed.rows)[0]["kode_desa"] == "32.71.01.1001"


def test_a_fraction_in_a_sheet_cell_is_not_read_as_thousands():
    content = _xlsx([list(PENDUDUK_COLUMNS), ["2024-2", "32.71.01.1001", "L", 0, 1.234],
                     ["2024-2", "32.71.01.1001", "P", 0, "1.234"], ["2024-2", "32.71.01.1001", "L", 1, 7.0]])
    parsed = parse_table(content, "dkb.xlsx")
    assert [r["jumlah"] for r in parsed.rows] == [None, 1234, 7]


def test_rows_are_read_again_on_each_pass_and_broken_lines_counted_whole():
    parsed = parse_table(CSV, "a.csv")
    assert len(parsed.rows) == 2 and list(parsed.rows) == list(parsed.rows)
    broken = b"semester,kode_desa,jenis_kelamin,umur,jumlah\n" + b"2024-2,32.71.01.1001\n" * 120
    with pytest.raises(InputError, match=r"120 baris rusak: baris 2: 2 kolom.*\(dan 70 lainnya\)"):
        parse_table(broken, "b.csv")
