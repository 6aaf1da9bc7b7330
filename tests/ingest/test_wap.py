"""The write-audit-publish core on both warehouses: how a batch starts (open_batch supersedes what a
stopped load left running) and how an unchanged source stops (settle_unchanged)."""

import sqlalchemy as sa

from spm.ingest.kependudukan import PENDUDUK
from spm.ingest.wap import open_batch, settle_unchanged, stage
from spm.warehouse.audit import finish_batch
from spm.warehouse.status import BatchStatus
from spm.warehouse.tables import etl_batch, staging_penduduk

KAB, PERIODE = "32.71", "2024-1"


def _rows(n: int) -> list[dict]:
    return [{"row_id": i, "semester": PERIODE, "kode_desa": "32.71.01.1001", "jenis_kelamin": "L", "umur": i,
             "jumlah": 10} for i in range(1, n + 1)]


def _batch(engine, batch_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == batch_id)).one()


def _staged(engine, **where) -> int:
    t = staging_penduduk
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t).where(
            *(t.c[k] == v for k, v in where.items()))).scalar_one()


def test_a_new_load_supersedes_the_running_batch_of_its_partition_only(engine):
    stopped = stage(engine, PENDUDUK, KAB, PERIODE, _rows(3), "a", "r1")  # its task died before validating
    other = stage(engine, PENDUDUK, "32.04", PERIODE, _rows(2), "b", "r1")  # another kab/kota, also running
    with engine.begin() as conn:
        new = open_batch(conn, "dukcapil", "penduduk", KAB, PERIODE, "r2", (staging_penduduk,))
    old = _batch(engine, stopped.batch_id)
    assert old.status == BatchStatus.FAILED and old.message.startswith(f"superseded by batch {new}")
    assert old.finished_at is not None
    assert _staged(engine, batch_id=stopped.batch_id) == 0
    assert _batch(engine, other.batch_id).status == BatchStatus.RUNNING
    assert _staged(engine, batch_id=other.batch_id) == 2
    assert _batch(engine, new).status == BatchStatus.RUNNING


def test_a_source_equal_to_the_published_one_stops_unchanged_and_a_new_one_goes_on(engine):
    first = stage(engine, PENDUDUK, KAB, PERIODE, _rows(3), "sum-1", "r1")
    with engine.begin() as conn:
        finish_batch(conn, first.batch_id, BatchStatus.PUBLISHED, checksum="sum-1")
        again = open_batch(conn, "dukcapil", "penduduk", KAB, PERIODE, "r2")
        assert settle_unchanged(conn, "dukcapil", "penduduk", KAB, PERIODE, again, "sum-2", 3) is None
        done = settle_unchanged(conn, "dukcapil", "penduduk", KAB, PERIODE, again, "sum-1", 3, (staging_penduduk,))
    assert done.status == BatchStatus.UNCHANGED and done.rows_received == 3
    row = _batch(engine, again)
    assert row.status == BatchStatus.UNCHANGED and row.checksum == "sum-1" and row.rows_received == 3
    assert _staged(engine, batch_id=first.batch_id) == 3  # the published batch's staging is not touched
    assert stage(engine, PENDUDUK, KAB, PERIODE, _rows(3), "sum-1", "r3").status == BatchStatus.UNCHANGED
