"""The write-audit-publish core on both warehouses: how a batch starts (open_batch supersedes what a
stopped load left running), how an unchanged source stops (settle_unchanged), how a stage ends
(record_staged), how streamed rows reach staging (StagingWriter) and how a load that cannot finish is
discarded (discard)."""

import sqlalchemy as sa

from spm.ingest.kependudukan import PENDUDUK
from spm.ingest.wap import StagingWriter, discard, open_batch, record_staged, settle_unchanged, stage
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


def test_a_stage_ends_with_what_was_received_and_a_discarded_load_leaves_nothing_running(engine):
    kept = stage(engine, PENDUDUK, KAB, PERIODE, _rows(3), "sum-1", "r1")
    with engine.begin() as conn:
        finish_batch(conn, kept.batch_id, BatchStatus.PUBLISHED, checksum="sum-1")
        streamed = open_batch(conn, "dukcapil", "penduduk", "32.04", PERIODE, "r2")
        outcome = record_staged(conn, streamed, 7, "sum-7")
    assert (outcome.batch_id, outcome.status, outcome.rows_received) == (streamed, BatchStatus.STAGED, 7)
    row = _batch(engine, streamed)
    assert (row.status, row.rows_received, row.checksum) == (BatchStatus.RUNNING, 7, "sum-7")

    failing = stage(engine, PENDUDUK, "32.72", PERIODE, _rows(2), "sum-2", "r3")
    with engine.begin() as conn:
        discard(conn, {failing.batch_id: (staging_penduduk,), kept.batch_id: ()}, "the source stopped mid-load")
    gone = _batch(engine, failing.batch_id)
    assert gone.status == BatchStatus.FAILED and gone.message == "the source stopped mid-load" and gone.finished_at
    assert _staged(engine, batch_id=failing.batch_id) == 0
    assert _batch(engine, kept.batch_id).status == BatchStatus.PUBLISHED  # settled batches keep their status
    assert _staged(engine, batch_id=kept.batch_id) == 3


def test_the_staging_writer_writes_in_chunks_with_the_batch_prefix_and_hands_chunks_to_a_handler(engine):
    with engine.begin() as conn:
        batch_id = open_batch(conn, "dukcapil", "penduduk", KAB, PERIODE, "r1", (staging_penduduk,))
    cols = PENDUDUK.columns
    rows = [(r["row_id"], *(r[c] for c in cols)) for r in _rows(7)]
    writer = StagingWriter(engine, staging_penduduk, cols, batch_id, KAB, PERIODE, flush_rows=3)
    writer.add(rows[:2])
    assert _staged(engine, batch_id=batch_id) == 0  # under a chunk: still buffered
    writer.add(rows[2:5])
    assert _staged(engine, batch_id=batch_id) == 5  # a full chunk is written at once, the whole buffer
    writer.add(rows[5:6])
    writer.drop()  # a lost load forgets its buffer
    writer.add(rows[6:])
    writer.flush()
    writer.flush()  # nothing left: writes nothing twice
    assert writer.received == 7
    t = staging_penduduk
    with engine.connect() as conn:
        got = conn.execute(sa.select(t.c.row_id, t.c.kode_kab_kota, t.c.periode, t.c.umur)
                           .where(t.c.batch_id == batch_id).order_by(t.c.row_id)).all()
    assert [tuple(r) for r in got] == [(i, KAB, PERIODE, i) for i in (1, 2, 3, 4, 5, 7)]

    chunks: list[list[tuple]] = []
    handled = StagingWriter(engine, staging_penduduk, cols, batch_id, KAB, PERIODE, 2, write_chunk=chunks.append)
    handled.add(rows[:3])
    handled.add(rows[3:4])
    handled.flush()
    assert [[r[0] for r in c] for c in chunks] == [[1, 2, 3], [4]]
    assert _staged(engine, batch_id=batch_id) == 6  # the handler, not the writer, stages its chunks
