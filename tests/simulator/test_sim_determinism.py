"""Same seed, same bytes: two independent worlds and servers answer identically."""

from __future__ import annotations

from conftest import SMALL, fhir_token

from spm.simulator import Faults, SimulatorConfig, SimulatorServers, World


def _bodies(sim, http) -> list[bytes]:
    token = fhir_token(http, sim)
    out = []
    for url, params, headers in (
        (f"{sim.dapodik_url}/WebService/getSekolah", {"kode_wilayah": "32.71", "semester_id": 20242, "limit": 20},
         {"Authorization": f"Bearer {sim.config.dapodik_token}"}),
        (f"{sim.dapodik_url}/WebService/getPesertaDidik", {"npsn": "32710010", "semester_id": 20242},
         {"Authorization": f"Bearer {sim.config.dapodik_token}"}),
        (f"{sim.dukcapil_url}/dkb/v1/penduduk", {"kode_wilayah": "32.72", "semester": "2025-1"},
         {"X-API-Key": sim.config.dukcapil_api_key}),
        (f"{sim.dukcapil_url}/dkb/v1/kelahiran", {"kode_wilayah": "32.71", "tahun": "2025"},
         {"X-API-Key": sim.config.dukcapil_api_key}),
    ) + tuple(
        (f"{sim.fhir_url}/fhir-r4/v1/{kind}", {"_lastUpdated": ["ge2025-03-01", "lt2025-04-01"], "_count": 300},
         {"Authorization": f"Bearer {token}"})
        for kind in ("Patient", "Encounter", "Observation", "Condition")
    ):
        r = http.get(url, params=params, headers=headers)
        assert r.status_code == 200, r.text
        out.append(r.content.replace(sim.fhir_url.encode(), b"BASE"))
    return out


def test_same_seed_same_bytes(servers, http):
    with SimulatorServers(SMALL, Faults(), World(SMALL)) as other:
        assert _bodies(servers, http) == _bodies(other, http)


def test_another_seed_other_data(servers, http):
    config = SimulatorConfig(kode_wilayah=SMALL.kode_wilayah, scale=SMALL.scale, seed=SMALL.seed + 1)
    with SimulatorServers(config) as other:
        mine, theirs = _bodies(servers, http), _bodies(other, http)
        assert all(a != b for a, b in zip(mine, theirs))


def test_scalar_hashes_equal_the_vectorised_ones():
    """The FHIR hub renders one resource at a time with the Python-integer hashes; they must give
    exactly the values of the numpy versions, or served resources would change with the code path."""
    import numpy as np

    from spm.simulator.determinism import hash_int, hash_uint64, hash_uniform, stream_key, uniform_one
    from spm.simulator.faults import nik_fault, nik_fault_one

    key = stream_key(20261123, "32.71", "Observation")
    index = np.array([0, 1, 2, 12345, 2**40 + 7, 2**63 - 1], dtype=np.uint64)
    assert [hash_int(key, int(i)) for i in index] == [int(v) for v in hash_uint64(key, index)]
    assert [uniform_one(key, int(i)) for i in index] == hash_uniform(key, index).tolist()
    patients = np.arange(5000)
    for share in (0.0, 0.1, 0.5):
        expected = nik_fault(7, "patient:32.71", patients, share).tolist()
        assert [nik_fault_one(7, "patient:32.71", int(i), share) for i in patients] == expected
