"""Numbers as Indonesians write them in workbooks and CSV files: `.` groups thousands, `,` marks the
decimals (`1.500` is one thousand five hundred, `1.500,50` and `1,5` have decimals). A text that reads
one way in Indonesian and another in English (`1,500`, `1.5`, `1,500.50`) is refused with the reason,
never guessed: one wrong guess multiplies or divides a budget or a population by a thousand.
Numeric cells of a workbook carry their value and are not read through here.
"""

from __future__ import annotations

import re

_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_DIGITS = re.compile(r"^\d+$")
_ID_THOUSANDS = re.compile(r"^\d{1,3}(\.\d{3})+$")  # 1.500  12.345.678
_ID_DECIMAL = re.compile(r"^(\d{1,3}(\.\d{3})+|\d+),\d+$")  # 1.500,50  1234,5  0,75
_EN_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+$")  # 1,500: Indonesian 1,5 or English 1500?
_EN_DECIMAL = re.compile(r"^(\d{1,3}(,\d{3})+|\d+)\.\d+$")  # 1.5  1,500.50


class AngkaError(ValueError):
    """The text is not a number, or not one that reads the same to everyone; the message says why."""


def parse_angka(text: str, whole: bool = False, rupiah: bool = False) -> int | float:
    """The value of `text`; an int when it has no decimals. `whole` refuses a fractional value;
    `rupiah` allows a leading `Rp`."""
    raw = text
    s = _SPACES.sub("", text)
    if rupiah and s[:2].lower() == "rp":
        s = s[2:].lstrip(".")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if _DIGITS.match(s):
        return sign * int(s)
    if _ID_THOUSANDS.match(s):
        return sign * int(s.replace(".", ""))
    if _EN_THOUSANDS.match(s):
        raise AngkaError(f"{raw!r} ambigu: bila ribuan, tulis {s.replace(',', '.')} (ribuan dengan titik); "
                         "koma hanya untuk desimal")
    if _ID_DECIMAL.match(s):
        whole_part, decimals = s.replace(".", "").split(",")
        value = sign * float(f"{whole_part}.{decimals}")
        if value.is_integer():
            return int(value)
        if whole:
            raise AngkaError(f"{raw!r} bukan bilangan bulat")
        return value
    if _EN_DECIMAL.match(s):
        raise AngkaError(f"{raw!r} memakai titik sebagai desimal (format Inggris): tulis desimal dengan koma "
                         f"dan ribuan dengan titik, mis. 1.500,50")
    raise AngkaError(f"{raw!r} bukan angka")
