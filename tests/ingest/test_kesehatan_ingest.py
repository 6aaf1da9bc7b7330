"""Health ingest into the warehouse (SQLite and PostgreSQL): upserts by resource id and version,
references and quarantine, all-or-nothing windows, and a load equal to the simulator's records."""

import copy
import logging
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import sqlalchemy as sa

from spm.ingest import kesehatan as k
from spm.simulator import Faults, SimulatorConfig, SimulatorServers
from spm.simulator.determinism import stream_key, uuid_text
from spm.simulator.expected import expected_resource_count
from spm.sources.connections import SourceConnection
from spm.errors import InputError
from spm.sources.http import SourceUnavailable
from spm.sources.satusehat import Page, SatusehatClient
from spm.warehouse.tables import (
    dq_result, etl_batch, fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien, quarantine, rujukan_pasien_tertunda,
)

from tests.warehouses import with_wilayah
from tests.ingest.test_kesehatan_unit import BLOOD_PRESSURE, CONDITION, ENCOUNTER, NIK, PATIENT

SECRET = b"ingest-test-secret-0123456789"
KODE = "32.71"
FACTS = {"Patient": fact_pasien, "Encounter": fact_kunjungan, "Observation": fact_observasi, "Condition": fact_kondisi}


class FakeHub:
    """A client serving fixed resources per type (one page each)."""

    def __init__(self, resources: dict[str, list[dict]], announce: bool = False):
        self.resources = resources
        self.announce = announce  # give Bundle.total, as a real hub does
        self.conn = SourceConnection("spm_satusehat", "http://fake")

    def pages(self, kind, dari, sampai):
        items = copy.deepcopy(self.resources.get(kind, []))
        yield Page(items, len(items) if self.announce else None, None, "x")


class Parted(FakeHub):
    """A hub searched in `paralel` parts at once: each search answers the resources of its own
    `_lastUpdated` range, three a page, with its own Bundle.total (None for the `silent` parts)."""

    def __init__(self, resources, paralel, silent=()):
        super().__init__(resources, announce=True)
        self.paralel, self.silent, self.searches = paralel, set(silent), []

    def pages(self, kind, dari, sampai):
        self.searches.append((kind, dari, sampai))
        items = [copy.deepcopy(r) for r in self.resources.get(kind, [])
                 if dari <= datetime.fromisoformat(r["meta"]["lastUpdated"]) < sampai]
        total = None if (kind, dari) in self.silent else len(items)
        for i in range(0, max(len(items), 1), 3):
            yield Page(items[i:i + 3], total, None, f"{kind}{dari}{i}")


class Paged(FakeHub):
    """Five resources a page (a chunk is made of whole pages)."""

    def pages(self, kind, dari, sampai):
        items = copy.deepcopy(self.resources.get(kind, []))
        for i in range(0, len(items), 5):
            yield Page(items[i:i + 5], None, None, "x")


def _window(dari="2025-03-01", sampai="2025-04-01"):
    return k.windows([KODE], dari, sampai)[0]


def _version(resource, last_updated, **changes):
    return {**copy.deepcopy(resource), "meta": {"lastUpdated": last_updated}, **changes}


@pytest.fixture
def wh(engine):
    with_wilayah(engine)
    return engine


def _rows(engine, table):
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.select(table).with_only_columns(
            *(c for c in table.c if c.name != "batch_id")))}


def test_newer_version_replaces_older_or_equal_changes_nothing(wh):
    first = {"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE], "Condition": [CONDITION]}
    out = k.ingest(wh, _window(), "r1", FakeHub(first), SECRET)
    assert {e: b["rows_published"] for e, b in out["batches"].items()} == dict.fromkeys(k.SPECS, 1)

    # The same window again: nothing changes, nothing counts as published.
    snapshot = {t: _rows(wh, t) for t in FACTS.values()}
    again = k.ingest(wh, _window(), "r2", FakeHub(first), SECRET)
    assert all(b["rows_published"] == 0 for b in again["batches"].values())
    assert {t: _rows(wh, t) for t in FACTS.values()} == snapshot

    # A newer Condition (resolved) replaces the row; an older Encounter (re-coded) changes nothing.
    newer = _version(CONDITION, "2025-03-20T00:00:00+00:00",
                     clinicalStatus={"coding": [{"code": "resolved"}]})
    older = _version(ENCOUNTER, "2025-03-01T00:00:00+00:00",
                     reasonCode=[{"coding": [{"system": k.ICD10_SYSTEM, "code": "Z36"}]}])
    out = k.ingest(wh, _window(), "r3", FakeHub({"Condition": [newer], "Encounter": [older]}), SECRET)
    assert (out["batches"]["kondisi"]["rows_published"], out["batches"]["kunjungan"]["rows_published"]) == (1, 0)
    with wh.connect() as conn:
        cond = conn.execute(sa.select(fact_kondisi)).one()
        enc = conn.execute(sa.select(fact_kunjungan)).one()
    assert cond.status_klinis == "resolved" and cond.batch_id == out["batches"]["kondisi"]["batch_id"]
    assert enc.kode_alasan == "Z34.0"
    assert _rows(wh, fact_kondisi) != snapshot[fact_kondisi] and len(_rows(wh, fact_kondisi)) == 1


def test_two_versions_in_one_batch_keep_the_newest(wh):
    v1 = _version(BLOOD_PRESSURE, "2025-03-04T11:00:00+00:00")
    v2 = _version(BLOOD_PRESSURE, "2025-03-06T11:00:00+00:00", status="amended")
    out = k.ingest(wh, _window(), "r1", FakeHub({"Patient": [PATIENT], "Observation": [v2, v1]}), SECRET)
    assert out["batches"]["observasi"]["rows_duplicate"] == 1
    with wh.connect() as conn:
        assert conn.execute(sa.select(fact_observasi.c.status)).scalars().all() == ["amended"]


def test_bad_values_are_quarantined_without_personal_data_and_a_late_patient_is_kept(wh):
    stranger = {**copy.deepcopy(ENCOUNTER), "id": "enc-2", "subject": {"reference": "Patient/P99999999999"}}
    heavy = {**copy.deepcopy(BLOOD_PRESSURE), "id": "obs-2", "component": None,
             "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
             "valueQuantity": {"value": 1200, "code": "kg"}}  # grams typed as kilograms
    snomed = {**copy.deepcopy(CONDITION), "id": "cond-2",
              "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}}
    late = _version(PATIENT, "2025-05-01T00:00:00+00:00", id="P2")  # lastUpdated outside the window
    many = [{**copy.deepcopy(BLOOD_PRESSURE), "id": f"obs-ok-{i}"} for i in range(40)]
    lates = [_version(PATIENT, "2025-05-01T00:00:00+00:00", id=f"P2-{i}") for i in range(12)]
    hub = FakeHub({"Patient": [PATIENT, *lates], "Encounter": [ENCOUNTER] + [
        {**copy.deepcopy(ENCOUNTER), "id": f"enc-ok-{i}"} for i in range(40)] + [stranger],
        "Observation": many + [heavy], "Condition": [CONDITION] + [
        {**copy.deepcopy(CONDITION), "id": f"cond-ok-{i}"} for i in range(40)] + [snomed]})
    window = _window()
    with pytest.raises(Exception, match=r"window not published: pasien batch rejected: 12 of 13 .*\(92.3 %\).*above "
                                        r"the 5.0 % limit in kualitas.yaml \(applied above 10 rows\)"):
        k.ingest(wh, window, "r1", hub, SECRET)  # 12 of 13 patients quarantined: above the 5 % limit
    hub.resources["Patient"] = [PATIENT] + [_version(PATIENT, "2025-03-04T05:06:07+00:00", id=f"P-{i}")
                                            for i in range(30)] + [late]
    out = k.ingest(wh, window, "r2", hub, SECRET)
    assert {e: b["rows_quarantined"] for e, b in out["batches"].items()} == {
        "pasien": 1, "kunjungan": 0, "observasi": 1, "kondisi": 1}
    with wh.connect() as conn:
        q = conn.execute(sa.select(quarantine).join(etl_batch, etl_batch.c.batch_id == quarantine.c.batch_id)
                         .where(etl_batch.c.run_id == "r2")).all()
        published = conn.execute(sa.select(fact_kunjungan.c.kunjungan_id)).scalars().all()
        waiting = conn.execute(sa.select(rujukan_pasien_tertunda.c.resource_id, rujukan_pasien_tertunda.c.pasien_id)
                               ).all()
        reported = conn.execute(sa.select(dq_result.c.unexpected_count, dq_result.c.success).where(
            dq_result.c.expectation == "rujukan_pasien_tertunda",
            dq_result.c.batch_id == out["batches"]["kunjungan"]["batch_id"])).all()
    reasons = {r.natural_key: set(r.failed_expectations.split(",")) for r in q}
    assert reasons == {"P2": {"last_updated_dalam_jendela"},
                       "obs-2": {"nilai_berat_badan_fisiologis"}, "cond-2": {"kode_sistem_icd10", "kode_icd10"}}
    # A patient not loaded (yet) is no error of the encounter: it is published and waits for them.
    assert "enc-2" in published and len(published) == 42
    assert waiting == [("enc-2", "P99999999999")] and reported == [(1, True)]
    assert out["batches"]["kunjungan"]["rujukan_tertunda"]["tertunda"] == 1
    dumped = orjson.dumps([r.row_data for r in q]).decode()
    assert NIK not in dumped and "Siti" not in dumped


def test_a_type_that_cannot_be_fetched_leaves_the_whole_window_unpublished(wh):
    class Broken(FakeHub):
        def pages(self, kind, dari, sampai):
            if kind == "Observation":
                raise SourceUnavailable("spm_satusehat: http://fake failed 5 times (HTTP 503); giving up")
            yield from super().pages(kind, dari, sampai)

    hub = Broken({"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Condition": [CONDITION]})
    with pytest.raises(SourceUnavailable):
        k.extract(wh, _window(), "r1", hub, SECRET)
    with wh.connect() as conn:
        batches = conn.execute(sa.select(etl_batch)).all()
        assert all(conn.execute(sa.select(sa.func.count()).select_from(s.staging)).scalar_one() == 0
                   for s in k.SPECS.values())
    assert len(batches) == 4 and {b.status for b in batches} == {"failed"}
    assert all("Observation could not be fetched completely" in b.message for b in batches)
    assert all(not _rows(wh, t) for t in FACTS.values())


def _merged_in_order(monkeypatch) -> list[str]:
    """The types merged, in order (on PostgreSQL while later types stream, in the open transaction)."""
    from spm.ingest import kesehatan_publish

    merged, real = [], kesehatan_publish.merge_type

    def merge_type(conn, w, entity, r):
        out = real(conn, w, entity, r)
        merged.append(entity)
        return out

    monkeypatch.setattr(kesehatan_publish, "merge_type", merge_type)
    return merged


def _once_merged(engine, merged: list[str], n: int) -> None:
    """On PostgreSQL, wait until the publishing thread has merged `n` types (an abort skips the
    merges still queued: the test wants some done, to see them rolled back)."""
    import time

    deadline = time.monotonic() + 30
    while engine.dialect.name == "postgresql" and len(merged) < n and time.monotonic() < deadline:
        time.sleep(0.01)


def _nothing_published(engine, message: str) -> None:
    with engine.connect() as conn:
        batches = conn.execute(sa.select(etl_batch)).all()
        assert all(conn.execute(sa.select(sa.func.count()).select_from(s.staging)).scalar_one() == 0
                   for s in k.SPECS.values())
    assert len(batches) == 4 and {b.status for b in batches} <= {"failed", "rejected"}, batches
    assert all(message in b.message for b in batches if b.status == "failed")
    assert all(not _rows(engine, t) for t in FACTS.values())


def test_a_later_type_refused_rolls_back_the_types_merged_before_it(wh, monkeypatch):
    """Each type is merged as soon as it is judged (PostgreSQL: while the next streams, in the
    window's open transaction): a refused later type still leaves nothing of the window published."""
    merged = _merged_in_order(monkeypatch)
    snomed = [{**copy.deepcopy(CONDITION), "id": f"cond-{i}",
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}} for i in range(12)]
    hub = FakeHub({"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE],
                   "Condition": [CONDITION, *snomed]})
    real_judge = k.judge

    def judge(engine, w, entity, staged):
        if entity == "kondisi":
            _once_merged(engine, merged, 3)
        return real_judge(engine, w, entity, staged)

    monkeypatch.setattr(k, "judge", judge)
    with pytest.raises(InputError, match=r"window not published: kondisi batch rejected: 12 of 13"):
        k.ingest(wh, _window(), "r1", hub, SECRET)  # conditions stream last
    assert merged == (["observasi", "pasien", "kunjungan"] if wh.dialect.name == "postgresql" else [])
    _nothing_published(wh, "window not published: kondisi batch rejected")


def test_a_later_type_that_cannot_be_fetched_rolls_back_the_merged_types(wh, monkeypatch):
    class Broken(FakeHub):
        def pages(self, kind, dari, sampai):
            if kind == "Condition":
                _once_merged(wh, merged, 3)
                raise SourceUnavailable("spm_satusehat: http://fake failed 5 times (HTTP 503); giving up")
            yield from super().pages(kind, dari, sampai)

    merged = _merged_in_order(monkeypatch)
    hub = Broken({"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE]})
    with pytest.raises(SourceUnavailable):
        k.ingest(wh, _window(), "r1", hub, SECRET)
    assert len(merged) == (3 if wh.dialect.name == "postgresql" else 0)
    _nothing_published(wh, "Condition could not be fetched completely, window not published (staged before: "
                           "Observation 1, Patient 1, Encounter 1)")


def test_rows_that_do_not_add_up_in_a_merge_stop_the_window_and_keep_staging_for_the_audit(wh, monkeypatch):
    from spm.errors import RowAccountingError
    from spm.ingest import kesehatan_publish

    real = kesehatan_publish.close_published

    def close_published(conn, batch_id, published, message, **kw):
        if batch_id == 2:  # the encounters' batch, merged after the observations and patients
            raise RowAccountingError("batch 2: 1 received, but 0 published")
        return real(conn, batch_id, published, message, **kw)

    monkeypatch.setattr(kesehatan_publish, "close_published", close_published)
    hub = FakeHub({"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE],
                   "Condition": [CONDITION]})
    with pytest.raises(RowAccountingError, match="1 received, but 0 published"):
        k.ingest(wh, _window(), "r1", hub, SECRET)
    with wh.connect() as conn:
        batches = conn.execute(sa.select(etl_batch).order_by(etl_batch.c.batch_id)).all()
        staged = conn.execute(sa.select(sa.func.count()).select_from(k.PASIEN.staging)).scalar_one()
    assert [b.entity for b in batches][1] == "kunjungan"
    assert {b.status for b in batches} == {"failed"} and all("1 received, but 0 published" in b.message for b in batches)
    assert staged == 1 and all(not _rows(wh, t) for t in FACTS.values())


def test_backfill_sized_merges_rebuild_the_indexes_and_publish_the_same_rows(wh, monkeypatch):
    """On SQLite a merge as large as its table runs without the table's secondary indexes, made again
    after it in the same transaction: the window publishes what it would have, and the indexes are
    there after a commit and after a rollback."""
    from spm.errors import RowAccountingError
    from spm.ingest import kesehatan_publish
    from spm.warehouse import db

    monkeypatch.setattr(db, "SQLITE_REBUILD_MIN_ROWS", 1)
    sqlite = wh.dialect.name == "sqlite"
    made = {t.name: sorted(i["name"] for i in sa.inspect(wh).get_indexes(t.name)) for t in FACTS.values()}
    statements: list[str] = []
    sa.event.listen(wh, "before_cursor_execute", lambda conn, cur, stmt, *args: statements.append(stmt))

    first = {"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE], "Condition": [CONDITION]}
    out = k.ingest(wh, _window(), "r1", FakeHub(first), SECRET)
    assert {e: b["rows_published"] for e, b in out["batches"].items()} == dict.fromkeys(k.SPECS, 1)
    dropped = sorted(s.split()[2] for s in statements if s.strip().startswith("DROP INDEX"))
    assert dropped == (sorted(i for names in made.values() for i in names) if sqlite else [])
    # A newer version replaces the published row; the kab/kota is loaded, so the indexes stay.
    statements.clear()
    newer = _version(CONDITION, "2025-03-20T00:00:00+00:00", clinicalStatus={"coding": [{"code": "resolved"}]})
    out = k.ingest(wh, _window(), "r2", FakeHub({"Condition": [newer]}), SECRET)
    assert out["batches"]["kondisi"]["rows_published"] == 1
    assert not [s for s in statements if s.strip().startswith("DROP INDEX")]
    with wh.connect() as conn:
        assert conn.execute(sa.select(fact_kondisi.c.status_klinis)).scalars().all() == ["resolved"]
        # Found through the rebuilt index on the patient, as the late-reference queries find it.
        assert conn.execute(sa.select(fact_observasi.c.observasi_id).where(
            fact_observasi.c.kode_kab_kota == KODE, fact_observasi.c.pasien_id == PATIENT["id"])).scalars().all() \
            == [BLOOD_PRESSURE["id"]]
        if sqlite:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    # Another kab/kota's first window, failing after its rebuilds: rolled back, indexes as before.
    real = kesehatan_publish.close_published

    def close_published(conn, batch_id, published, message, **kw):
        if published:  # the patients' merge, after the empty types'
            raise RowAccountingError("1 received, but 0 published")
        return real(conn, batch_id, published, message, **kw)

    monkeypatch.setattr(kesehatan_publish, "close_published", close_published)
    statements.clear()
    other = {"Patient": [_version(PATIENT, "2025-03-02T00:00:00+00:00")]}
    with pytest.raises(RowAccountingError):
        k.ingest(wh, k.windows(["32.72"], "2025-03-01", "2025-04-01")[0], "r3", FakeHub(other), SECRET)
    assert sorted(s.split()[2] for s in statements if s.strip().startswith("DROP INDEX")) == (
        made["fact_pasien"] if sqlite else [])
    assert {t.name: sorted(i["name"] for i in sa.inspect(wh).get_indexes(t.name)) for t in FACTS.values()} == made


def test_a_window_interrupted_after_its_commit_stays_published(wh, monkeypatch):
    """A timeout landing once the publishing transaction committed must not mark the published
    batches failed nor remove their staging."""
    from spm.ingest import kesehatan_publish

    real_commit = kesehatan_publish.WindowPublisher.commit

    def commit_then_timeout(self):
        real_commit(self)
        raise TimeoutError("task timed out")

    monkeypatch.setattr(kesehatan_publish.WindowPublisher, "commit", commit_then_timeout)
    hub = FakeHub({"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE],
                   "Condition": [CONDITION]})
    with pytest.raises(TimeoutError):
        k.ingest(wh, _window(), "r1", hub, SECRET)
    with wh.connect() as conn:
        statuses = set(conn.execute(sa.select(etl_batch.c.status)).scalars())
    assert statuses == {"published"} and all(len(_rows(wh, t)) == 1 for t in FACTS.values())


# --- against the simulator ---------------------------------------------------------------------------

WHOLE = ("2024-01-01", "2027-07-01")  # every record the simulator holds: all references resolve


@pytest.fixture(scope="module")
def sim():
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.001, seed=7)) as servers:
        yield servers


def _client(sim, paralel=4):
    # Four searches at once per type (and the next type's beside them) share one token that dies
    # after five uses: a request refused for a token another thread used up is no refused credential.
    conn = SourceConnection("spm_satusehat", sim.satusehat_url, sim.config.satusehat_client_id,
                            sim.config.satusehat_client_secret, extra={"paralel": paralel})
    return SatusehatClient(conn, page_size=250, backoff_seconds=0.0, sleep=lambda _s: None)


def _expected_ids(world, kind, updates=False):
    h = world.kesehatan
    if kind == "Patient":
        return {h.patients.patient_id(i) for i in range(len(h.patients))}
    key = stream_key(world.config.seed, world.kode, kind)
    return {uuid_text(key, i) for i in range(len(h.all_resources[kind]))}


@pytest.mark.slow
def test_whole_period_equals_the_simulator_then_updates_replace_versions(wh, sim):
    world = sim.world[KODE]
    sim.faults.set(**vars(Faults(token_expiry_after=5, rate_limit_share=0.2, retry_after_seconds=0,
                                 error_share=0.2, truncate_share=0.2)))
    with _client(sim) as c:
        out = k.ingest(wh, _window(*WHOLE), "r1", c, SECRET)
    assert all(b["rows_quarantined"] == 0 for b in out["batches"].values())
    with wh.connect() as conn:
        for kind, table in FACTS.items():
            ids = set(conn.execute(sa.select(table.c[k.SPECS[k.ENTITY_OF[kind]].natural_key[0]])).scalars())
            assert ids == _expected_ids(world, kind), kind
        assert conn.execute(sa.select(sa.func.count()).select_from(fact_observasi).where(
            fact_observasi.c.kode == "85354-9", fact_observasi.c.nilai_sistolik.is_(None))).scalar_one() == 0

    # The hub now serves the second versions: they replace the first, nothing is duplicated.
    sim.faults.set(**vars(Faults(fhir_updates=True)))
    with _client(sim) as c:
        out = k.ingest(wh, _window(*WHOLE), "r2", c, SECRET)
    lo, hi = (datetime.fromisoformat(x).replace(tzinfo=timezone.utc) for x in ("2024-01-01T00:00:00", "2027-07-01"))
    for kind in ("Encounter", "Observation", "Condition"):
        res = world.kesehatan.all_resources[kind]
        assert out["batches"][k.ENTITY_OF[kind]]["rows_published"] == len(res.v2_rows) > 0
        assert len(_rows(wh, FACTS[kind])) == len(res) == expected_resource_count(world, kind, lo, hi, True)
    with wh.connect() as conn:
        key = stream_key(world.config.seed, KODE, "Condition")
        updated = world.kesehatan.conditions.v2_rows[0]
        row = conn.execute(sa.select(fact_kondisi).where(
            fact_kondisi.c.kondisi_id == uuid_text(key, int(updated)))).one()
    assert row.batch_id == out["batches"]["kondisi"]["batch_id"]

    # The first versions served again are older: nothing changes.
    sim.faults.clear()
    snapshot = {t: _rows(wh, t) for t in FACTS.values()}
    with _client(sim) as c:
        out = k.ingest(wh, _window(*WHOLE), "r3", c, SECRET)
    assert all(b["rows_published"] == 0 for b in out["batches"].values())
    assert {t: _rows(wh, t) for t in FACTS.values()} == snapshot


# --- validation while streaming ------------------------------------------------------------------------

def _quarantine_reasons(engine, run_id):
    with engine.connect() as conn:
        q = conn.execute(sa.select(quarantine).join(etl_batch, etl_batch.c.batch_id == quarantine.c.batch_id)
                         .where(etl_batch.c.run_id == run_id)).all()
    return {r.natural_key: set(r.failed_expectations.split(",")) for r in q}


@pytest.mark.parametrize("announce", [False, True], ids=["no-total", "bundle-total"])
def test_small_chunks_give_the_same_verdicts_as_one(wh, monkeypatch, caplog, announce):
    """Chunks validated and staged while streaming (whether or not the hub announces its total), and
    the whole-batch fallback when an id recurs in a later chunk, all give what one validation of the
    staged batch gives."""
    monkeypatch.setenv("SPM_HEALTH_VALIDATE_CHUNK_ROWS", "7")
    caplog.set_level(logging.INFO, logger="spm.ingest")
    stranger = {**copy.deepcopy(ENCOUNTER), "id": "enc-x", "status": "booked"}  # not an Encounter status
    patients = [PATIENT] + [_version(PATIENT, "2025-03-04T05:06:07+00:00", id=f"P-{i}") for i in range(30)]
    encounters = [{**copy.deepcopy(ENCOUNTER), "id": f"enc-{i}", "subject": {"reference": f"Patient/P-{i}"}}
                  for i in range(30)] + [stranger]
    old = _version(BLOOD_PRESSURE, "2025-03-04T11:00:00+00:00", id="obs-dup")
    new = _version(BLOOD_PRESSURE, "2025-03-06T11:00:00+00:00", id="obs-dup", status="amended")
    # The newer version first, the older one several chunks later: the stream must not let it win.
    observations = [new] + [{**copy.deepcopy(BLOOD_PRESSURE), "id": f"obs-{i}"} for i in range(25)] + [old]
    hub = FakeHub({"Patient": patients, "Encounter": encounters, "Observation": observations,
                   "Condition": [CONDITION]}, announce=announce)
    out = k.ingest(wh, _window(), "r1", hub, SECRET)
    assert ("validated in chunks of 7" in caplog.text) is announce
    assert {e: b["rows_quarantined"] for e, b in out["batches"].items()} == {
        "pasien": 0, "kunjungan": 1, "observasi": 0, "kondisi": 0}
    assert out["batches"]["observasi"]["rows_duplicate"] == 1
    assert _quarantine_reasons(wh, "r1") == {"enc-x": {"status_dikenal"}}
    with wh.connect() as conn:
        assert conn.execute(sa.select(fact_observasi.c.status).where(
            fact_observasi.c.observasi_id == "obs-dup")).scalar_one() == "amended"
        assert conn.execute(sa.select(sa.func.count()).select_from(fact_kunjungan)).scalar_one() == 30
        assert conn.execute(sa.select(sa.func.count()).select_from(fact_observasi)).scalar_one() == 26


def test_false_alarms_of_the_seen_ids_filter_leave_the_chunks_verdicts_standing(wh, monkeypatch, caplog):
    """A filter so small it names every id as maybe seen: staging is asked, finds none twice, and the
    stream's own validation stands."""
    from spm.ingest import seen_ids

    monkeypatch.setattr(seen_ids, "BITS", 8)
    monkeypatch.setenv("SPM_HEALTH_VALIDATE_CHUNK_ROWS", "7")
    caplog.set_level(logging.INFO, logger="spm.ingest")
    observations = [{**copy.deepcopy(BLOOD_PRESSURE), "id": f"obs-{i}"} for i in range(25)]
    hub = Paged({"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": observations,
                   "Condition": [CONDITION]})
    out = k.ingest(wh, _window(), "r1", hub, SECRET)
    assert "recurs across chunks" not in caplog.text
    assert out["batches"]["observasi"]["status"] == "published"
    assert out["batches"]["observasi"]["rows_published"] == 25


@pytest.mark.parametrize("alarms_max", [None, 0], ids=["alarms-looked-up", "past-the-limit-whole-batch"])
def test_an_id_recurring_in_a_later_chunk_sends_the_batch_to_be_validated_whole(wh, monkeypatch, caplog, alarms_max):
    from spm.ingest import kesehatan_stream

    if alarms_max is not None:
        monkeypatch.setattr(kesehatan_stream, "MAYBE_AGAIN_MAX", alarms_max)
    monkeypatch.setenv("SPM_HEALTH_VALIDATE_CHUNK_ROWS", "7")
    caplog.set_level(logging.INFO, logger="spm.ingest")
    old = _version(BLOOD_PRESSURE, "2025-03-04T11:00:00+00:00", id="obs-dup")
    new = _version(BLOOD_PRESSURE, "2025-03-06T11:00:00+00:00", id="obs-dup", status="amended")
    observations = [new] + [{**copy.deepcopy(BLOOD_PRESSURE), "id": f"obs-{i}"} for i in range(25)] + [old]
    hub = Paged({"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": observations,
                   "Condition": [CONDITION]})
    out = k.ingest(wh, _window(), "r1", hub, SECRET)
    assert "recurs across chunks" in caplog.text
    assert out["batches"]["observasi"]["rows_duplicate"] == 1
    with wh.connect() as conn:
        assert conn.execute(sa.select(fact_observasi.c.status).where(
            fact_observasi.c.observasi_id == "obs-dup")).scalar_one() == "amended"


def test_a_new_run_removes_what_a_killed_run_left_in_staging(wh):
    hub = FakeHub({"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE],
                   "Condition": [CONDITION]})
    window = _window()
    killed = k.extract(wh, window, "killed", hub, SECRET)  # the worker dies before validate and publish
    old_ids = {b["batch_id"] for b in killed["batches"].values()}
    out = k.ingest(wh, window, "r2", hub, SECRET)
    with wh.connect() as conn:
        old = conn.execute(sa.select(etl_batch.c.status, etl_batch.c.message).where(
            etl_batch.c.batch_id.in_(old_ids))).all()
        left = sum(conn.execute(sa.select(sa.func.count()).select_from(s.staging).where(
            s.staging.c.batch_id.in_(old_ids))).scalar_one() for s in k.SPECS.values())
    assert len(old) == 4 and {s for s, _ in old} == {"failed"} and all(m.startswith("superseded by batch") for _, m in old)
    assert left == 0
    assert {b["status"] for b in out["batches"].values()} == {"published"}
    assert all(len(_rows(wh, t)) == 1 for t in FACTS.values())


def test_each_chunk_keeps_gx_own_result_for_the_data_docs(wh, monkeypatch):
    import json

    from spm.warehouse.tables_dq import dq_validation_result as t

    monkeypatch.setenv("SPM_HEALTH_VALIDATE_CHUNK_ROWS", "10")
    patients = [PATIENT] + [_version(PATIENT, "2025-03-04T05:06:07+00:00", id=f"P-{i}") for i in range(24)]
    out = k.ingest(wh, _window(), "r1", Paged({"Patient": patients}), SECRET)
    batch_id = out["batches"]["pasien"]["batch_id"]
    with wh.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.batch_id == batch_id).order_by(t.c.bagian)).all()
    assert [r.bagian for r in rows] == [0, 1, 2]  # 25 patients validated in chunks of 10
    assert {r.suite for r in rows} == {k.PASIEN.suite}
    counts = [max(x["result"].get("element_count") or 0 for x in json.loads(r.result_json)["results"]) for r in rows]
    assert counts == [10, 10, 5]
    stored = " ".join(r.result_json for r in rows)
    assert NIK not in stored and "Siti" not in stored


def test_the_chunks_of_a_batch_share_one_validation_definition(wh, monkeypatch):
    """GX's validation definition (~50 ms to make) is made once per batch, not per chunk: the chunks
    are then also checked against one version of the suite."""
    from collections import Counter

    from spm.quality import gx_runner

    made = Counter()
    make = gx_runner.validation_definition

    def counted(suite_name):
        made[suite_name] += 1
        return make(suite_name)

    monkeypatch.setattr(gx_runner, "validation_definition", counted)
    monkeypatch.setenv("SPM_HEALTH_VALIDATE_CHUNK_ROWS", "10")
    patients = [PATIENT] + [_version(PATIENT, "2025-03-04T05:06:07+00:00", id=f"P-{i}") for i in range(24)]
    out = k.ingest(wh, _window(), "r1", Paged({"Patient": patients}), SECRET)
    assert out["batches"]["pasien"]["rows_published"] == 25  # in 3 chunks
    assert made == Counter({k.PASIEN.suite: 1})


def test_a_chunk_the_staging_thread_cannot_write_fails_the_window_and_leaves_nothing_staged(wh, monkeypatch):
    """Chunks are staged by a second thread while the next is validated: its error stops the stream,
    and the window is discarded only after the chunk being written has finished."""
    from spm.ingest import kesehatan_stream

    monkeypatch.setenv("SPM_HEALTH_VALIDATE_CHUNK_ROWS", "5")
    real_stage, staged = kesehatan_stream._stage, []

    def stage(engine, entity, frame, *args):
        if entity == "kunjungan" and staged.count(entity) == 1:
            raise sa.exc.OperationalError("COPY", {}, Exception("connection lost"))
        staged.append(entity)
        real_stage(engine, entity, frame, *args)

    monkeypatch.setattr(kesehatan_stream, "_stage", stage)
    patients = [PATIENT] + [_version(PATIENT, "2025-03-04T05:06:07+00:00", id=f"P-{i}") for i in range(12)]
    encounters = [{**copy.deepcopy(ENCOUNTER), "id": f"enc-{i}"} for i in range(17)]
    hub = Paged({"Patient": patients, "Encounter": encounters, "Observation": [BLOOD_PRESSURE],
                 "Condition": [CONDITION]})
    with pytest.raises(sa.exc.OperationalError, match="connection lost"):
        k.extract(wh, _window(), "r1", hub, SECRET)
    assert staged == ["observasi"] + ["pasien"] * 3 + ["kunjungan"]  # the third encounter chunk never was
    with wh.connect() as conn:
        batches = conn.execute(sa.select(etl_batch)).all()
        assert all(conn.execute(sa.select(sa.func.count()).select_from(s.staging)).scalar_one() == 0
                   for s in k.SPECS.values())
        assert conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar_one() == 0
    assert len(batches) == 4 and {b.status for b in batches} == {"failed"}
    assert all(not _rows(wh, t) for t in FACTS.values())


def test_a_small_batch_is_not_stopped_by_the_share_of_a_few_odd_rows(wh):
    """2 of 3 encounters wrong in themselves (a short nightly window): the two are quarantined with
    their reason, the rest is published; the share applies above 10 rows."""
    odd = [{**copy.deepcopy(ENCOUNTER), "id": f"enc-x{i}", "status": "booked"} for i in range(2)]
    out = k.ingest(wh, _window(), "r1", FakeHub({"Patient": [PATIENT], "Encounter": [ENCOUNTER, *odd]}), SECRET)
    assert out["batches"]["kunjungan"]["status"] == "published"
    assert out["batches"]["kunjungan"]["rows_quarantined"] == 2
    assert _quarantine_reasons(wh, "r1") == {"enc-x0": {"status_dikenal"}, "enc-x1": {"status_dikenal"}}
    assert len(_rows(wh, fact_kunjungan)) == 1


def test_encounters_before_their_patient_are_published_and_resolved_when_the_patient_arrives(wh):
    """A nightly window on a fresh warehouse: the hub sent the patient long ago. Nothing is
    quarantined; the encounters wait (reported per batch), and the window that brings the patient
    resolves them and names the kab/kota and year whose figures change."""
    visits = [{**copy.deepcopy(ENCOUNTER), "id": f"enc-{i}"} for i in range(6)]
    first = k.ingest(wh, _window(), "r1", FakeHub({"Encounter": visits}), SECRET)
    assert first["batches"]["kunjungan"]["rows_quarantined"] == 0
    assert first["batches"]["kunjungan"]["rows_published"] == 6
    assert first["batches"]["kunjungan"]["rujukan_tertunda"]["tertunda"] == 6
    assert first["partitions"] == []  # nobody's figures change yet: whose visits are they?
    assert len(_rows(wh, rujukan_pasien_tertunda)) == 6
    patient = _version(PATIENT, "2025-04-02T00:00:00+00:00")
    second = k.ingest(wh, _window("2025-04-01", "2025-05-01"), "r2", FakeHub({"Patient": [patient]}), SECRET)
    assert second["batches"]["kunjungan"]["rujukan_tertunda"]["tertunda"] == 0
    assert second["partitions"] == [{"kode_kab_kota": "32.71", "tahun_layanan": [2025]}]
    assert not _rows(wh, rujukan_pasien_tertunda)
    with wh.connect() as conn:
        reported = conn.execute(sa.select(dq_result.c.batch_id, dq_result.c.unexpected_count).where(
            dq_result.c.expectation == "rujukan_pasien_tertunda", dq_result.c.suite == "satusehat_kunjungan")
            .order_by(dq_result.c.batch_id)).all()
    assert [n for _, n in reported] == [6, 0]


def test_a_window_of_another_hub_names_the_kab_kota_where_its_patients_live(wh):
    """Kota Sukabumi's hub served a Kota Bogor resident: Bogor's figures are the ones that change."""
    [window] = k.windows(["32.72"], "2025-03-01", "2025-04-01")
    out = k.ingest(wh, window, "r1", FakeHub({"Patient": [PATIENT], "Encounter": [ENCOUNTER]}), SECRET)
    assert out["partitions"] == [{"kode_kab_kota": "32.71", "tahun_layanan": [2025]}]


def test_a_patient_who_moves_later_names_both_kab_kota_and_the_years_of_earlier_services(wh):
    """A 2026 window brings only the patient's new record (moved to Kota Sukabumi): the figures of
    the years of their published services (2025) change, in the old and the new kab/kota, although
    the window itself holds no service."""
    k.ingest(wh, _window(), "r1", FakeHub({"Patient": [PATIENT], "Encounter": [ENCOUNTER]}), SECRET)
    moved = _version(PATIENT, "2026-02-03T00:00:00+00:00")
    village = moved["address"][0]["extension"][0]["extension"]
    for part, code in zip(village, ("32", "3272", "327201", "3272011001")):
        part["valueCode"] = code
    out = k.ingest(wh, _window("2026-02-01", "2026-03-01"), "r2", FakeHub({"Patient": [moved]}), SECRET)
    assert out["partitions"] == [{"kode_kab_kota": "32.71", "tahun_layanan": [2025]},
                                 {"kode_kab_kota": "32.72", "tahun_layanan": [2025]}]


def test_a_planned_encounter_after_the_window_is_valid_data(wh):
    booked = {**copy.deepcopy(ENCOUNTER), "id": "enc-booked", "status": "planned",
              "period": {"start": "2025-06-10T09:00:00+07:00"}}  # booked in March for June
    late = {**copy.deepcopy(ENCOUNTER), "id": "enc-future", "period": {"start": "2025-06-10T09:00:00+07:00"}}
    out = k.ingest(wh, _window(), "r1", FakeHub({"Patient": [PATIENT], "Encounter": [booked, late]}), SECRET)
    assert _quarantine_reasons(wh, "r1") == {"enc-future": {"tanggal_mulai_tidak_melewati_jendela"}}
    assert out["batches"]["kunjungan"]["rows_published"] == 1


def test_an_overlong_id_is_rejected_whole_never_cut_into_another(wh):
    """Two patients whose ids share their first 64 characters were cut to one id and merged; now
    each is staged whole, quarantined by name with its whole id, and neither is published; a
    resource naming such a patient is quarantined too."""
    stem = "P" * 64
    long_a, long_b = (_version(PATIENT, "2025-03-04T05:06:07+00:00", id=stem + s) for s in ("A", "B"))
    others = [_version(PATIENT, "2025-03-04T05:06:07+00:00", id=f"P-{i}") for i in range(30)]
    visit = {**copy.deepcopy(ENCOUNTER), "id": "enc-long", "subject": {"reference": f"Patient/{stem}A"}}
    visits = [{**copy.deepcopy(ENCOUNTER), "id": f"enc-{i}", "subject": {"reference": f"Patient/P-{i}"}}
              for i in range(30)]
    out = k.ingest(wh, _window(), "r1", FakeHub({"Patient": [long_a, long_b, *others],
                                                  "Encounter": [visit, *visits]}), SECRET)
    assert (out["batches"]["pasien"]["rows_published"], out["batches"]["pasien"]["rows_quarantined"]) == (30, 2)
    assert out["batches"]["kunjungan"]["rows_quarantined"] == 1
    with wh.connect() as conn:
        q = {r.natural_key: r.failed_expectations for r in conn.execute(sa.select(quarantine))}
        ids = conn.execute(sa.select(fact_pasien.c.pasien_id)).scalars().all()
    assert q == {stem + "A": "id_panjang_maks_64", stem + "B": "id_panjang_maks_64",
                 "enc-long": "pasien_id_panjang_maks_64"}
    assert not any(i.startswith(stem) for i in ids) and len(ids) == 30


@pytest.mark.postgres
@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_staged_and_backfilled_tables_get_fresh_statistics_on_postgresql(wh, monkeypatch):
    """Without them the planner took a 600k-row batch for a few hundred rows and nested loops over it
    in the publish's residence probe (9 s instead of 2 ms at scale 0.2). SQLite plans from its indexes."""
    monkeypatch.setattr("spm.ingest.kesehatan_publish.ANALYZE_AFTER_ROWS", 1)
    first = {"Patient": [PATIENT], "Encounter": [ENCOUNTER], "Observation": [BLOOD_PRESSURE], "Condition": [CONDITION]}
    extracted = k.extract(wh, _window(), "r1", FakeHub(first), SECRET)

    def analyzed(table: str) -> bool:
        with wh.connect() as conn:
            return conn.execute(sa.text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = :t"),
                                {"t": table}).scalar_one()

    assert all(analyzed(spec.staging.name) for spec in k.SPECS.values())
    k.publish_window(wh, k.validate_window(wh, extracted))
    assert all(analyzed(spec.fact.name) for spec in k.SPECS.values())


def _spread(resource, prefix, n):
    """n versions of `resource` with their own ids, lastUpdated a day apart through March 2025."""
    return [_version(resource, f"2025-03-{2 + i % 28:02d}T0{i % 10}:00:00+00:00", id=f"{prefix}-{i}") for i in range(n)]


def _checksums(engine, run_id):
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(etl_batch.c.entity, etl_batch.c.checksum).where(etl_batch.c.run_id == run_id)).all())


def test_a_window_searched_in_parts_publishes_every_resource_once_in_a_stable_order(wh):
    resources = {"Patient": _spread(PATIENT, "P", 10), "Observation": _spread(BLOOD_PRESSURE, "obs", 14)}
    hub = Parted(resources, paralel=3)
    out = k.ingest(wh, _window(), "r1", hub, SECRET)
    w = k.Window.from_dict(_window())
    parts = [(d, s) for kind, d, s in hub.searches if kind == "Patient"]
    assert len(parts) == 3 and parts[0][0] == w.dari and parts[-1][1] == w.sampai
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))  # consecutive, nothing between them
    assert {e: b["rows_published"] for e, b in out["batches"].items()} == {
        "pasien": 10, "kunjungan": 0, "observasi": 14, "kondisi": 0}
    assert {r[1] for r in _rows(wh, fact_observasi)} == {f"obs-{i}" for i in range(14)}
    # The same pages again, in the same order whichever thread answered first: the same checksums.
    again = k.ingest(wh, _window(), "r2", Parted(resources, paralel=3), SECRET)
    assert all(b["rows_published"] == 0 for b in again["batches"].values())
    assert _checksums(wh, "r1") == _checksums(wh, "r2")


def test_the_totals_of_a_window_searched_in_parts_are_checked_summed(wh):
    resources = {"Patient": _spread(PATIENT, "P", 10)}
    w = k.Window.from_dict(_window())

    class Overstated(Parted):  # the first part announces one resource more than it holds
        def pages(self, kind, dari, sampai):
            for page in super().pages(kind, dari, sampai):
                yield Page(page.resources, page.total + (kind == "Patient" and dari == w.dari), None, page.sha256)

    with pytest.raises(SourceUnavailable, match="Patient search announced 11 resources but its pages held 10"):
        k.ingest(wh, _window(), "r1", Overstated(resources, paralel=2), SECRET)
    # A part that announces nothing leaves the count unchecked, as a hub that never gives totals.
    out = k.ingest(wh, _window(), "r2", Parted(resources, paralel=2, silent={("Patient", w.dari)}), SECRET)
    assert out["batches"]["pasien"]["rows_published"] == 10


def test_window_parts_are_whole_days_or_more_and_cover_the_window():
    from spm.ingest.kesehatan_stream import window_parts

    dari = datetime(2024, 1, 1, 17, tzinfo=timezone.utc)
    year = window_parts(dari, datetime(2025, 1, 1, 17, tzinfo=timezone.utc), 4)
    assert len(year) == 4 and year[0][0] == dari and year[-1][1] == datetime(2025, 1, 1, 17, tzinfo=timezone.utc)
    assert all(a[1] == b[0] and a[1].microsecond == 0 for a, b in zip(year, year[1:]))
    assert {b - a for a, b in year} == {timedelta(days=91, hours=12)}  # 2024 has 366 days
    day = datetime(2024, 1, 2, 17, tzinfo=timezone.utc)
    assert window_parts(dari, day, 4) == [(dari, day)]  # a nightly window: one search
    assert len(window_parts(dari, datetime(2024, 1, 4, 17, tzinfo=timezone.utc), 4)) == 3
