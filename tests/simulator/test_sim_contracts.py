"""Contract conformance of every endpoint (DESIGN §3.1-3.3): fields, paging, auth, errors."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from conftest import dapodik, dapodik_all, dukcapil, fhir_all, fhir_token

from spm.simulator.expected import (
    expected_births,
    expected_learner_rows,
    expected_population_totals,
    expected_resource_count,
    expected_school_counts,
)

SCHOOL_FIELDS = ["sekolah_id", "npsn", "nama", "bentuk_pendidikan", "status_sekolah", "kode_wilayah", "last_update"]
LEARNER_FIELDS = ["peserta_didik_id", "nisn", "nik", "nama", "jenis_kelamin", "tanggal_lahir",
                  "tingkat_pendidikan_id", "program_kesetaraan", "kode_wilayah_domisili", "status", "last_update"]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# -- Dapodik ----------------------------------------------------------------------------------
def test_dapodik_schools_page_to_the_last_row(sim, http, bogor):
    rows = dapodik_all(http, sim, "getSekolah", limit=7, kode_wilayah="32.71", semester_id=20241)
    assert len(rows) == sum(expected_school_counts(bogor).values())
    assert len({r["npsn"] for r in rows}) == len(rows)
    desa = {w.kode for w in bogor.penduduk.desa}
    for row in rows:
        assert list(row) == SCHOOL_FIELDS
        assert UUID.match(row["sekolah_id"]) and re.fullmatch(r"\d{8}", row["npsn"])
        assert row["status_sekolah"] in ("Negeri", "Swasta") and row["kode_wilayah"] in desa
    assert {r["bentuk_pendidikan"] for r in rows} == {
        "TK", "KB", "TPA", "SPS", "SD", "SMP", "SDLB", "SMPLB", "SMA", "SMK", "SMALB", "SLB", "PKBM", "SKB"}
    page = dapodik(http, sim, "getSekolah", kode_wilayah="32.71", semester_id=20241, start=0, limit=3).json()
    assert set(page) == {"results", "start", "limit", "rows"} and page["limit"] == 3 and len(page["rows"]) == 3


def test_dapodik_learners_of_every_school_add_up(sim, http, bogor):
    schools = dapodik_all(http, sim, "getSekolah", limit=100, kode_wilayah="32.71", semester_id=20232)
    rows = []
    for school in schools:
        rows += dapodik_all(http, sim, "getPesertaDidik", limit=10, npsn=school["npsn"], semester_id=20232)
    expected = expected_learner_rows(bogor, 20232)
    assert len(rows) == expected["rows"]
    assert sum(r["status"] == "aktif" for r in rows) == expected["aktif"]
    for row in rows:
        assert list(row) == LEARNER_FIELDS
        assert row["jenis_kelamin"] in ("L", "P") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["tanggal_lahir"])
        assert row["nik"] is None or re.fullmatch(r"\d{16}", row["nik"])
        assert row["nisn"] is None or re.fullmatch(r"\d{10}", row["nisn"])
        assert row["status"] in ("aktif", "mutasi", "lulus", "keluar")
        if row["program_kesetaraan"] is not None:
            assert row["program_kesetaraan"] in ("Paket A", "Paket B", "Paket C")
        assert row["tingkat_pendidikan_id"] is None or 1 <= row["tingkat_pendidikan_id"] <= 12
    kesetaraan_at = {s["npsn"] for s in schools if s["bentuk_pendidikan"] in ("PKBM", "SKB")}
    assert kesetaraan_at  # every area has them


def test_dapodik_serves_several_kab_kota(sim, http, world):
    rows = dapodik_all(http, sim, "getSekolah", kode_wilayah="32.72", semester_id=20251)
    assert len(rows) == sum(expected_school_counts(world["32.72"]).values())
    assert all(r["kode_wilayah"].startswith("32.72.") for r in rows)


def test_dapodik_refuses_wrong_or_missing_token(sim, http):
    url = f"{sim.dapodik_url}/WebService/getSekolah"
    params = {"kode_wilayah": "32.71", "semester_id": 20241}
    assert http.get(url, params=params).status_code == 401
    assert http.get(url, params=params, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_dapodik_bad_params_are_400_unknown_things_404(sim, http):
    for params in ({"kode_wilayah": "32.71", "semester_id": "2024"},
                   {"kode_wilayah": "3271", "semester_id": "20241"},
                   {"kode_wilayah": "32.71", "semester_id": "20241", "limit": "0"},
                   {"kode_wilayah": "32.71", "semester_id": "20241", "start": "x"},
                   {"kode_wilayah": "32.71", "semester_id": "20241", "npsn": "1"},
                   {"semester_id": "20241"}):
        r = dapodik(http, sim, "getSekolah", **params)
        assert r.status_code == 400, params
        assert r.json()["error"]["message"]
    assert dapodik(http, sim, "getSekolah", kode_wilayah="32.01", semester_id=20241).status_code == 404
    assert dapodik(http, sim, "getSekolah", kode_wilayah="32.71", semester_id=20191).status_code == 404
    assert dapodik(http, sim, "getPesertaDidik", npsn="32719999", semester_id=20241).status_code == 404
    assert dapodik(http, sim, "getPesertaDidik", npsn="abc", semester_id=20241).status_code == 400


# -- Dukcapil ---------------------------------------------------------------------------------
def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_dukcapil_population_csv(sim, http, bogor):
    r = dukcapil(http, sim, "penduduk", kode_wilayah="32.71", semester="2024-2")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.text.splitlines()[0] == "semester,kode_desa,jenis_kelamin,umur,jumlah"
    rows = _csv(r.text)
    expected = expected_population_totals(bogor, 2024, 2)
    assert len(rows) == expected["rows"] == len(bogor.penduduk.desa) * 2 * 101
    assert sum(int(x["jumlah"]) for x in rows if x["jenis_kelamin"] == "L") == expected["L"]
    assert sum(int(x["jumlah"]) for x in rows if x["jenis_kelamin"] == "P") == expected["P"]
    assert {x["umur"] for x in rows} == {str(a) for a in range(101)}
    assert {x["semester"] for x in rows} == {"2024-2"}


def test_dukcapil_births_csv(sim, http, bogor):
    r = dukcapil(http, sim, "kelahiran", kode_wilayah="32.71", tahun="2024")
    assert r.status_code == 200 and r.text.splitlines()[0] == "tahun,bulan,kode_desa,jenis_kelamin,jumlah"
    rows = _csv(r.text)
    assert sum(int(x["jumlah"]) for x in rows) == expected_births(bogor, 2024)["jumlah"]
    assert {int(x["bulan"]) for x in rows} == set(range(1, 13))


def test_dukcapil_auth_params_and_areas(sim, http):
    url = f"{sim.dukcapil_url}/dkb/v1/penduduk"
    params = {"kode_wilayah": "32.71", "semester": "2024-2"}
    assert http.get(url, params=params).status_code == 401
    assert http.get(url, params=params, headers={"X-API-Key": "wrong"}).status_code == 401
    assert dukcapil(http, sim, "penduduk", kode_wilayah="32.71", semester="2024-3").status_code == 400
    assert dukcapil(http, sim, "penduduk", kode_wilayah="32.71", semester="20242").status_code == 400
    assert dukcapil(http, sim, "penduduk", kode_wilayah="32.71").status_code == 400
    assert dukcapil(http, sim, "kelahiran", kode_wilayah="32.71", tahun="24").status_code == 400
    assert dukcapil(http, sim, "penduduk", kode_wilayah="32.01", semester="2024-2").status_code == 404
    assert dukcapil(http, sim, "penduduk", kode_wilayah="32.71", semester="2019-1").status_code == 404
    assert dukcapil(http, sim, "penduduk", kode_wilayah="32.72", semester="2023-1").status_code == 200


# -- FHIR -------------------------------------------------------------------------------------
def test_fhir_token_endpoint(sim, http):
    url = f"{sim.satusehat_url}/oauth2/v1/accesstoken"
    good = {"client_id": sim.config.satusehat_client_id, "client_secret": sim.config.satusehat_client_secret}
    r = http.post(url, params={"grant_type": "client_credentials"}, data=good)
    body = r.json()
    assert r.status_code == 200 and body["access_token"] and body["expires_in"] == "3600"
    bad = http.post(url, params={"grant_type": "client_credentials"}, data={**good, "client_secret": "x"})
    assert bad.status_code == 401
    assert http.post(url, data=good).status_code == 400
    assert http.post(url, params={"grant_type": "client_credentials"}, data={}).status_code == 400


def test_fhir_search_pages_to_the_end_with_absolute_next_links(sim, http, bogor):
    token = fhir_token(http, sim)
    ge, lt = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 4, 1, tzinfo=timezone.utc)
    params = {"_lastUpdated": [f"ge{ge.isoformat()}", f"lt{lt.isoformat()}"], "_count": 97}
    first = http.get(f"{sim.satusehat_url}/fhir-r4/v1/Observation", params=params,
                     headers={"Authorization": f"Bearer {token}"}).json()
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert urlsplit(next_url).scheme == "http" and next_url.startswith(sim.satusehat_url)
    for kind in ("Patient", "Encounter", "Observation", "Condition"):
        resources = fhir_all(http, sim, kind, token, **params)
        assert len(resources) == expected_resource_count(bogor, kind, ge, lt) > 0, kind
        assert len({r["id"] for r in resources}) == len(resources)
        for r in resources:
            assert r["resourceType"] == kind
            updated = datetime.fromisoformat(r["meta"]["lastUpdated"])
            assert ge <= updated < lt


def test_fhir_resources_follow_the_profile_subset(sim, http):
    token = fhir_token(http, sim)
    params = {"_lastUpdated": ["ge2024-01-01", "lt2024-03-01"], "_count": 1000}
    patient = fhir_all(http, sim, "Patient", token, **params)[0]
    nik = next(i for i in patient["identifier"] if i["system"] == "https://fhir.kemkes.go.id/id/nik")
    assert re.fullmatch(r"\d{16}", nik["value"]) and patient["gender"] in ("male", "female")
    ext = patient["address"][0]["extension"][0]
    assert ext["url"] == "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"
    codes = {e["url"]: e["valueCode"] for e in ext["extension"]}
    assert codes["province"] == "32" and len(codes["village"]) == 10
    assert codes["village"][:2] == codes["province"] and codes["village"][:4] == codes["city"]
    assert codes["village"][:6] == codes["district"]
    encounter = fhir_all(http, sim, "Encounter", token, **params)[0]
    assert encounter["subject"]["reference"].startswith("Patient/")
    assert encounter["serviceProvider"]["reference"].startswith("Organization/")
    assert encounter["reasonCode"][0]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10"
    datetime.fromisoformat(encounter["period"]["start"])
    observations = fhir_all(http, sim, "Observation", token, **params)
    bp = next(o for o in observations if o["code"]["coding"][0]["code"] == "85354-9")
    assert {c["code"]["coding"][0]["code"] for c in bp["component"]} == {"8480-6", "8462-4"}
    weight = next(o for o in observations if o["code"]["coding"][0]["code"] == "29463-7")
    assert weight["valueQuantity"]["unit"] == "kg" and weight["code"]["coding"][0]["system"] == "http://loinc.org"
    condition = fhir_all(http, sim, "Condition", token, **params)[0]
    assert condition["clinicalStatus"]["coding"][0]["code"] in ("active", "resolved", "inactive")
    datetime.fromisoformat(condition["onsetDateTime"])


def test_fhir_auth_and_bad_params(sim, http):
    url = f"{sim.satusehat_url}/fhir-r4/v1/Encounter"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer made-up"}).status_code == 401
    h = {"Authorization": f"Bearer {fhir_token(http, sim)}"}
    for params in ({"_lastUpdated": "2024-01-01"}, {"_lastUpdated": "eq2024-01-01"},
                   {"_lastUpdated": ["ge2024-01-01", "gt2024-02-01"]}, {"_count": "0"}, {"_count": "many"},
                   {"patient": "x"}, {"_lastUpdated": "ge2024-13-45"}):
        r = http.get(url, params=params, headers=h)
        assert r.status_code == 400, params
        assert r.json()["resourceType"] == "OperationOutcome"
    assert http.get(f"{sim.satusehat_url}/fhir-r4/v1/Medication", headers=h).status_code == 404
    big = http.get(url, params={"_count": 100000}, headers=h).json()
    assert len(big["entry"]) == sim.config.max_page_size


def test_fhir_hub_holds_one_kab_kota(sim, http):
    token = fhir_token(http, sim)
    patients = fhir_all(http, sim, "Patient", token, _lastUpdated=["ge2024-01-01", "lt2024-02-01"], _count=500)
    villages = [p["address"][0]["extension"][0]["extension"][3]["valueCode"] for p in patients]
    assert sum(v.startswith("3271") for v in villages) > 0.9 * len(villages)


def test_lastupdated_bounds_found_without_converting_the_index_as_a_float_search_would():
    """The hub's window bounds (ge/gt/le/lt, with fractions of a second and open ends) select exactly
    the resources a float comparison selects, searched in the int64 index as whole seconds."""
    import numpy as np

    from spm.simulator.satusehat import bound_position

    lu = np.sort(np.random.default_rng(7).integers(1_700_000_000, 1_700_000_050, 400)).astype(np.int64)
    instants = [-np.inf, np.inf, 1_699_999_999.0, 1_700_000_060.0] + [
        1_700_000_000 + d for d in np.arange(-1, 52, 0.25).tolist()]
    for instant in instants:
        for side in ("left", "right"):
            expected = int(np.searchsorted(lu.astype(np.float64), instant, side=side))
            assert bound_position(lu, instant, side) == expected, (instant, side)
