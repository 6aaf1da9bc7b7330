"""Run the project's layered SQL files (sql/staging, sql/core, sql/marts) with bound parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import sqlalchemy as sa

from spm.settings import sql_dir


def statements(path: Path) -> list[str]:
    """Split a file into statements at lines ending with `;` (comments `--` dropped)."""
    out, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        if not stripped:
            continue
        current.append(stripped)
        if stripped.endswith(";"):
            out.append("\n".join(current).rstrip(";"))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def run_sql_file(conn: sa.Connection, relative: str, params: Mapping[str, Any] | None = None) -> list[int]:
    """Execute every statement of `sql/<relative>`; return the row counts they touched."""
    counts = []
    for stmt in statements(sql_dir() / relative):
        result = conn.execute(sa.text(stmt), dict(params or {}))
        counts.append(result.rowcount)
    return counts
