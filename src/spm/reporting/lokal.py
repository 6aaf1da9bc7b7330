"""What OPD staff read, in their locale: times in WIB, statuses and severities in Indonesian, numbers
with a decimal comma (issue 20). The warehouse keeps UTC and the English status codes; only the
pages, the workbook and the reports translate them, here, once."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from spm.reporting.charts import format_number
from spm.warehouse.audit import WIB

STATUS = {
    "running": "berjalan",
    "staged": "di staging",
    "validated": "lolos validasi",
    "published": "terbit",
    "unchanged": "tidak berubah",
    "failed": "gagal",
    "rejected": "ditolak",
    "missing": "belum ada data",
    "duplicate": "ganda (sudah dimuat)",
}
KEPARAHAN = {"critical": "kritis", "warning": "peringatan", "info": "info"}


def waktu(value: datetime | None, empty: str = "–") -> str:
    """`04-12-2026 10:20 WIB`; a naive time is taken as UTC (how the warehouse stores them)."""
    if value is None:
        return empty
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return f"{value.astimezone(WIB):%d-%m-%Y %H:%M} WIB"


def status(value: str | None) -> str:
    return STATUS.get(str(value), str(value)) if value is not None else "–"


def keparahan(value: str | None) -> str:
    return KEPARAHAN.get(str(value), str(value)) if value is not None else "–"


def angka(value: float | int | None, decimals: int = 0) -> str:
    """12.345,6: the Indonesian reading of a number (spm.reporting.charts.format_number)."""
    return format_number(value, decimals)


def bulat(value: float | int | None, digits: int = 0) -> float | int | None:
    """Rounded as e-SPM takes a figure (persons whole, percentages to 2 decimals), half away from
    zero as people round (Python's round() would make 2.5 into 2); the warehouse keeps it unrounded."""
    if value is None:
        return None
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return int(rounded) if digits == 0 else float(rounded)


def install(env) -> None:
    """The filters every page template of the project uses."""
    env.filters.update(waktu=waktu, status_id=status, keparahan=keparahan, angka=angka)
