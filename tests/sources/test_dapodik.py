"""The Dapodik connector against the simulated web service: paging, token, retries, truncated JSON."""

import pytest

from spm.simulator import SimulatorConfig, SimulatorServers
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
    servers.faults.clear()
    yield servers
    servers.faults.clear()


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


class _Listing(DapodikClient):
    """A client whose pages come from a list of rows and an announced `results` (no server)."""

    def __init__(self, rows: int, results: int, page_size: int, cap: int | None = None):
        self.conn = SourceConnection("spm_dapodik", "http://unused")
        self.page_size, self.rows, self.results, self.cap, self.asked = page_size, rows, results, cap, []

    def _page(self, endpoint, params):
        start, limit = params["start"], min(params["limit"], self.cap or params["limit"])
        self.asked.append(start)
        rows = [{"i": i} for i in range(start, min(start + limit, self.rows))]
        return {"results": self.results, "start": start, "limit": limit, "rows": rows}


@pytest.mark.parametrize("rows,results,page_size,cap", [
    (2852, 2852, 100, None), (2800, 2800, 100, None), (5, 5, 100, None), (0, 0, 100, None),
    (130, 130, 100, 40),  # a server that serves fewer rows per page than asked
])
def test_a_listing_is_read_whole(rows, results, page_size, cap):
    listing = _Listing(rows, results, page_size, cap)
    assert [r["i"] for r in _all(listing._pages("getPesertaDidik", {"npsn": "20200001"}))] == list(range(rows))


@pytest.mark.parametrize("rows,results", [(2852, 2794), (2852, 3000), (10, 0)])
def test_a_listing_that_holds_other_than_it_announces_is_refused(rows, results):
    """An understated `results` no longer hides the rows past it (2,852 learners announced as
    2,794 lost 58 silently); an overstated one no longer passes for complete: either way the
    listing is refused, naming both counts."""
    from spm.sources.http import SourceError

    listing = _Listing(rows, results, 100)
    with pytest.raises(SourceError, match=f"announced results={results} but its pages held {rows} rows"):
        _all(listing._pages("getPesertaDidik", {"npsn": "20200001"}))
