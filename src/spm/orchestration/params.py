"""The DAG params every DAG shares, each with a schema: Airflow refuses a run conf that breaks one
before any task starts, with a message naming the param (a bad `tahun`, a code of the wrong
shape, a list longer than the country)."""

from __future__ import annotations

from airflow.sdk import Param

# Kemendagri kab/kota code, dotted (32.71), or a province's (32: all its kab/kota, from dim_wilayah)
KAB_KOTA_PATTERN = r"^\d{2}(\.\d{2})?$"
KAB_KOTA_MAX = 514  # kab/kota in Indonesia (Kepmendagri 300.2.2-2138/2025): more is a mistake
TAHUN_MIN, TAHUN_MAX = 2000, 2100
# ISO date or date-time with an optional zone: 2025-01-01, 2025-01-01T00:00:00+07:00, ...Z
INSTANT_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"


def kode_wilayah(description: str) -> Param:
    return Param(None, type=["null", "array"], items={"type": "string", "pattern": KAB_KOTA_PATTERN},
                 maxItems=KAB_KOTA_MAX, description=description)


def tahun(description: str) -> Param:
    return Param(None, type=["null", "integer"], minimum=TAHUN_MIN, maximum=TAHUN_MAX, description=description)


def instant(description: str) -> Param:
    return Param(None, type=["null", "string"], pattern=INSTANT_PATTERN, maxLength=40, description=description)


def pilihan(values: list[int], description: str) -> Param:
    """An optional integer out of `values` (semester, triwulan)."""
    return Param(None, type=["null", "integer"], enum=[None, *values], description=description)
