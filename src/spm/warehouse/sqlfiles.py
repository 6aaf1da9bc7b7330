"""Run the project's layered SQL files (sql/staging, sql/core, sql/intermediate, sql/marts) with bound
parameters. A file may use the one query of another as a subquery, as dbt's `ref` does:
`{{ ref('intermediate/int_mutu_layanan.sql') }}` is replaced by that file's statement in parentheses,
so a rule is written once and read where it is used."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import sqlalchemy as sa

from spm.settings import sql_dir


REF = re.compile(r"\{\{\s*ref\('([\w/.-]+\.sql)'\)\s*\}\}")


def _without_comments(path: Path) -> str:
    return "\n".join(line.split("--", 1)[0].rstrip() for line in path.read_text(encoding="utf-8").splitlines())


def _expand_refs(text: str, path: Path, seen: tuple[Path, ...]) -> str:
    def subquery(m: re.Match) -> str:
        target = sql_dir() / m.group(1)
        if target in seen or target == path:
            raise ValueError(f"{path.name}: ref('{m.group(1)}') makes a cycle")
        found = statements(target, (*seen, path))
        if len(found) != 1:
            raise ValueError(f"{path.name}: ref('{m.group(1)}') must name a file of one query, not {len(found)}")
        return "(\n" + found[0] + "\n)"

    return REF.sub(subquery, text)


def statements(path: Path, _seen: tuple[Path, ...] = ()) -> list[str]:
    """Split a file into statements at lines ending with `;` (comments `--` dropped, refs expanded)."""
    out, current = [], []
    for line in _expand_refs(_without_comments(path), path, _seen).splitlines():
        if not line.strip():
            continue
        current.append(line)
        if line.endswith(";"):
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
