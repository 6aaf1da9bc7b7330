"""Fixtures: a small simulated world and its servers, shared by the simulator tests."""

from __future__ import annotations

import pytest
import requests

from spm.simulator import Faults, SimulatorConfig, SimulatorServers, World

SMALL = SimulatorConfig(kode_wilayah=("32.71", "32.72"), scale=0.002, seed=7)


@pytest.fixture(scope="session")
def world() -> World:
    return World(SMALL)


@pytest.fixture(scope="session")
def bogor(world):
    return world["32.71"]


@pytest.fixture(scope="session")
def servers(world):
    with SimulatorServers(SMALL, Faults(), world) as sim:
        yield sim


@pytest.fixture
def sim(servers):
    """The running servers with every fault switched off before and after the test."""
    servers.faults.clear()
    yield servers
    servers.faults.clear()


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def fhir_token(http, sim) -> str:
    r = http.post(f"{sim.satusehat_url}/oauth2/v1/accesstoken", params={"grant_type": "client_credentials"},
                  data={"client_id": sim.config.satusehat_client_id, "client_secret": sim.config.satusehat_client_secret})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def dapodik(http, sim, endpoint, **params):
    return http.get(f"{sim.dapodik_url}/WebService/{endpoint}", params=params,
                    headers={"Authorization": f"Bearer {sim.config.dapodik_token}"})


def dukcapil(http, sim, endpoint, **params):
    return http.get(f"{sim.dukcapil_url}/dkb/v1/{endpoint}", params=params,
                    headers={"X-API-Key": sim.config.dukcapil_api_key})


def dapodik_all(http, sim, endpoint, limit=50, **params) -> list[dict]:
    """Page with the §3.1 rule: continue while start + len(rows) < results."""
    rows, start = [], 0
    while True:
        r = dapodik(http, sim, endpoint, start=start, limit=limit, **params)
        assert r.status_code == 200, r.text
        page = r.json()
        rows += page["rows"]
        if not page["rows"] or page["start"] + len(page["rows"]) >= page["results"]:
            return rows
        start += len(page["rows"])


def fhir_all(http, sim, kind, token, **params) -> list[dict]:
    """Follow `next` links to the end; returns the resources."""
    url = f"{sim.satusehat_url}/fhir-r4/v1/{kind}"
    out = []
    while url:
        r = http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        bundle = r.json()
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
        out += [e["resource"] for e in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        params = None  # the next link carries the query
    return out
