"""The SATUSEHAT connector against the simulated FHIR hub: OAuth2 token reuse and refresh, paging,
429, 5xx bursts and cut-short pages."""

from datetime import datetime, timezone

import pytest

from spm.simulator import SimulatorConfig, SimulatorServers
from spm.simulator.expected import expected_resource_count
from spm.sources.connections import SourceConnection
from spm.sources.http import SourceAuthError, SourceUnavailable
from spm.sources.satusehat import SatusehatClient

KODE = "32.71"
DARI, SAMPAI = datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sim():
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.001, seed=11)) as servers:
        yield servers


@pytest.fixture
def client(sim):
    sim.faults.clear()
    conn = SourceConnection("spm_satusehat", sim.satusehat_url, sim.config.satusehat_client_id, sim.config.satusehat_client_secret)
    with SatusehatClient(conn, page_size=100, backoff_seconds=0.0, sleep=lambda _s: None) as c:
        yield c
    sim.faults.clear()


def _ids(client, kind="Observation"):
    # Typed pages hold Structs, pages read the general way dicts (a damaged page asked again is either).
    return [r["id"] if isinstance(r, dict) else r.id for page in client.pages(kind, DARI, SAMPAI)
            for r in page.resources]


def test_pages_to_the_end_with_one_token(sim, client):
    before = sim.counts("satusehat").get("tokens_issued", 0)
    ids = _ids(client)
    expected = expected_resource_count(sim.world[KODE], "Observation", DARI, SAMPAI)
    assert len(ids) == len(set(ids)) == expected > 300  # several pages
    assert client.tokens_fetched == 1 and sim.counts("satusehat")["tokens_issued"] - before == 1


def test_token_expiry_mid_window_is_refreshed(sim, client):
    clean = _ids(client)
    sim.faults.set(token_expiry_after=2)  # every token dies after two pages
    assert _ids(client) == clean
    assert client.tokens_fetched >= len(clean) // 200
    sim.expire_tokens()  # revoked early: the next page gets 401 and a new token
    fetched = client.tokens_fetched
    assert _ids(client, "Condition")
    assert client.tokens_fetched > fetched


def test_token_expiring_by_its_own_lifetime_is_renewed_before_use(sim):
    now = [0.0]
    conn = SourceConnection("spm_satusehat", sim.satusehat_url, sim.config.satusehat_client_id, sim.config.satusehat_client_secret)
    with SatusehatClient(conn, page_size=1000, clock=lambda: now[0]) as c:
        c.auth_headers()
        now[0] = sim.config.token_ttl_seconds - 29  # inside the renewal margin
        c.auth_headers()
        assert c.tokens_fetched == 2


def test_rate_limits_server_errors_and_cut_short_pages_are_survived(sim, client):
    clean = _ids(client)
    before = sim.counts("satusehat")
    sim.faults.set(rate_limit_share=0.3, retry_after_seconds=0, error_share=0.3, truncate_share=0.3)
    assert _ids(client) == clean
    after = sim.counts("satusehat")
    for fault in ("rate_limit", "errors", "truncate"):
        assert after.get(fault, 0) > before.get(fault, 0), fault


def test_a_page_that_keeps_failing_gives_up_after_bounded_retries(sim, client):
    sim.faults.set(error_share=1.0, failing_attempts=1000)
    with pytest.raises(SourceUnavailable, match="failed 5 times"):
        _ids(client)
    sim.faults.set(error_share=0.0, truncate_share=1.0, failing_attempts=1000)
    with pytest.raises(SourceUnavailable, match="cut short"):
        _ids(client)


def test_wrong_client_secret_fails_at_once_naming_the_connection(sim):
    conn = SourceConnection("spm_satusehat_3271", sim.satusehat_url, sim.config.satusehat_client_id, "salah")
    before = sim.counts("satusehat").get("bad_credentials", 0)
    with SatusehatClient(conn) as c, pytest.raises(SourceAuthError, match="connection 'spm_satusehat_3271'"):
        _ids(c)
    assert sim.counts("satusehat")["bad_credentials"] - before == 1  # no retry storm


def test_a_page_whose_body_is_cut_short_in_transit_is_asked_again(sim, client, monkeypatch):
    from spm.sources.http import BodyCutShort, SourceClient

    real, calls = SourceClient.get_content, []

    def cut_once(self, path, params=None):
        calls.append(path)
        if len(calls) == 2:  # the second page: its body stops short of its length
            raise BodyCutShort("spm_satusehat: page: the body was cut short in transit (ProtocolError)")
        return real(self, path, params)

    monkeypatch.setattr(SourceClient, "get_content", cut_once)
    ids = _ids(client)
    assert len(ids) == len(set(ids)) == expected_resource_count(sim.world[KODE], "Observation", DARI, SAMPAI)
    assert client.retries == 1 and calls[1] == calls[2]


def test_threads_sharing_one_client_get_past_tokens_used_up_by_each_other(sim, client):
    """Four threads search their parts of the window at once with one client, and every token dies
    after two uses: a 401 for a token another thread used up or renewed is repeated, never taken for
    refused credentials."""
    from concurrent.futures import ThreadPoolExecutor

    from spm.ingest.kesehatan_stream import window_parts

    clean = sorted(_ids(client))
    sim.faults.set(token_expiry_after=2)

    def part(bounds):
        return [r.id if not isinstance(r, dict) else r["id"]
                for page in client.pages("Observation", *bounds) for r in page.resources]

    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(part, window_parts(DARI, SAMPAI, 4)))
    assert sorted(i for ids in parts for i in ids) == clean
    assert client.tokens_fetched > len(clean) // 200


def test_a_token_the_data_endpoint_refuses_from_the_start_fails_after_one_refresh(sim, client, monkeypatch):
    tokens = sim.apps["satusehat"].tokens
    monkeypatch.setattr(tokens, "use", lambda token, max_uses: "unknown")
    with pytest.raises(SourceAuthError, match="refused the credentials"):
        _ids(client)
    assert client.tokens_fetched == 2  # the first token and one fresh one: no retry storm
