"""A quarter whose index is newer than its report is published by the next report run, even when
no Asset event named it (spm.reporting.publish.stale_quarters, tasks.laporan_plan)."""

import os
import time

import sqlalchemy as sa

from spm.reporting.publish import FORMATS, stale_quarters, publication_of
from spm.warehouse.audit import finish_batch, start_batch


def _index_batch(engine, kode: str, periode: str) -> None:
    with engine.begin() as conn:
        batch = start_batch(conn, "spm", "mart_indeks_spm", kode, periode, "r")
        finish_batch(conn, batch, "published", rows_received=1, rows_published=1)


def _report(kode: str, tahun: int, triwulan: int, root, written: float) -> None:
    t = publication_of(kode, tahun, triwulan, root)
    t.folder.mkdir(parents=True)
    for path in [t.path(j) for j in FORMATS] + [t.manifest]:
        path.write_text("x")
        os.utime(path, (written, written))


def test_an_index_without_a_report_or_newer_than_it_is_stale(engine, tmp_path):
    _index_batch(engine, "32.71", "2026-T3")
    _index_batch(engine, "32.72", "2026-T3")
    _index_batch(engine, "32.72", "2026-T2")
    with engine.begin() as conn:  # not published: never reported
        start_batch(conn, "spm", "mart_indeks_spm", "32.73", "2026-T3", "r")
    _report("32.71", 2026, 3, tmp_path, time.time() + 3600)  # written after its index
    _report("32.72", 2026, 2, tmp_path, time.time() - 3600)  # written before its index was rebuilt
    assert stale_quarters(engine, tmp_path) == [
        {"kode_kab_kota": "32.72", "tahun": 2026, "triwulan": 2},
        {"kode_kab_kota": "32.72", "tahun": 2026, "triwulan": 3}]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM etl_batch")).scalar_one() == 4
