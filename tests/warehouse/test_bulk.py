from datetime import datetime, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from spm.errors import InputError
from spm.warehouse.audit import finish_batch, start_batch
from spm.warehouse.bulk import replace_partition
from spm.warehouse.tables import etl_batch, quarantine, staging_wilayah

COLS = ("kode", "nama", "tingkat", "kode_induk")


def _rows(prefix, n, tingkat="desa_kelurahan"):
    return [(f"{prefix}.{1000 + i}", f"Desa {i}", tingkat, prefix) for i in range(n)]


def _by_tingkat(engine):
    with engine.connect() as conn:
        return dict(conn.execute(
            sa.select(staging_wilayah.c.tingkat, sa.func.count()).group_by(staging_wilayah.c.tingkat)).all())


def test_replace_touches_only_its_partition(engine):
    with engine.begin() as conn:
        replace_partition(conn, staging_wilayah, {"tingkat": "desa_kelurahan"}, COLS, _rows("32.71.01", 50))
        replace_partition(conn, staging_wilayah, {"tingkat": "kecamatan"}, COLS, _rows("32.71", 5, "kecamatan"))
    with engine.begin() as conn:
        n = replace_partition(conn, staging_wilayah, {"tingkat": "desa_kelurahan"}, COLS, _rows("32.71.02", 7))
    assert n == 7
    assert _by_tingkat(engine) == {"desa_kelurahan": 7, "kecamatan": 5}


def test_failure_half_way_leaves_previous_partition_intact(engine):
    with engine.begin() as conn:
        replace_partition(conn, staging_wilayah, {"tingkat": "desa_kelurahan"}, COLS, _rows("32.71.01", 30))

    def rows_then_crash():
        yield from _rows("32.71.09", 20)
        raise ConnectionError("source went away mid-stream")

    with pytest.raises(ConnectionError):
        with engine.begin() as conn:
            replace_partition(conn, staging_wilayah, {"tingkat": "desa_kelurahan"}, COLS, rows_then_crash())
    # A constraint violation inside the bulk insert (NOT NULL nama) rolls back too.
    bad = _rows("32.71.08", 10) + [("32.71.08.9999", None, "desa_kelurahan", "32.71.08")]
    with pytest.raises(sa.exc.IntegrityError):
        with engine.begin() as conn:
            replace_partition(conn, staging_wilayah, {"tingkat": "desa_kelurahan"}, COLS, bad)
    with engine.connect() as conn:
        kode = set(conn.execute(sa.select(staging_wilayah.c.kode)).scalars())
    assert kode == {k for k, *_ in _rows("32.71.01", 30)}


def test_rows_outside_the_partition_are_refused(engine):
    with pytest.raises(InputError, match="outside the partition"):
        with engine.begin() as conn:
            replace_partition(conn, staging_wilayah, {"tingkat": "kecamatan"}, COLS, _rows("32.71.01", 3))
    assert _by_tingkat(engine) == {}


def test_unknown_column_is_named(engine):
    with pytest.raises(InputError, match="unknown column.*kode_desa"):
        with engine.begin() as conn:
            replace_partition(conn, staging_wilayah, {}, ("kode_desa",), [])


def test_dataframe_with_json_datetime_and_nulls_round_trips(engine):
    with engine.begin() as conn:
        batch_id = start_batch(conn, "dukcapil", "penduduk", "32.71", "2024-2", "run-1")
    when = datetime(2025, 3, 1, 8, 30, tzinfo=timezone.utc)
    frame = pd.DataFrame({
        "batch_id": [batch_id, batch_id],
        "natural_key": ["32.71.01.1001|L|5", "32.71.01.1001|P|5"],
        "failed_expectations": ["expect_a", "expect_a,expect_b"],
        "row_data": [{"umur": 5, "jumlah": -1}, None],
        "quarantined_at": [when, when],
    })
    with engine.begin() as conn:
        n = replace_partition(conn, quarantine, {"batch_id": batch_id}, list(frame.columns), frame)
        finish_batch(conn, batch_id, "published", rows_quarantined=n)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(quarantine).order_by(quarantine.c.natural_key)).all()
        status = conn.execute(sa.select(etl_batch.c.status)).scalar_one()
    assert [r.row_data for r in rows] == [{"umur": 5, "jumlah": -1}, None]
    got = rows[0].quarantined_at
    assert got.replace(tzinfo=None) == when.replace(tzinfo=None) or got == when
    assert status == "published"


@pytest.mark.parametrize("value", [
    datetime(2024, 3, 4, 5, 6, 7, 123000, tzinfo=timezone.utc),
    datetime.fromisoformat("2024-03-04T05:06:07+07:00"),
    datetime.fromisoformat("2024-12-31T23:59:59.999999-03:30"),
    datetime(2024, 1, 1),
])
def test_sqlite_datetime_text_is_what_sqlalchemy_writes(value):
    """The bulk path's text for a DateTime must equal SQLAlchemy's own, or comparisons between rows
    loaded both ways (staging vs published last_updated) would go wrong."""
    from sqlalchemy.dialects import sqlite

    from spm.warehouse.bulk import _sqlite_datetime

    utc_naive = value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    expected = sa.DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())(utc_naive)
    assert _sqlite_datetime(value) == expected


@pytest.mark.parametrize("variable_limit", [None, 10])
def test_sqlite_inserts_many_rows_per_statement_each_row_once_within_the_parameter_limit(tmp_path, variable_limit):
    # Whole statements, a shorter last one, and statements cut to the connection's parameter limit
    # (10 parameters: two rows of four columns each).
    import sqlite3

    from spm.warehouse import bulk
    from spm.warehouse.db import get_engine
    from tests.warehouses import sqlite_at_head

    sqlite_at_head(str(tmp_path / "w.db"))
    engine = get_engine(f"sqlite:///{tmp_path / 'w.db'}")
    rows = _rows("32.71.01", bulk.SQLITE_ROWS_PER_STATEMENT * 2 + 345)
    statements = []
    sa.event.listen(engine, "connect", lambda dbapi, _: variable_limit and dbapi.setlimit(
        sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variable_limit))
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        raw.set_trace_callback(lambda sql: statements.append(sql) if sql.startswith("INSERT") else None)
        assert bulk.insert_rows(conn, staging_wilayah, COLS, iter(rows)) == len(rows)
        raw.set_trace_callback(None)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(*(staging_wilayah.c[c] for c in COLS)).order_by(staging_wilayah.c.kode)).all()
    assert [tuple(r) for r in stored] == sorted(rows)
    per = 2 if variable_limit else bulk.SQLITE_ROWS_PER_STATEMENT
    assert len(statements) == -(-len(rows) // per)
    engine.dispose()
