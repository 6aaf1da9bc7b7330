"""What a batch's checks found, stored: a `dq_result` row per expectation (the one writer every
check uses: GX suites, cross-source checks, pending references), and GX's own (scrubbed) validation
results per batch and suite for the GX Data Docs pages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spm.quality.gx_scrub import scrub
from spm.warehouse.bulk import insert_rows
from spm.warehouse.tables import dq_result
from spm.warehouse.tables_dq import dq_validation_result


def _gx_row(batch_id: int, suite: str, bagian: int, result: dict[str, Any], checked_at: datetime) -> dict[str, Any]:
    return {"batch_id": batch_id, "suite": suite, "bagian": bagian, "success": bool(result.get("success")),
            "result_json": json.dumps(scrub(result), ensure_ascii=False, sort_keys=True), "checked_at": checked_at}


def store_gx_result(conn: sa.Connection, batch_id: int, suite: str, result: dict[str, Any] | Iterable[dict[str, Any] | None] | None,
                    checked_at: datetime) -> int:
    """Replace the stored GX results of (batch, suite) with `result` (one result, or one per chunk).

    Call it in the transaction that writes the batch's `dq_result` rows. Returns the rows written."""
    t = dq_validation_result
    parts = [result] if isinstance(result, dict) or result is None else list(result)
    conn.execute(sa.delete(t).where(t.c.batch_id == batch_id, t.c.suite == suite))
    rows = [_gx_row(batch_id, suite, i, h, checked_at) for i, h in enumerate(parts) if h is not None]
    if rows:
        conn.execute(sa.insert(t), rows)
    return len(rows)


def store_gx_chunk(conn: sa.Connection, batch_id: int, suite: str, bagian: int, result: dict[str, Any] | None,
                   checked_at: datetime) -> int:
    """Store the GX result of one chunk (`bagian`) of a batch validated while it streams, in the
    transaction that stages the chunk, so no result travels between tasks. Returns the rows written."""
    t = dq_validation_result
    conn.execute(sa.delete(t).where(t.c.batch_id == batch_id, t.c.suite == suite, t.c.bagian == bagian))
    if result is None:
        return 0
    conn.execute(sa.insert(t), [_gx_row(batch_id, suite, bagian, result, checked_at)])
    return 1


DQ_COLUMNS = ("batch_id", "suite", "expectation", "kolom", "severity", "success", "element_count",
              "unexpected_count", "unexpected_percent", "observed_value", "details", "checked_at")
FAILED_IDS_KEPT = 200  # failing row ids kept per expectation in dq_result.details (all are in quarantine)


def write_dq_results(conn: sa.Connection, batch_id: int, suite: str, outcomes: Iterable, checked_at,
                     gx_result: Any = ..., failed_ids: dict[str, list[int]] | None = None, **details: Any) -> None:
    """The one writer of `dq_result`: a row per expectation outcome of the batch's suite, and GX's own
    (scrubbed) result for the Data Docs, replacing the stored one (None: none could be produced; left
    out: those stored as the batch streamed stay). `failed_ids` replaces the outcomes' own failing
    row ids (a batch validated in chunks gathers them itself); `details` are added to every row's."""
    def ids(o) -> list[int]:
        return list(failed_ids.get(o.name, [])) if failed_ids is not None else list(o.failed_row_ids[:FAILED_IDS_KEPT])

    insert_rows(conn, dq_result, DQ_COLUMNS, (
        (batch_id, suite, o.name, o.kolom, o.severity, o.success, o.element_count, o.unexpected_count,
         o.unexpected_percent, o.observed_value,
         {"type": o.expectation_type, "failed_row_ids": ids(o), "error": o.error, **details}, checked_at)
        for o in outcomes))
    if gx_result is not ...:
        store_gx_result(conn, batch_id, suite, gx_result, checked_at)
