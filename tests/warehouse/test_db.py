"""Warehouse connection settings."""


def test_a_larger_sqlite_page_cache_holds_for_a_block_then_the_usual_one_returns(warehouse_url):
    import sqlalchemy as sa

    from spm.warehouse.db import SQLITE_CACHE_KIB, get_engine, sqlite_cache

    engine = get_engine(warehouse_url)
    sqlite = engine.dialect.name == "sqlite"

    def cache(conn):
        return conn.exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else None

    with engine.begin() as conn:
        assert cache(conn) == (-SQLITE_CACHE_KIB if sqlite else None)
        with sqlite_cache(conn, 4 * SQLITE_CACHE_KIB):
            assert cache(conn) == (-4 * SQLITE_CACHE_KIB if sqlite else None)
            conn.execute(sa.text("SELECT 1"))
        assert cache(conn) == (-SQLITE_CACHE_KIB if sqlite else None)
    engine.dispose()


def _index_sql(conn, table: str) -> dict[str, str]:
    import sqlalchemy as sa

    if conn.dialect.name == "sqlite":
        q = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
    else:
        q = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t AND indexname NOT LIKE '%pkey'"
    return dict(conn.execute(sa.text(q), {"t": table}).all())


def test_a_first_load_as_large_as_its_table_runs_without_the_secondary_indexes_on_sqlite_only(warehouse_url,
                                                                                              monkeypatch):
    import pytest
    import sqlalchemy as sa

    from spm.warehouse import db
    from spm.warehouse.db import get_engine, sqlite_indexes_rebuilt

    monkeypatch.setattr(db, "SQLITE_REBUILD_MIN_ROWS", 10)
    table = sa.Table("t_rebuild", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("kode", sa.String(5)), sa.Column("a", sa.Integer),
                     sa.Index("ix_t_rebuild_a", "a"), sa.Index("ix_t_rebuild_kode_a", "kode", "a"))
    engine = get_engine(warehouse_url)
    sqlite = engine.dialect.name == "sqlite"
    table.drop(engine, checkfirst=True)
    table.create(engine)
    try:
        with engine.connect() as conn:
            made = _index_sql(conn, "t_rebuild")
        assert set(made) == {"ix_t_rebuild_a", "ix_t_rebuild_kode_a"}

        def load(kode: str, n: int, fail: bool = False, seen: list | None = None) -> bool:  # max(rowid) = rows held
            with engine.begin() as conn, sqlite_indexes_rebuilt(conn, table, n, {"kode": kode}) as rebuilt:
                if seen is not None:
                    seen.append(rebuilt)
                assert _index_sql(conn, "t_rebuild") == ({} if rebuilt else made)
                conn.execute(sa.insert(table), [{"kode": kode, "a": i} for i in range(n)])
                if fail:
                    raise RuntimeError("the merge fails")
            return rebuilt

        assert load("A", 5) is False  # fewer rows than the minimum
        assert load("B", 20) is sqlite  # a first load of B, 20 rows into 5: a backfill
        assert load("B", 30) is False  # B is loaded: a rerun or a later window
        rebuilt_before_failing = []
        with pytest.raises(RuntimeError):
            load("C", 60, fail=True, seen=rebuilt_before_failing)  # rolled back: rows and indexes as they were
        assert rebuilt_before_failing == [sqlite]
        assert load("D", 12) is False  # a first load of 12 rows into 55: a top-up
        assert load("E", 70) is sqlite
        with engine.connect() as conn:
            assert _index_sql(conn, "t_rebuild") == made
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 137
            # The rebuilt indexes answer: a lookup through each sees every row.
            assert conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.a >= 0)).scalar_one() == 137
            e_rows = sa.select(sa.func.count()).select_from(table).where(table.c.kode == "E")
            assert conn.execute(e_rows).scalar_one() == 70
            if sqlite:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        table.drop(engine)
        engine.dispose()
