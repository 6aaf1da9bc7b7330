"""The `spm bench` commands run end to end at a tiny scale and print every figure they promise
(docs/benchmarks.md); the figures themselves are never asserted (timings are not tests)."""

import pytest


def test_bulk_load_compares_the_helper_with_to_sql_on_the_same_rows(capsys, tmp_path, monkeypatch):
    from spm.benchmarks.bulk_load import run

    # SQLite only: on PostgreSQL the command's exit status is its speed goal, and timings are not tests.
    monkeypatch.delenv("SPM_TEST_POSTGRES_URL", raising=False)
    assert run(rows=2_000, sqlite_url=f"sqlite:///{tmp_path / 'bench.db'}") == 0
    out = capsys.readouterr().out
    assert "2000 rows x 8 columns" in out and "sqlite" in out and "to_sql" in out and "ratio" in out


@pytest.mark.slow
def test_pendidikan_runs_end_to_end_at_a_small_scale(capsys):
    from spm.benchmarks.pendidikan import run

    assert run(scale=0.002, paralel=2, page_size=100) == 0
    out = capsys.readouterr().out
    assert "learners/s" in out and "bulk ceiling" in out and "peak memory" in out


@pytest.mark.slow
def test_kesehatan_runs_and_reports_every_figure(capsys):
    from spm.benchmarks.kesehatan import run

    assert run(scale=0.002, page_size=200, paralel=2, hub_latency_ms=1) == 0
    out = capsys.readouterr().out
    assert "each page 1 ms late" in out and "2 search(es) per type at once" in out
    for figure in ("end to end", "source only", "limit", "FHIR-PYrate", "ratios", "peak memory", "CPU"):
        assert f"  {figure}" in out, figure
    assert "hub" in out.split("  CPU")[1]
    assert "the fastest of 3 runs" in out.split("  limit")[1].splitlines()[0]


@pytest.mark.postgres
def test_a_postgresql_benchmark_loads_into_an_empty_scratch_database_dropped_after():
    # A benchmark on the warehouse itself measured merges into tables an earlier run had filled.
    import sqlalchemy as sa

    from spm.benchmarks.harness import scratch_warehouse
    from spm.warehouse.db import get_engine
    from spm.warehouse.tables import etl_batch
    from tests.conftest import postgres_admin_url

    admin = postgres_admin_url()
    with scratch_warehouse(admin) as (engine, where):
        name = engine.url.database
        assert name.startswith("spm_bench_") and "scratch database" in where
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(etl_batch)).scalar_one() == 0
    server = get_engine(admin)
    try:
        with server.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}).scalar_one() == 0
    finally:
        server.dispose()


def test_a_sqlite_benchmark_refuses_a_given_file(tmp_path):
    from spm.benchmarks.harness import scratch_warehouse

    with pytest.raises(ValueError, match="fresh temporary file"):
        with scratch_warehouse(f"sqlite:///{tmp_path / 'mine.db'}"):
            pass
