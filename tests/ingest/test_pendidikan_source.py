"""The Dapodik connector against the simulated web service: paging, token, retries, truncated JSON."""

import pytest

from spm.simulator import Faults, SimulatorConfig, SimulatorServers
from spm.simulator.expected import expected_learner_rows, expected_school_counts
from spm.sources.connections import SourceConnection
from spm.sources.dapodik import DapodikClient
from spm.sources.http import SourceAuthError, SourceUnavailable

KODE = "32.71"
SEMESTER = 20241


@pytest.fixture(scope="module")
def servers():
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.002, seed=11)) as sim:
        yield sim


@pytest.fixture
def sim(servers):
    servers.faults.set(**vars(Faults()))
    yield servers
    servers.faults.set(**vars(Faults()))


def _client(sim, token=None, **extra) -> DapodikClient:
    conn = SourceConnection("spm_dapodik", sim.dapodik_url, password=token or sim.config.dapodik_token,
                            extra={"backoff_seconds": 0.01, **extra})
    return DapodikClient(conn)


def _all(pages):
    return [row for page in pages for row in page]


def test_pages_through_schools_and_learners(sim):
    world = sim.world[KODE]
    with _client(sim, page_size=7) as client:
        schools = _all(client.sekolah_pages(KODE, SEMESTER))
        learners = sum(len(_all(client.peserta_didik_pages(s["npsn"], SEMESTER))) for s in schools)
    assert len(schools) == sum(expected_school_counts(world).values())
    assert learners == expected_learner_rows(world, SEMESTER)["rows"]


def test_wrong_token_fails_at_once_naming_the_connection(sim):
    before = sim.counts("dapodik").get("http_401", 0)
    with _client(sim, token="salah") as client, pytest.raises(SourceAuthError, match="connection 'spm_dapodik'"):
        _all(client.sekolah_pages(KODE, SEMESTER))
    assert sim.counts("dapodik")["http_401"] - before == 1  # no retry storm


def test_failing_and_truncated_pages_are_asked_again(sim):
    sim.faults.set(error_share=0.5, truncate_share=0.5, failing_attempts=1)
    with _client(sim, page_size=5) as client:
        schools = _all(client.sekolah_pages(KODE, SEMESTER))
        assert client.retries > 0
    counts = sim.counts("dapodik")
    assert counts["errors"] > 0 and counts["truncate"] > 0
    assert len(schools) == sum(expected_school_counts(sim.world[KODE]).values())


def test_a_page_failing_for_good_gives_up_after_bounded_attempts(sim):
    sim.faults.set(truncate_share=1.0, failing_attempts=100)
    with _client(sim, max_attempts=3) as client, pytest.raises(SourceUnavailable, match="truncated or invalid JSON"):
        _all(client.sekolah_pages(KODE, SEMESTER))
    assert client.requests_made == 3
