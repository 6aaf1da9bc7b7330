"""Test warehouses built fast. Migrating a warehouse takes a fraction of a second and loading the
91,599 region codes seconds, and most tests need one or both: on SQLite a file built once per test
session (by the same `upgrade` and `load_wilayah`) is copied instead; on PostgreSQL both run for
real, so those paths stay tested (and `tests/warehouse/test_migrations.py` migrates SQLite from empty)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import sqlalchemy as sa

_templates: dict[str, Path] = {}
_lock = threading.Lock()


def _template(kind: str) -> Path:
    with _lock:
        if kind not in _templates:
            from spm.warehouse.db import get_engine, upgrade
            from spm.warehouse.wilayah import load_wilayah

            path = Path(tempfile.mkdtemp(prefix=f"spm-{kind}-")) / "warehouse.db"
            eng = get_engine(f"sqlite:///{path}")
            upgrade(eng)
            if kind == "wilayah":
                load_wilayah(eng)
            eng.dispose()
            _templates[kind] = path
    return _templates[kind]


def sqlite_at_head(database: str) -> None:
    """Make the SQLite file `database` a warehouse at the schema head, as `upgrade` leaves an empty one."""
    shutil.copyfile(_template("schema"), database)


def with_wilayah(engine: sa.Engine) -> sa.Engine:
    """`load_wilayah(engine)` for a test warehouse just created at the schema head."""
    if engine.dialect.name != "sqlite":
        from spm.warehouse.wilayah import load_wilayah

        load_wilayah(engine)
        return engine
    engine.dispose()  # nothing holds the file while it is replaced
    shutil.copyfile(_template("wilayah"), engine.url.database)
    return engine
