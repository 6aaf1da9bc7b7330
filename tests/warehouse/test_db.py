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
