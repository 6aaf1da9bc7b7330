"""Every fault switch is observable, and a retrying client gets through."""

from __future__ import annotations

import time

import orjson
import pytest
from conftest import dapodik, dapodik_all, dukcapil, fhir_all, fhir_token

from spm.simulator import Faults
from spm.simulator.expected import expected_resource_count
from spm.simulator.faults import parse_fault
from spm.simulator.satusehat import TokenStore

SEKOLAH = {"kode_wilayah": "32.71", "semester_id": 20241}


def _pages(http, sim, n=20):
    return [dapodik(http, sim, "getSekolah", start=i, limit=1, **SEKOLAH) for i in range(n)]


def test_slow_pages(sim, http):
    sim.faults.set(slow_seconds=0.3, slow_share=1.0)
    started = time.monotonic()
    assert dapodik(http, sim, "getSekolah", **SEKOLAH).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert sim.counts("dapodik")["slow"] >= 1


def test_server_errors_hit_a_share_of_urls_once(sim, http):
    sim.faults.set(error_share=0.3)
    first = _pages(http, sim)
    failed = [r for r in first if r.status_code == 503]
    assert 0 < len(failed) < len(first)
    again = _pages(http, sim)  # the same URLs: their failing attempt is used up
    assert all(r.status_code == 200 for r in again)
    assert sim.counts("dapodik")["errors"] >= len(failed)


def test_rate_limit_answers_429_with_retry_after(sim, http):
    sim.faults.set(rate_limit_share=1.0, retry_after_seconds=2)
    r = dukcapil(http, sim, "kelahiran", kode_wilayah="32.71", tahun="2025")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert dukcapil(http, sim, "kelahiran", kode_wilayah="32.71", tahun="2025").status_code == 200
    assert sim.counts("dukcapil")["rate_limit"] >= 1


def test_truncated_json_body(sim, http):
    sim.faults.set(truncate_share=1.0, failing_attempts=2)
    params = dict(start=3, limit=5, **SEKOLAH)
    for _ in range(2):
        r = dapodik(http, sim, "getSekolah", **params)
        assert r.status_code == 200
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(r.content)
    assert len(dapodik(http, sim, "getSekolah", **params).json()["rows"]) == 5
    assert sim.counts("dapodik")["truncate"] >= 2


def test_token_expiry_mid_run(sim, http):
    sim.faults.set(token_expiry_after=2)
    token = fhir_token(http, sim)
    url = f"{sim.satusehat_url}/fhir-r4/v1/Condition"
    h = {"Authorization": f"Bearer {token}"}
    assert [http.get(url, headers=h).status_code for _ in range(3)] == [200, 200, 401]
    sim.faults.set(token_expiry_after=None)
    h = {"Authorization": f"Bearer {fhir_token(http, sim)}"}
    assert http.get(url, headers=h).status_code == 200
    sim.expire_tokens()
    assert http.get(url, headers=h).status_code == 401
    assert sim.counts("satusehat")["token_expired"] >= 1


def test_tokens_expire_after_their_lifetime():
    store = TokenStore()
    token = store.issue(ttl=0)
    assert store.use(token, None) == "expired"
    assert store.use(token, None) == "unknown"
    assert store.use(store.issue(ttl=60), None) == "ok"


def test_transfers_list_a_learner_at_two_schools(sim, http, bogor):
    sim.faults.set(transfer_share=0.2)
    schools = dapodik_all(http, sim, "getSekolah", limit=100, **SEKOLAH)
    rows = []
    for school in schools:
        rows += [(school["npsn"], r) for r in dapodik_all(http, sim, "getPesertaDidik", npsn=school["npsn"],
                                                          semester_id=20241)]
    by_person: dict[str, list] = {}
    for npsn, row in rows:
        by_person.setdefault(row["peserta_didik_id"], []).append((npsn, row["status"]))
    moved = [v for v in by_person.values() if any(s == "mutasi" for _, s in v)]
    assert moved
    for entries in moved:
        moving = [(n, s) for n, s in entries if s in ("aktif", "mutasi")]  # lulus rows are another story
        assert sorted(s for _, s in moving) == ["aktif", "mutasi"] and len({n for n, _ in moving}) == 2


def test_invalid_nik_share(sim, http):
    sim.faults.set(invalid_nik_share=0.3)
    npsn = dapodik_all(http, sim, "getSekolah", limit=100, **SEKOLAH)
    rows = []
    for school in npsn[:30]:
        rows += dapodik_all(http, sim, "getPesertaDidik", npsn=school["npsn"], semester_id=20241)
    missing = sum(r["nik"] is None for r in rows)
    malformed = sum(r["nik"] is not None and not (len(r["nik"]) == 16 and r["nik"].isdigit()) for r in rows)
    assert missing > 0 and malformed > 0 and missing + malformed < 0.5 * len(rows)
    token = fhir_token(http, sim)
    patients = fhir_all(http, sim, "Patient", token, _lastUpdated=["ge2024-01-01", "lt2024-04-01"], _count=1000)
    assert any("identifier" not in p for p in patients)


def test_fhir_updates_replace_resources_with_newer_versions(sim, http, bogor):
    token = fhir_token(http, sim)
    window = {"_lastUpdated": ["ge2024-01-01", "lt2027-06-01"], "_count": 1000}
    before = {r["id"]: r for r in fhir_all(http, sim, "Condition", token, **window)}
    sim.faults.set(fhir_updates=True)
    after = {r["id"]: r for r in fhir_all(http, sim, "Condition", token, **window)}
    assert set(before) == set(after)  # same ids, no duplicates
    changed = [i for i in after if after[i]["meta"]["versionId"] == "2"]
    assert changed
    for i in changed:
        assert after[i]["meta"]["lastUpdated"] > before[i]["meta"]["lastUpdated"]
    assert any(after[i]["clinicalStatus"] != before[i]["clinicalStatus"] or after[i]["code"] != before[i]["code"]
               for i in changed)
    assert len(after) == expected_resource_count(bogor, "Condition", fhir_updates=True)


def test_missing_feed_404_or_empty(sim, http):
    sim.faults.set(missing_feeds={"penduduk:2024-2", "dapodik:20241", "kelahiran:2024"})
    r = dukcapil(http, sim, "penduduk", kode_wilayah="32.71", semester="2024-2")
    assert r.status_code == 404 and "not been delivered" in r.json()["error"]["message"]
    assert dukcapil(http, sim, "penduduk", kode_wilayah="32.71", semester="2024-1").status_code == 200
    assert dapodik(http, sim, "getSekolah", **SEKOLAH).status_code == 404
    sim.faults.set(missing_mode="empty")
    r = dukcapil(http, sim, "kelahiran", kode_wilayah="32.71", tahun="2024")
    assert r.status_code == 200 and r.text == "tahun,bulan,kode_desa,jenis_kelamin,jumlah\n"
    assert dapodik(http, sim, "getSekolah", **SEKOLAH).json() == {"results": 0, "start": 0, "limit": 100, "rows": []}
    assert sim.counts("dukcapil")["missing"] >= 2


def test_fault_switches_are_validated():
    with pytest.raises(ValueError):
        Faults(error_share=2)
    with pytest.raises(ValueError):
        Faults(missing_feeds={"penduduk:2024"})
    faults = Faults()
    with pytest.raises(ValueError):
        faults.set(nonsense=1)
    with pytest.raises(ValueError):
        faults.set(rate_limit_share=-1)
    assert faults.rate_limit_share == 0
    assert parse_fault("errors=0.1") == ("error_share", 0.1)
    assert parse_fault("fhir_updates") == ("fhir_updates", True)
    assert parse_fault("missing=penduduk:2024-2,dapodik:20241") == ("missing_feeds", {"penduduk:2024-2", "dapodik:20241"})
    assert parse_fault("token_expiry=3") == ("token_expiry_after", 3)
