"""Indonesian number formats (spm.sources.angka)."""

import pytest

from spm.sources.angka import AngkaError, parse_angka


@pytest.mark.parametrize("text, value", [
    ("1500", 1500), ("1.500", 1500), ("12.345.678", 12_345_678), ("1.500,50", 1500.5), ("1,5", 1.5),
    ("0,75", 0.75), ("1234,5", 1234.5), ("10,00", 10), (" 2 500 ", 2500), ("-1.000", -1000),
    ("1\u00a0500", 1500),
])
def test_numbers_read_as_indonesians_write_them(text, value):
    got = parse_angka(text)
    assert got == value and type(got) is type(value)


def test_rupiah_prefix_only_where_allowed():
    assert parse_angka("Rp 1.500.000", rupiah=True) == 1_500_000
    assert parse_angka("Rp1.500,50", rupiah=True) == 1500.5
    with pytest.raises(AngkaError, match="bukan angka"):
        parse_angka("Rp 1.500")


@pytest.mark.parametrize("text, reason", [
    ("1,500", "ambigu: bila ribuan, tulis 1.500"), ("12,345,678", "tulis 12.345.678"),
    ("1.5", "titik sebagai desimal"), ("1,500.50", "titik sebagai desimal"), ("0.75", "titik sebagai desimal"),
    ("1.50.0", "bukan angka"), ("12a", "bukan angka"), ("", "bukan angka"), ("1.5000", "titik sebagai desimal"),
])
def test_ambiguous_or_foreign_formats_are_refused_with_the_reason(text, reason):
    with pytest.raises(AngkaError, match=reason):
        parse_angka(text)


def test_a_whole_number_column_refuses_decimals():
    assert parse_angka("10,0", whole=True) == 10
    with pytest.raises(AngkaError, match="bukan bilangan bulat"):
        parse_angka("10,5", whole=True)
