import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from spm.warehouse.db import current_revision, get_engine, head_revision, require_current_schema, upgrade
from spm.warehouse.migrations_meta import VERSION_TABLE
from spm.warehouse import tables_marts  # noqa: F401 - mart tables share the metadata
from spm.warehouse import tables_opd  # noqa: F401 - OPD input and index tables share the metadata
from spm.warehouse import tables_peringatan  # noqa: F401 - alert state tables share the metadata
from spm.warehouse import tables_dq  # noqa: F401 - GX validation results share the metadata
from spm.warehouse.tables import metadata

EXPECTED_TABLES = {"dim_wilayah", "staging_wilayah", "dim_periode", "dim_layanan", "etl_batch", "dq_result",
                   "quarantine", "dq_validation_result"}


def test_upgrade_from_empty_creates_schema_matching_the_code(warehouse_url):
    engine = get_engine(warehouse_url)
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    names = set(sa.inspect(engine).get_table_names())
    assert EXPECTED_TABLES <= names
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        diffs = [d for d in compare_metadata(ctx, metadata) if not _ignorable(d)]
    assert diffs == []
    engine.dispose()


def _ignorable(diff) -> bool:
    # The version table is Alembic's own, not part of the model.
    return isinstance(diff, tuple) and diff[0] == "remove_table" and diff[1].name == VERSION_TABLE


def test_upgrade_twice_is_a_no_op(engine):
    before = current_revision(engine)
    assert upgrade(engine) == before
    require_current_schema(engine)


def test_dim_periode_covers_months_semesters_quarters(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT periode_id, semester, triwulan, bulan, tanggal_mulai, tanggal_akhir FROM dim_periode "
            "WHERE tahun = 2024 ORDER BY bulan")).all()
    assert len(rows) == 12
    assert [r.triwulan for r in rows] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert [r.semester for r in rows] == [1] * 6 + [2] * 6
    feb = rows[1]
    assert feb.periode_id == 202402 and str(feb.tanggal_akhir) == "2024-02-29"


def test_schema_behind_is_refused_with_the_fix(sqlite_url):
    import pytest

    from spm.errors import WarehouseError

    engine = get_engine(sqlite_url)
    with pytest.raises(WarehouseError, match="spm db upgrade"):
        require_current_schema(engine)


def test_the_health_suites_stored_results_follow_their_new_names(warehouse_url):
    from alembic import command

    from spm.warehouse.audit import now, start_batch
    from spm.warehouse.db import _alembic_config
    from spm.warehouse.tables import dq_result

    engine = get_engine(warehouse_url)
    upgrade(engine, "0014_dukcapil_staging_text")
    with engine.begin() as conn:
        batch_id = start_batch(conn, "satusehat", "pasien", "32.71", "2024-01-01/2024-02-01", "r1")
        conn.execute(dq_result.insert(), [
            {"batch_id": batch_id, "suite": suite, "expectation": "e", "severity": "critical", "success": True,
             "element_count": 1, "unexpected_count": 0, "checked_at": now()}
            for suite in ("fhir_patient", "fhir_condition", "dukcapil_penduduk")])

    def suites():
        with engine.connect() as conn:
            return sorted(conn.execute(sa.select(dq_result.c.suite)).scalars())

    upgrade(engine)
    assert suites() == ["dukcapil_penduduk", "satusehat_kondisi", "satusehat_pasien"]
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0014_dukcapil_staging_text")
    assert suites() == ["dukcapil_penduduk", "fhir_condition", "fhir_patient"]
    engine.dispose()


def test_opd_batches_and_their_alerts_move_to_the_bidang_as_entity(warehouse_url):
    from alembic import command

    from spm.warehouse.audit import now, start_batch
    from spm.warehouse.db import _alembic_config
    from spm.warehouse.tables import etl_batch, inbox_file
    from spm.warehouse.tables_peringatan import peringatan, peringatan_kirim

    engine = get_engine(warehouse_url)
    upgrade(engine, "0015_satusehat_suites")
    t = now()
    kritis = "kritis:opd:input_opd_kesehatan:32.71:2025-T2"
    ditolak = "berkas_ditolak:opd:0123456789abcdef01234567"
    with engine.begin() as conn:
        start_batch(conn, "opd", "input_opd_kesehatan", "32.71", "2025-T2", "r1")
        start_batch(conn, "dapodik", "sekolah", "32.71", "20251", "r1")
        conn.execute(inbox_file.insert().values(content_hash="h" * 64, source="opd", file_name="k.xlsx",
                                                entity="input_opd_kesehatan", status="published", processed_at=t))
        conn.execute(peringatan.insert(), [
            {"fingerprint": fp, "jenis": fp.split(":")[0], "pemilik": "dinkes", "source": "opd",
             "entity": "input_opd_kesehatan", "status": "open", "isi_hash": "x", "ringkasan": "r",
             "first_seen": t, "last_seen": t} for fp in (kritis, ditolak)])
        conn.execute(peringatan_kirim.insert(), [
            {"dikirim_at": t, "pemilik": "dinkes", "saluran": "email", "referensi": "spm_smtp", "jenis_pesan": "baru",
             "fingerprint": fp, "judul": "j", "berhasil": True} for fp in (kritis, ditolak)])

    def state():
        with engine.connect() as conn:
            return (sorted(conn.execute(sa.select(etl_batch.c.entity)).scalars()),
                    conn.execute(sa.select(inbox_file.c.entity)).scalar_one(),
                    sorted(conn.execute(sa.select(peringatan.c.fingerprint, peringatan.c.entity)).all()),
                    sorted(conn.execute(sa.select(peringatan_kirim.c.fingerprint)).scalars()))

    before = state()
    upgrade(engine)
    assert state() == (["kesehatan", "sekolah"], "kesehatan",
                       [(ditolak, "kesehatan"), ("kritis:opd:kesehatan:32.71:2025-T2", "kesehatan")],
                       [ditolak, "kritis:opd:kesehatan:32.71:2025-T2"])
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0015_satusehat_suites")
    assert state() == before
    engine.dispose()


def test_health_staging_is_unlogged_on_postgresql_without_its_partition_index_and_back(warehouse_url):
    from alembic import command

    from spm.warehouse.db import _alembic_config

    engine = get_engine(warehouse_url)
    tables = ("staging_pasien", "staging_kunjungan", "staging_observasi", "staging_kondisi")
    postgresql = engine.dialect.name == "postgresql"

    def state():
        inspector = sa.inspect(engine)
        indexes = {t: {i["name"] for i in inspector.get_indexes(t)} for t in tables}
        persistence = None
        if postgresql:
            with engine.connect() as conn:
                persistence = dict(conn.execute(sa.text(
                    "SELECT relname, relpersistence FROM pg_class WHERE relname = ANY(:t)"), {"t": list(tables)}).all())
        return {t: f"ix_{t}_partition" in indexes[t] for t in tables}, persistence

    upgrade(engine)
    partition, persistence = state()
    assert not any(partition.values())
    assert persistence == ({t: "u" for t in tables} if postgresql else None)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0023_fhir_fact_no_fk")
    partition, persistence = state()
    assert all(partition.values())
    assert persistence == ({t: "p" for t in tables} if postgresql else None)
    engine.dispose()


def test_health_staging_finds_an_id_in_a_batch_by_an_index_leading_with_the_id_and_back(warehouse_url):
    from alembic import command

    from spm.warehouse.db import _alembic_config

    engine = get_engine(warehouse_url)
    id_columns = {"staging_pasien": "pasien_id", "staging_kunjungan": "kunjungan_id",
                  "staging_observasi": "observasi_id", "staging_kondisi": "kondisi_id"}

    def indexes():
        inspector = sa.inspect(engine)
        return {t: {i["name"]: i["column_names"] for i in inspector.get_indexes(t)} for t in id_columns}

    upgrade(engine)
    for table, found in indexes().items():
        assert found == {f"ix_{table}_batch_row": ["batch_id", "row_id"],
                         f"ix_{table}_id_batch": [id_columns[table], "batch_id"]}
    if engine.dialect.name == "sqlite":
        # A whole batch is read in the order it was staged, not in the order of its random ids.
        with engine.connect() as conn:
            for table in id_columns:
                plan = " ".join(r[-1] for r in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN SELECT count(*) FROM {table} WHERE batch_id = 7 AND lolos IS 1"))
                assert f"USING INDEX ix_{table}_batch_row" in plan, plan
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0024_fhir_staging_unlogged")
    for table, found in indexes().items():
        assert found == {f"ix_{table}_batch_row": ["batch_id", "row_id"],
                         f"ix_{table}_batch_id": ["batch_id", id_columns[table]]}
    engine.dispose()
