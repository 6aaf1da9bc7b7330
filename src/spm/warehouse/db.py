"""Engine creation, connection checks and schema migrations (one code path for SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from spm.errors import WarehouseError
from spm.settings import warehouse_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def get_engine(url: str | None = None) -> sa.Engine:
    """An engine for the warehouse; a SQLite file's folder is created when missing."""
    resolved = warehouse_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(resolved, connect_args={"timeout": 60})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise WarehouseError(
            f"warehouse URL {parsed.render_as_string(hide_password=True)} is neither SQLite nor PostgreSQL"
        )
    return sa.create_engine(resolved, pool_pre_ping=True)


def airflow_engine() -> sa.Engine:
    """The warehouse of the `spm_warehouse` Airflow connection (task run time: never call at DAG parse)."""
    from spm.settings import warehouse_url_from_airflow

    return get_engine(warehouse_url_from_airflow())


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers (dashboard, status) work while a nightly load writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # 64 MB of page cache instead of 2 MB: merging millions of FHIR rows into indexed tables otherwise
    # reads the same index pages from disk again and again. Only used as the database grows.
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.close()


SQLITE_CACHE_KIB = 65_536
SQLITE_MERGE_CACHE_KIB = 262_144  # while a health window merges (spm.ingest.kesehatan_publish.merge_all)


@contextmanager
def sqlite_cache(conn: sa.Connection, kib: int) -> Iterator[None]:
    """A larger SQLite page cache on this connection for a block, then the usual one again (the pages
    above it are freed). Elsewhere a no-op."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql(f"PRAGMA cache_size=-{kib}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")


# A first load adding at least this many rows, and at least as many as the table holds, rebuilds
# the table's secondary indexes on SQLite (sqlite_indexes_rebuilt).
SQLITE_REBUILD_MIN_ROWS = 100_000


@contextmanager
def sqlite_indexes_rebuilt(conn: sa.Connection, table: sa.Table, adding: int,
                           partition: Mapping[str, Any]) -> Iterator[bool]:
    """On SQLite, a block adding `adding` rows to a `partition` of `table` that holds none yet (a
    first backfill) runs without the table's secondary indexes, made again after it, when the rows
    are many and at least as many as the table holds: one sort per index instead of a random b-tree
    insert per row and index once the indexes outgrow the page cache (3.2 M observations: 28 s
    against 39 s). A partition already loaded is left alone: a rerun's merge inserts little or
    nothing. Yields whether it rebuilds. Inside the caller's transaction: if the block fails, the
    rollback restores the indexes; readers (WAL) see them meanwhile. Elsewhere a no-op
    (PostgreSQL's DROP INDEX would lock readers out)."""
    indexes = sorted(table.indexes, key=lambda i: i.name)
    rebuild = conn.dialect.name == "sqlite" and bool(indexes) and adding >= SQLITE_REBUILD_MIN_ROWS
    if rebuild:  # max(rowid): no scan, and never below the rows held
        held = conn.exec_driver_sql(f'SELECT max(rowid) FROM "{table.name}"').scalar() or 0
        loaded = conn.execute(sa.select(sa.literal(1)).select_from(table).where(
            *(table.c[k] == v for k, v in partition.items())).limit(1)).first() is not None
        rebuild = adding >= held and not loaded
    if not rebuild:
        yield False
        return
    if not conn.connection.dbapi_connection.in_transaction:
        # pysqlite opens its transaction at the first INSERT/UPDATE/DELETE: a DROP INDEX before one
        # would commit at once, and a failed merge would leave the table without its indexes.
        conn.exec_driver_sql("BEGIN")
    for index in indexes:
        index.drop(conn)
    yield True
    for index in indexes:
        index.create(conn)


def describe(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def check_connection(engine: sa.Engine) -> None:
    """Fail with one actionable line when the warehouse cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise WarehouseError(
            f"cannot reach the warehouse at {describe(engine)}: {reason} "
            "(check AIRFLOW_CONN_SPM_WAREHOUSE / SPM_WAREHOUSE_URL and that the server is running)"
        ) from None


def _alembic_config(connection: sa.Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, revision: str = "heads") -> str | None:
    """Apply migrations up to `revision` (every head); return the revision the warehouse is at."""
    from alembic import command

    check_connection(engine)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)
    return current_revision(engine)


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from spm.warehouse.migrations_meta import VERSION_TABLE

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        heads = ctx.get_current_heads()
    return "+".join(sorted(heads)) or None


def head_revision() -> str:
    """The code's head revision(s); branches developed side by side show as `a+b`."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return "+".join(sorted(ScriptDirectory.from_config(cfg).get_heads()))


def require_current_schema(engine: sa.Engine) -> None:
    """Refuse to load into a warehouse whose schema is behind the code."""
    check_connection(engine)
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise WarehouseError(
            f"warehouse {describe(engine)} is at schema revision {current or 'none'}, code needs {head}: "
            "run `spm db upgrade`"
        )
