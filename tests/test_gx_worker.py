"""GX validation in the worker process gives the report validation in process gives."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from spm.ingest import kesehatan as k
from spm.quality.gx_worker import FrameValidator


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


def test_worker_report_equals_in_process_report():
    w = k.Window.of(k.windows(["32.71"], "2025-03-01", "2025-04-01")[0])
    parameters = k.validation_parameters("kondisi", w)
    frame = _condition_frame()
    inline = FrameValidator()
    here = inline.result(inline.submit(k.KONDISI.suite, frame, parameters))
    assert not inline.in_worker
    worker = FrameValidator()
    worker.use_worker()
    try:
        assert worker.in_worker
        jobs = [worker.submit(k.KONDISI.suite, frame, parameters) for _ in range(2)]
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


def test_worker_error_reaches_the_caller():
    worker = FrameValidator()
    worker.use_worker()
    try:
        frame = _condition_frame().drop(columns=["row_id"])
        with pytest.raises(ValueError, match="needs a 'row_id' column"):
            worker.result(worker.submit(k.KONDISI.suite, frame, {}))
    finally:
        worker.close()
