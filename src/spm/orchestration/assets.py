"""Airflow Assets, every one defined here once: one per published warehouse table, so downstream DAGs
can be scheduled on them; and the one helper that sets the events a publishing task emits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset


def table_asset(table: str) -> Asset:
    return Asset(name=table, uri=f"spm://warehouse/{table}")


DIM_WILAYAH = table_asset("dim_wilayah")
FACT_PENDUDUK = table_asset("fact_penduduk")
FACT_KELAHIRAN = table_asset("fact_kelahiran")
DIM_SEKOLAH = table_asset("dim_sekolah")
FACT_PESERTA_DIDIK = table_asset("fact_peserta_didik")
FACT_PASIEN = table_asset("fact_pasien")
FACT_KUNJUNGAN = table_asset("fact_kunjungan")
FACT_OBSERVASI = table_asset("fact_observasi")
FACT_KONDISI = table_asset("fact_kondisi")
FACT_INPUT_MUTU = table_asset("fact_input_mutu")
FACT_INPUT_ANGGARAN = table_asset("fact_input_anggaran")
MART_CAPAIAN_SPM = table_asset("mart_capaian_spm")
MART_INDEKS_SPM = table_asset("mart_indeks_spm")

# The entity names the ingests report, to the table each publishes.
KEPENDUDUKAN = {"penduduk": FACT_PENDUDUK, "kelahiran": FACT_KELAHIRAN}
KESEHATAN = {"pasien": FACT_PASIEN, "kunjungan": FACT_KUNJUNGAN, "observasi": FACT_OBSERVASI,
             "kondisi": FACT_KONDISI}

ALL = (DIM_WILAYAH, FACT_PENDUDUK, FACT_KELAHIRAN, DIM_SEKOLAH, FACT_PESERTA_DIDIK, FACT_PASIEN, FACT_KUNJUNGAN,
       FACT_OBSERVASI, FACT_KONDISI, FACT_INPUT_MUTU, FACT_INPUT_ANGGARAN, MART_CAPAIAN_SPM, MART_INDEKS_SPM)


def emit(outlet_events, extras: Mapping[Asset, dict[str, Any]], nothing: str | None = None) -> None:
    """Give each Asset's event of this task its extra (what was published, for the DAGs it wakes).

    With no extras and a `nothing` reason the task is skipped instead, so no event wakes anyone."""
    if not extras and nothing is not None:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(nothing)
    for asset, extra in extras.items():
        outlet_events[asset].extra = extra
