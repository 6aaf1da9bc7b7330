"""`spm bench bulk-load`: the partition-replace helper against `DataFrame.to_sql`, same data, same run."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date, timedelta

import sqlalchemy as sa

from spm.warehouse.bulk import replace_partition
from spm.warehouse.db import check_connection, describe, get_engine

GOAL_POSTGRES = 4.0  # the helper must be at least this many times faster than to_sql on PostgreSQL
BENCH_TABLE = "bench_bulk_load"


def _table(metadata: sa.MetaData) -> sa.Table:
    # 8 columns of the kinds the fact tables have.
    return sa.Table(
        BENCH_TABLE, metadata,
        sa.Column("periode", sa.String(16), nullable=False),
        sa.Column("kode_desa", sa.String(13), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("jenis_kelamin", sa.String(1), nullable=False),
        sa.Column("umur", sa.Integer, nullable=False),
        sa.Column("tanggal", sa.Date, nullable=False),
        sa.Column("nilai", sa.Float, nullable=True),
        sa.Column("jumlah", sa.Integer, nullable=False),
    )


def make_frame(rows: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    base = date(2025, 1, 1)
    return pd.DataFrame({
        "periode": "2025-2",
        "kode_desa": [f"32.71.0{i % 6 + 1}.{1001 + i % 68}" for i in range(rows)],
        "person_key": [f"{i:064x}" for i in range(rows)],
        "jenis_kelamin": np.where(rng.random(rows) < 0.5, "L", "P"),
        "umur": rng.integers(0, 101, rows),
        "tanggal": [base + timedelta(days=int(d)) for d in rng.integers(0, 365, rows)],
        "nilai": rng.normal(120, 15, rows).round(1),
        "jumlah": rng.integers(0, 500, rows),
    })


def _measure(engine: sa.Engine, frame, table: sa.Table) -> tuple[float, float]:
    columns = list(frame.columns)
    with engine.begin() as conn:
        conn.execute(sa.delete(table))
    started = time.perf_counter()
    with engine.begin() as conn:
        replace_partition(conn, table, {"periode": "2025-2"}, columns, frame)
    helper = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(sa.delete(table))
    started = time.perf_counter()
    with engine.begin() as conn:
        frame.to_sql(BENCH_TABLE, conn, if_exists="append", index=False, chunksize=10_000)
    to_sql = time.perf_counter() - started
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == len(frame)
    return helper, to_sql


def bench_engine(engine: sa.Engine, frame) -> dict:
    metadata = sa.MetaData()
    table = _table(metadata)
    check_connection(engine)
    metadata.drop_all(engine, [table])
    metadata.create_all(engine, [table])
    try:
        helper, to_sql = _measure(engine, frame, table)
    finally:
        metadata.drop_all(engine, [table])
    n = len(frame)
    return {"engine": engine.dialect.name, "rows": n, "helper_rows_s": n / helper,
            "to_sql_rows_s": n / to_sql, "ratio": to_sql / helper}


def run(rows: int, sqlite_url: str | None = None, postgres_url: str | None = None) -> int:
    frame = make_frame(rows)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = get_engine(sqlite_url or f"sqlite:///{tmp}/bench.db")
        results.append((describe(sqlite), bench_engine(sqlite, frame)))
        sqlite.dispose()
    postgres_url = postgres_url or os.environ.get("SPM_TEST_POSTGRES_URL")
    if postgres_url:
        pg = get_engine(postgres_url)
        results.append((describe(pg), bench_engine(pg, frame)))
        pg.dispose()
    else:
        print("PostgreSQL skipped: give --postgres-url or set SPM_TEST_POSTGRES_URL")
    print(f"bulk load, {rows} rows x 8 columns, helper vs DataFrame.to_sql in the same run")
    status = 0
    for where, r in results:
        line = (f"  {r['engine']:<10} helper {r['helper_rows_s']:>10,.0f} rows/s   to_sql {r['to_sql_rows_s']:>10,.0f} "
                f"rows/s   ratio {r['ratio']:.1f}x   ({where})")
        if r["engine"] == "postgresql":
            ok = r["ratio"] >= GOAL_POSTGRES
            line += f"   goal >= {GOAL_POSTGRES:.0f}x: {'met' if ok else 'NOT MET'}"
            status = status or (0 if ok else 1)
        print(line)
    return status
