"""Airflow Assets: one per published warehouse table, so downstream DAGs can be scheduled on them."""

from airflow.sdk import Asset


def table_asset(table: str) -> Asset:
    return Asset(name=table, uri=f"spm://warehouse/{table}")


DIM_WILAYAH = table_asset("dim_wilayah")
FACT_PENDUDUK = table_asset("fact_penduduk")
FACT_KELAHIRAN = table_asset("fact_kelahiran")
