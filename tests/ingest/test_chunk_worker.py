"""The chunk worker: the same results in the worker process as in process, and the staging rows
built from a chunk's frame equal those the flattened rows give."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from spm.ingest import kesehatan as k
from spm.ingest.chunk_worker import ChunkWorker, shareable, validate
from spm.warehouse.audit import start_batch
from spm.warehouse.bulk import insert_rows
from spm.warehouse.db import get_engine

SECRET = b"worker-test-secret-0123456789"


def _condition_frame():
    utc = timezone.utc
    rows = [  # (row_id, kondisi_id, last_updated, pasien_id, status_klinis, tanggal_onset, kode, sistem_kode)
        (1, "c-1", datetime(2025, 3, 2, tzinfo=utc), "P-1", "active", datetime(2025, 3, 1, tzinfo=utc), "A15.0",
         "http://hl7.org/fhir/sid/icd-10"),
        (2, "c-2", datetime(2025, 3, 3, tzinfo=utc), "P-2", "sleeping", datetime(2025, 3, 1, tzinfo=utc), "J06",
         "http://snomed.info/sct"),  # unknown clinical status and code system
        (3, "c-3", datetime(2025, 5, 1, tzinfo=utc), None, "resolved", None, "not-icd",
         "http://hl7.org/fhir/sid/icd-10"),  # outside the window, no patient, a malformed code
    ]
    frame = k._frame(rows, ["row_id", *k.KONDISI.columns])
    frame["pasien_dikenal"] = [True, False, False]
    return frame


def _outcomes(report):
    return [(o.name, o.success, o.unexpected_count, o.failed_row_ids, o.observed_value, o.error)
            for o in report.outcomes]


def _gx_results(report):
    """GX's own results without what differs between runs (its meta: times, run ids; expectation ids)."""
    return [{**r, "expectation_config": {k: v for k, v in r["expectation_config"].items() if k != "id"}}
            for r in report.gx_result["results"]]


def test_worker_report_equals_in_process_report(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'w.db'}")
    w = k.Window.of(k.windows(["32.71"], "2025-03-01", "2025-04-01")[0])
    parameters = k.validation_parameters("kondisi", w)
    frame = _condition_frame()
    inline = ChunkWorker(engine)
    here = inline.result(inline.submit(validate, k.KONDISI.suite, frame, parameters))
    assert not inline.in_worker
    worker = ChunkWorker(engine)
    assert worker.use_worker()
    try:
        assert worker.in_worker
        jobs = [worker.submit(validate, k.KONDISI.suite, frame, parameters) for _ in range(2)]
        there = [worker.result(job) for job in jobs]
    finally:
        worker.close()
    assert not worker.in_worker
    assert worker.worker_peak_mb > 0
    assert _outcomes(there[0]) == _outcomes(there[1]) == _outcomes(here)
    assert _gx_results(there[0]) == _gx_results(here)
    failed = {o.name: o.failed_row_ids for o in here.outcomes if not o.success}
    assert failed == {"last_updated_dalam_jendela": (3,), "pasien_dirujuk": (3,), "pasien_dikenal": (2, 3),
                      "status_klinis_dikenal": (2,), "kode_sistem_icd10": (2,), "kode_icd10": (3,)}


def test_worker_error_reaches_the_caller(tmp_path):
    worker = ChunkWorker(get_engine(f"sqlite:///{tmp_path / 'w.db'}"))
    worker.use_worker()
    try:
        frame = _condition_frame().drop(columns=["row_id"])
        with pytest.raises(ValueError, match="needs a 'row_id' column"):
            worker.result(worker.submit(validate, k.KONDISI.suite, frame, {}))
    finally:
        worker.close()


def test_an_in_memory_warehouse_is_not_shared():
    assert not shareable(sa.create_engine("sqlite://"))
    assert not shareable(sa.create_engine("sqlite:///:memory:"))
    assert shareable(sa.create_engine("sqlite:////tmp/x.db"))
    assert shareable(sa.create_engine("postgresql+psycopg://u@h/db"))
    memory = ChunkWorker(sa.create_engine("sqlite://"))
    assert not memory.use_worker() and not memory.in_worker


def _simulated_rows(entity: str) -> list[tuple]:
    """(row_id, *columns) of simulated resources (second versions, NIK faults) and of a bare one."""
    from spm.simulator import SimulatorConfig, World
    from spm.simulator.records import RENDERERS, patient_resources

    world = World(SimulatorConfig(kode_wilayah=("32.71",), scale=0.001, seed=5))["32.71"]
    kind = k.TYPE_OF[entity]
    if kind == "Patient":
        resources = patient_resources(world, range(len(world.kesehatan.patients))[:300], 0.3)
    else:
        rows = world.kesehatan.all_resources[kind].order(True)[0][:300]
        resources = RENDERERS[kind](world, rows, True)
    resources.append({"resourceType": kind, "id": f"bare-{kind}"})  # nearly every field missing
    flatten = k.flattener(entity, SECRET, "32.71")
    return [(n, *flatten(r)) for n, r in enumerate(resources, start=1)]


@pytest.mark.parametrize("entity", list(k.SPECS))
def test_staging_rows_from_the_frame_equal_the_flattened_rows(engine, entity):
    """What _validate_and_stage stages (built column-wise from the chunk's frame) is exactly what
    staging the flattened rows themselves gives, on SQLite and PostgreSQL."""
    spec = k.SPECS[entity]
    rows = _simulated_rows(entity)
    assert any(v is None for row in rows for v in row) and len(rows) > 100
    bad = {2: ["x"], len(rows): ["y"]}
    columns = (*k._staging_columns(spec), "lolos")
    with engine.begin() as conn:
        first = start_batch(conn, k.SOURCE, entity, "32.71", "p", "t")
        second = start_batch(conn, k.SOURCE, entity, "32.71", "p", "t")
        insert_rows(conn, spec.staging, columns, ((first, "32.71", "p", *row, row[0] not in bad) for row in rows))
        frame = k._frame(rows, ["row_id", *spec.columns])
        insert_rows(conn, spec.staging, columns,
                    k._staged_rows(frame, spec, (second, "32.71", "p"), bad, conn.dialect.name))
    t = spec.staging
    kept = [c for c in t.c if c.name != "batch_id"]
    with engine.connect() as conn:
        by_rows, by_frame = (conn.execute(sa.select(*kept).where(t.c.batch_id == b).order_by(t.c.row_id)).all()
                             for b in (first, second))
    assert len(by_rows) == len(rows)
    assert by_frame == by_rows
