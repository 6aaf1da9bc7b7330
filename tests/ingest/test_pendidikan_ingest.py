"""Education ingest steps against the simulated Dapodik: counts, privacy, dedup, failures, rerun."""

import re

import numpy as np
import pytest
import requests
import sqlalchemy as sa

from spm.ingest import pendidikan as pdk
from spm.simulator import SimulatorConfig, SimulatorServers
from spm.simulator.determinism import hash_uniform, stream_key
from spm.simulator.expected import expected_capaian
from spm.simulator.faults import NIK_OK, nik_fault
from spm.sources.connections import SourceConnection
from spm.sources.dapodik import DapodikClient
from spm.sources.http import SourceUnavailable
from spm.warehouse.db import get_engine, upgrade
from spm.warehouse.tables import (
    dim_sekolah, dq_result, etl_batch, fact_peserta_didik, quarantine, staging_peserta_didik, staging_sekolah,
)

from tests.warehouses import with_wilayah

KODE = "32.71"
SEED = 7
SEMESTER = 20241  # serves 2024 Q3-Q4
PARTITION = {"kode_kab_kota": KODE, "semester_id": SEMESTER}
SECRET = b"ingest-test-secret-0123456789"
PAGE_SIZE = 100
TABLES = (staging_sekolah, staging_peserta_didik, dim_sekolah, fact_peserta_didik, quarantine, dq_result, etl_batch)


@pytest.fixture(scope="module")
def servers():
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.002, seed=SEED)) as sim:
        yield sim


@pytest.fixture
def sim(servers):
    servers.faults.clear()
    yield servers
    servers.faults.clear()


def _warehouse(url):
    engine = get_engine(url)
    upgrade(engine)
    with_wilayah(engine)
    return engine


@pytest.fixture
def wh(warehouse_url):
    engine = _warehouse(warehouse_url)
    yield engine
    engine.dispose()


@pytest.fixture
def wh_sqlite(sqlite_url):
    engine = _warehouse(sqlite_url)
    yield engine
    engine.dispose()


def _client(sim, **extra) -> DapodikClient:
    conn = SourceConnection("spm_dapodik", sim.dapodik_url, password=sim.config.dapodik_token,
                            extra={"backoff_seconds": 0.01, "max_attempts": 3, "page_size": PAGE_SIZE,
                                   "paralel": 4, **extra})
    return DapodikClient(conn)


def _ingest(engine, sim, client=None):
    with client or _client(sim) as c:
        return pdk.ingest(engine, PARTITION, "test", c, SECRET)


def _source_rows(sim, semester=SEMESTER):
    """Every learner row as served (with NIK, NISN, names): what must never reach the warehouse."""
    headers = {"Authorization": f"Bearer {sim.config.dapodik_token}"}
    out = []
    with requests.Session() as http:
        schools = http.get(f"{sim.dapodik_url}/WebService/getSekolah", headers=headers,
                           params={"kode_wilayah": KODE, "semester_id": semester, "limit": 1000}).json()["rows"]
        for s in schools:
            page = http.get(f"{sim.dapodik_url}/WebService/getPesertaDidik", headers=headers,
                            params={"npsn": s["npsn"], "semester_id": semester, "limit": 1000}).json()
            out += page["rows"]
    return out


def _warehouse_text(engine) -> str:
    parts = []
    with engine.connect() as conn:
        for table in TABLES:
            for row in conn.execute(sa.select(table)):
                parts.append("\t".join("" if v is None else str(v) for v in row))
    return "\n".join(parts)


def _assert_no_personal_data(engine, source_rows):
    text = _warehouse_text(engine)
    digits = set(re.findall(r"\d+", text))
    niks = {r["nik"] for r in source_rows if r["nik"]}
    nisns = {r["nisn"] for r in source_rows if r["nisn"]}
    assert niks and nisns
    assert not (niks | nisns) & digits
    for r in source_rows:
        assert r["nama"] not in text and r["peserta_didik_id"] not in text and r["tanggal_lahir"] not in text


def _fact(engine):
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(fact_peserta_didik).order_by(fact_peserta_didik.c.person_key)).all())


def _batches(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(etl_batch).order_by(etl_batch.c.batch_id)).all()


def test_publishes_each_person_once_as_the_simulator_expects_then_rerun_changes_nothing(wh, sim):
    sim.faults.set(transfer_share=0.05, invalid_nik_share=0.04, error_share=0.05, truncate_share=0.05)
    result = _ingest(wh, sim)
    world = sim.world[KODE]
    learners = world.pendidikan.learners(SEMESTER, 0.05)
    persons = len(np.unique(learners.person))
    pd_result = result["peserta_didik"]
    assert (pd_result["status"], pd_result["rows_received"], pd_result["rows_published"]) == (
        "published", len(learners), persons)
    assert pd_result["rows_quarantined"] == 0 and pd_result["rows_duplicate"] == len(learners) - persons > 0
    assert result["sekolah"]["rows_published"] == len(world.pendidikan.schools.npsn)
    assert sim.counts("dapodik")["errors"] > 0 and sim.counts("dapodik")["truncate"] > 0

    # Terlayani of the education SPM per desa and sex, from the fact, equal the simulator's (DESIGN §5).
    want = expected_capaian(world, 2024, 3)
    rules = {"pend_paud": (("TK", "KB", "TPA", "SPS"), 5, 6),
             "pend_dasar": (("SD", "SMP", "SDLB", "SMPLB"), 7, 15)}
    f = fact_peserta_didik.c
    with wh.connect() as conn:
        for kode, (bentuk, lo, hi) in rules.items():
            got = dict(((d, s), n) for d, s, n in conn.execute(
                sa.select(f.kode_desa_tinggal, f.jenis_kelamin, sa.func.count())
                .where(f.status == "aktif", f.bentuk_pendidikan.in_(bentuk), f.umur_referensi.between(lo, hi))
                .group_by(f.kode_desa_tinggal, f.jenis_kelamin)))
            exp = want[(want.kode_layanan == kode) & (want.jenis_kelamin != "semua") & (want.terlayani > 0)]
            assert got == {(r.kode_wilayah, r.jenis_kelamin): r.terlayani for r in exp.itertuples()}, kode
        kes = conn.execute(sa.select(sa.func.count()).where(
            f.status == "aktif", f.program_kesetaraan.is_not(None), f.umur_referensi.between(7, 18))).scalar_one()
        invalid = conn.execute(sa.select(sa.func.count()).where(f.nik_valid.is_(False))).scalar_one()
    exp_kes = want[(want.kode_layanan == "pend_kesetaraan") & (want.jenis_kelamin == "semua")].terlayani.sum()
    assert kes == exp_kes
    hit = nik_fault(SEED, f"learner:{KODE}:{SEMESTER}", np.unique(learners.person), 0.04)
    assert invalid == int((hit != NIK_OK).sum()) > 0

    sim.faults.set(error_share=0.0, truncate_share=0.0)
    _assert_no_personal_data(wh, _source_rows(sim))

    before = _fact(wh)
    again = _ingest(wh, sim)
    assert again["sekolah"]["status"] == again["peserta_didik"]["status"] == "unchanged"
    assert _fact(wh) == before
    assert [b.status for b in _batches(wh)] == ["published", "published", "unchanged", "unchanged"]
    with wh.connect() as conn:  # the published batch's staging rows stay for the audit
        staged = conn.execute(sa.select(sa.func.count()).select_from(staging_peserta_didik)).scalar_one()
    assert staged == len(learners)


def _failing_learner_url(sim, client) -> tuple[str, float]:
    """The NPSN whose first learner page the `errors` fault hits first, and a share hitting only it."""
    schools = sorted(sim.world[KODE].pendidikan.schools.npsn)

    def u(url):
        return float(hash_uniform(stream_key(SEED, "fault", "errors", url), 0))

    first = {n: u(f"/WebService/getPesertaDidik?npsn={n}&semester_id={SEMESTER}&start=0&limit={client.page_size}")
             for n in schools}
    npsn = min(first, key=first.get)
    share = first[npsn] + 1e-12
    listing = u(f"/WebService/getSekolah?kode_wilayah={KODE.replace('.', '%2E')}&semester_id={SEMESTER}"
                f"&start=0&limit={client.page_size}")
    assert listing > share and sorted(first.values())[1] > share
    return npsn, share


def test_a_school_whose_list_fails_for_good_fails_the_partition_naming_its_npsn(wh_sqlite, sim):
    client = _client(sim)
    npsn, share = _failing_learner_url(sim, client)
    sim.faults.set(error_share=share, failing_attempts=1000)
    with pytest.raises(SourceUnavailable, match=f"npsn {npsn}") as err:
        _ingest(wh_sqlite, sim, client)
    assert "1 of" in str(err.value) and "nothing published" in str(err.value)
    batches = _batches(wh_sqlite)
    assert [(b.entity, b.status) for b in batches] == [("sekolah", "failed"), ("peserta_didik", "failed")]
    assert all(npsn in b.message for b in batches)
    with wh_sqlite.connect() as conn:
        for table in (dim_sekolah, fact_peserta_didik, staging_peserta_didik):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0, table.name

    # With data published before, a failing rerun of a changed source keeps them.
    sim.faults.set(error_share=0.0)
    _ingest(wh_sqlite, sim)
    before = _fact(wh_sqlite)
    sim.faults.set(transfer_share=0.05, error_share=share)
    with pytest.raises(SourceUnavailable, match=f"npsn {npsn}"):
        _ingest(wh_sqlite, sim, _client(sim))
    assert _fact(wh_sqlite) == before
    assert [b.status for b in _batches(wh_sqlite)[-2:]] == ["unchanged", "failed"]  # schools did not change


def test_many_invalid_niks_are_flagged_but_published(wh_sqlite, sim):
    sim.faults.set(invalid_nik_share=0.3)
    result = _ingest(wh_sqlite, sim)
    assert result["peserta_didik"]["status"] == "published"
    with wh_sqlite.connect() as conn:
        flag = conn.execute(sa.select(dq_result).where(dq_result.c.expectation == "nik_valid_di_atas_batas")).one()
        by_school = conn.execute(sa.text(
            "SELECT npsn, AVG(CASE WHEN nik_valid THEN 1.0 ELSE 0.0 END) FROM fact_peserta_didik GROUP BY npsn")).all()
    assert not flag.success and flag.severity == "warning"
    assert 0.6 < float(flag.observed_value) < 0.8
    assert len(by_school) > 10  # NIK validity per school is measurable from the fact


class _Corrupting(DapodikClient):
    """Serves every 40th learner with values the suite must reject."""

    def peserta_didik_pages(self, npsn, semester_id):
        for page in super().peserta_didik_pages(npsn, semester_id):
            for i, row in enumerate(page):
                if (hash(row["peserta_didik_id"]) % 40) == 0:
                    row.update(jenis_kelamin="X", tanggal_lahir="2010-02-30", status="pindah")
            yield page


def test_bad_rows_are_quarantined_with_expectation_names_and_no_personal_data(wh_sqlite, sim):
    conn_ = SourceConnection("spm_dapodik", sim.dapodik_url, password=sim.config.dapodik_token,
                             extra={"page_size": PAGE_SIZE})
    result = _ingest(wh_sqlite, sim, _Corrupting(conn_))
    bad = result["peserta_didik"]["rows_quarantined"]
    assert result["peserta_didik"]["status"] == "published" and bad > 0
    with wh_sqlite.connect() as conn:
        rows = conn.execute(sa.select(quarantine)).all()
    assert len(rows) == bad
    for row in rows:
        assert set(row.failed_expectations.split(",")) >= {"jenis_kelamin_l_p", "tanggal_lahir_valid", "status_dikenal"}
        assert not {"nik", "nisn", "nama", "tanggal_lahir", "peserta_didik_id"} & set(row.row_data)
        assert re.fullmatch(r"\d{8}\|[0-9a-f]{64}", row.natural_key)
    _assert_no_personal_data(wh_sqlite, _source_rows(sim))


@pytest.mark.parametrize("mode", ["404", "empty"])
def test_semester_not_in_the_source_yet_keeps_previous_data(wh_sqlite, sim, mode):
    _ingest(wh_sqlite, sim)
    before = _fact(wh_sqlite)
    sim.faults.set(missing_feeds={f"dapodik:{SEMESTER}"}, missing_mode=mode, transfer_share=0.05)
    result = _ingest(wh_sqlite, sim)
    assert result["sekolah"]["status"] == result["peserta_didik"]["status"] == "missing"
    assert _fact(wh_sqlite) == before
    assert all("previous data kept" in b.message for b in _batches(wh_sqlite)[-2:])


def test_previous_semester_ids_follow_the_school_year():
    assert pdk.previous_semester_id(20241) == 20232
    assert pdk.previous_semester_id(20242) == 20241


@pytest.mark.parametrize("factor, flagged", [(1.0, False), (1.1, False), (3.0, True), (0.5, True)])
def test_a_learner_count_far_from_the_previous_semester_is_flagged_and_published(wh, sim, factor, flagged):
    first = _ingest(wh, sim)
    received = first["peserta_didik"]["rows_received"]
    with wh.begin() as conn:  # the previous semester as published, with `factor` times as many rows
        conn.execute(sa.insert(etl_batch).values(
            source=pdk.SOURCE, entity="peserta_didik", kode_wilayah=KODE, periode=str(pdk.previous_semester_id(SEMESTER)),
            status="published", rows_received=round(received * factor), started_at=sa.func.now()))
        # ... and this semester published from another source state, so that it is validated again
        conn.execute(sa.update(etl_batch).where(etl_batch.c.source == pdk.SOURCE, etl_batch.c.periode == str(SEMESTER))
                     .values(checksum="another"))
    out = _ingest(wh, sim)
    assert out["peserta_didik"]["status"] == "published"
    with wh.connect() as conn:
        ok = conn.execute(sa.select(dq_result.c.success).where(
            dq_result.c.batch_id == out["peserta_didik"]["batch_id"],
            dq_result.c.expectation == "jumlah_dekat_semester_lalu")).scalar_one()
    assert ok is (not flagged)
