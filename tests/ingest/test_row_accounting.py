"""Every batch accounts for its rows when it is published (received = published + quarantined +
merged duplicates + unchanged), stored in etl_batch; a row lost on the way stops the batch. And a FHIR
search's Bundle.total is held both ways. On SQLite and PostgreSQL."""

import pytest
import sqlalchemy as sa

from spm.errors import RowAccountingError
from spm.ingest import kesehatan as k
from spm.ingest.kependudukan import ingest_inbox
from spm.sources.http import SourceError
from spm.sources.satusehat import Page
from spm.warehouse.audit import RowAccount
from spm.warehouse.tables import etl_batch, fact_pasien, fact_penduduk
from tests.warehouses import with_wilayah

from tests.ingest.test_kependudukan_inbox import _drop, _total, inbox, penduduk_lines  # noqa: F401 - fixture
from tests.ingest.test_kesehatan_ingest import SECRET, FakeHub, _window
from tests.ingest.test_kesehatan_unit import BLOOD_PRESSURE, CONDITION, ENCOUNTER, PATIENT

WINDOW = {"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE], "Condition": [CONDITION]}


@pytest.fixture
def wh(engine):

    with_wilayah(engine)
    return engine


def _batches(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(etl_batch).order_by(etl_batch.c.batch_id)).all()


def _adds_up(b) -> bool:
    return b.rows_received == b.rows_published + b.rows_quarantined + b.rows_duplicate + b.rows_unchanged


def test_an_account_that_adds_up_has_no_problem_and_one_that_does_not_names_every_count():
    assert RowAccount(10, 7, 2, 1).problem() is None
    assert RowAccount(10, 5, 2, 1, unchanged=2).problem() is None
    problem = RowAccount(10, 6, 2, 1).problem()
    assert "10 received" in problem and "6 published + 2 quarantined + 1 merged duplicates" in problem
    assert "= 9" in problem and "nothing published" in problem


def test_population_rows_add_up_and_a_row_lost_in_the_publish_stops_the_batch(wh, inbox, monkeypatch):
    lines = penduduk_lines()
    lines.append("2024-2,32.71.09.9999,L,5,3")  # quarantined: desa not in Kota Bogor
    _drop(inbox, "a.csv", lines)
    [good] = ingest_inbox(wh, inbox, "run-1")
    assert good["status"] == "published"
    [b] = _batches(wh)
    assert (b.rows_received, b.rows_published, b.rows_quarantined) == (607, 606, 1) and _adds_up(b)
    before = _total(wh)

    import spm.ingest.wap as wap

    real = wap.run_sql_file

    def loses_a_row(conn, relative, params):  # a publish that drops one row on the way
        counts = real(conn, relative, params)
        conn.execute(sa.delete(fact_penduduk).where(fact_penduduk.c.kode_desa == "32.71.01.1001",
                                                    fact_penduduk.c.umur == 0, fact_penduduk.c.jenis_kelamin == "L"))
        return counts

    monkeypatch.setattr(wap, "run_sql_file", loses_a_row)
    _drop(inbox, "b.csv", penduduk_lines(jumlah=lambda d, jk, u: 12))
    [refused] = ingest_inbox(wh, inbox, "run-2")
    assert refused["status"] == "rejected"
    assert "RowAccountingError" in refused["message"] and "606 received, but 605 published" in refused["message"]
    assert _total(wh) == before  # the previous semester's figures stay, whole
    last = _batches(wh)[-1]
    assert last.status == "failed" and "rows do not add up" in last.message
    assert (inbox / "rejected" / "b.csv.errors.txt").exists()


def test_health_rows_add_up_with_rows_already_published_counted_as_unchanged(wh):
    k.ingest(wh, _window(), "r1", FakeHub(WINDOW, announce=True), SECRET)
    again = k.ingest(wh, _window(), "r2", FakeHub(WINDOW, announce=True), SECRET)
    assert {e: b["rows_unchanged"] for e, b in again["batches"].items()} == dict.fromkeys(k.SPECS, 1)
    batches = _batches(wh)
    assert len(batches) == 8 and all(b.status == "published" and _adds_up(b) for b in batches)
    assert [b.rows_unchanged for b in batches] == [0] * 4 + [1] * 4
    assert all("1 already published as they are" in b.message for b in batches[4:])


def test_a_staged_health_row_that_vanished_before_the_merge_stops_the_whole_window(wh):
    extracted = k.extract(wh, _window(), "r1", FakeHub(WINDOW), SECRET)
    validated = k.validate_window(wh, extracted)
    spec = k.SPECS["pasien"]
    with wh.begin() as conn:  # a chunk lost between staging and the merge
        conn.execute(sa.delete(spec.staging).where(spec.staging.c.batch_id == validated["batches"]["pasien"]["batch_id"]))
    with pytest.raises(RowAccountingError, match="1 received, but 0 published"):
        k.publish_window(wh, validated)
    batches = _batches(wh)
    assert {b.status for b in batches} == {"failed"} and all("rows do not add up" in b.message for b in batches)
    with wh.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fact_pasien)).scalar_one() == 0


class Overstated(FakeHub):
    """Pages that hold more resources than the search announced."""

    def pages(self, kind, dari, sampai):
        for page in super().pages(kind, dari, sampai):
            yield Page(page.resources, max(len(page.resources) - 1, 0), None, "x")


def test_pages_holding_more_than_bundle_total_leave_the_window_unpublished(wh):
    with pytest.raises(SourceError, match="announced 0 resources but its pages held 1, more than announced"):
        k.extract(wh, _window(), "r1", Overstated(WINDOW), SECRET)
    assert {b.status for b in _batches(wh)} == {"failed"}
    with wh.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fact_pasien)).scalar_one() == 0


def test_an_overlong_desa_code_is_quarantined_whole_and_the_rest_loads(wh, inbox):
    """Staged as TEXT on both warehouses: PostgreSQL refused the whole file at the bulk load before."""
    long_code = "32.71.01.1001" + "9" * 40
    _drop(inbox, "a.csv", penduduk_lines() + [f"2024-2,{long_code},L,5,3"])
    [result] = ingest_inbox(wh, inbox, "run-1")
    assert result["status"] == "published" and result["rows_quarantined"] == 1
    from spm.warehouse.tables import quarantine

    with wh.connect() as conn:
        q = conn.execute(sa.select(quarantine)).one()
    assert q.failed_expectations == "kode_desa_dikenal_di_kab_kota" and q.row_data["kode_desa"] == long_code
