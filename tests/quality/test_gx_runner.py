"""spm.quality.gx_runner on a small frame: every failing row named, severities kept apart, the summary."""

import pandas as pd
import pytest

from spm.quality.gx_runner import summary, validate_frame

SUITE = {"name": "uji_runner", "meta": {}, "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "kode_desa"},
     "meta": {"name": "desa_ada", "severity": "critical"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "umur", "min_value": 0, "max_value": 120},
     "meta": {"name": "umur_wajar", "severity": "warning"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "jenis_kelamin", "value_set": ["L", "P"]},
     "meta": {"name": "jenis_kelamin_sah", "severity": "warning"}},
]}


@pytest.fixture
def suite(monkeypatch):
    monkeypatch.setattr("spm.quality.gx_runner.load_suite_file", lambda name: SUITE)
    return SUITE["name"]


def test_every_failing_row_is_named_and_critical_failures_are_kept_apart(suite):
    frame = pd.DataFrame({
        "row_id": [11, 12, 13, 14],
        "kode_desa": ["32.71.01.1001", None, "32.71.01.1002", "32.71.01.1003"],
        "umur": [5, 7, 130, -1],
        "jenis_kelamin": ["L", "P", "X", "P"],
    })
    report = validate_frame(suite, frame)
    by = {o.name: o for o in report.outcomes}
    assert by["desa_ada"].success is False and by["desa_ada"].failed_row_ids == (12,)
    assert by["umur_wajar"].failed_row_ids == (13, 14) and by["umur_wajar"].unexpected_count == 2
    assert by["jenis_kelamin_sah"].kolom == "jenis_kelamin" and by["jenis_kelamin_sah"].element_count == 4
    assert [o.name for o in report.critical_failures] == ["desa_ada"]
    # Only warnings quarantine rows; a row failing two warnings is named with both.
    assert report.rows_to_quarantine() == {13: ["umur_wajar", "jenis_kelamin_sah"], 14: ["umur_wajar"]}
    assert report.summary() == ("uji_runner: 0/3 passed; failed: desa_ada (critical, 1), umur_wajar (warning, 2), "
                                "jenis_kelamin_sah (warning, 1)")


def test_a_clean_frame_passes_whole(suite):
    frame = pd.DataFrame({"row_id": [1, 2], "kode_desa": ["32.71.01.1001"] * 2, "umur": [0, 120],
                          "jenis_kelamin": ["L", "P"]})
    report = validate_frame(suite, frame)
    assert all(o.success for o in report.outcomes) and report.rows_to_quarantine() == {}
    assert summary(suite, report.outcomes) == "uji_runner: 3/3 passed"


def test_a_frame_without_row_ids_is_refused_before_validation(suite):
    with pytest.raises(ValueError, match="needs a 'row_id' column"):
        validate_frame(suite, pd.DataFrame({"umur": [1]}))


def test_the_batch_is_not_hashed(suite, monkeypatch):
    """GX's batch fingerprint (a hash of the whole frame nothing reads) is skipped: a fifth of a chunk's time."""
    from great_expectations.execution_engine import pandas_execution_engine

    def refuse(df):
        raise AssertionError("the frame was hashed")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", refuse)
    frame = pd.DataFrame({"row_id": [1], "kode_desa": ["32.71.01.1001"], "umur": [3], "jenis_kelamin": ["L"]})
    assert all(o.success for o in validate_frame(suite, frame).outcomes)


def test_a_definition_outlives_other_suites_and_a_runner_outlives_its_own_being_made_again(monkeypatch):
    """A batch keeps one validation definition over its chunks. Another suite's definition made
    meanwhile leaves it usable (the data source is shared, never replaced); the same suite's made
    again makes GX refuse the older one as stale, and the runner makes its own again."""
    from spm.quality import gx_runner

    other = {**SUITE, "name": "uji_runner_lain"}
    monkeypatch.setattr(gx_runner, "load_suite_file", lambda name: other if name == other["name"] else SUITE)
    frame = pd.DataFrame({"row_id": [1, 2], "kode_desa": ["32.71.01.1001", None], "umur": [3, 4],
                          "jenis_kelamin": ["L", "P"]})
    first = gx_runner.validation_definition(SUITE["name"])
    gx_runner.validation_definition(other["name"])
    report = validate_frame(SUITE["name"], frame, definition=first)
    assert [o.name for o in report.critical_failures] == ["desa_ada"]

    runner = gx_runner.SuiteRunner(SUITE["name"])
    assert runner.validate(frame).critical_failures[0].failed_row_ids == (2,)
    gx_runner.validation_definition(SUITE["name"])  # e.g. another batch of the type in this process
    assert runner.validate(frame).critical_failures[0].failed_row_ids == (2,)
