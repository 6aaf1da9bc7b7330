"""Health ingest without a server: flattening of real-shaped FHIR resources, pseudonymisation,
windows, hub connections and page parsing."""

from datetime import date, datetime, timedelta, timezone

import orjson
import pytest

from spm.errors import ConfigError
from spm.ingest import kesehatan as k
from spm.privacy import person_key
from spm.sources.http import SourceError
from spm.sources.satusehat import _BrokenPage, fhir_instant, parse_page

SECRET = b"unit-test-secret-0123456789"
WIB = timezone(timedelta(hours=7))
NIK = "3271014503920001"  # 32.71.01, woman born 05-03-1992, serial 0001

PATIENT = {
    "resourceType": "Patient",
    "id": "P00012345678",
    "meta": {"versionId": "1", "lastUpdated": "2025-03-04T05:06:07+00:00"},
    "identifier": [{"use": "official", "system": "https://fhir.kemkes.go.id/id/ihs", "value": "100000030009"},
                   {"use": "official", "system": "https://fhir.kemkes.go.id/id/nik", "value": NIK}],
    "active": True,
    "name": [{"use": "official", "text": "Siti Lestari"}],
    "telecom": [{"system": "phone", "value": "08123456789"}],
    "gender": "female",
    "birthDate": "1992-03-05",
    "address": [{"use": "home", "line": ["Jl. Pajajaran No. 1"], "city": "Kota Bogor", "country": "ID",
                 "extension": [{"url": "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode",
                                "extension": [{"url": "province", "valueCode": "32"},
                                              {"url": "city", "valueCode": "3271"},
                                              {"url": "district", "valueCode": "327101"},
                                              {"url": "village", "valueCode": "3271011001"}]}]}],
}

ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    "meta": {"versionId": "2", "lastUpdated": "2025-03-04T10:00:00+00:00"},
    "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
    "subject": {"reference": "Patient/P00012345678", "display": "Siti Lestari"},
    "participant": [{"individual": {"reference": "Practitioner/N10000001"}}],
    "period": {"start": "2025-03-04T08:15:00+07:00", "end": "2025-03-04T08:45:00+07:00"},
    "serviceProvider": {"reference": "Organization/a1b2c3d4-0000-4000-8000-000000000001"},
    "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "72892002"}]},
                   {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "Z34.0",
                                "display": "Supervision of normal first pregnancy"}]}],
}

BLOOD_PRESSURE = {
    "resourceType": "Observation",
    "id": "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e",
    "meta": {"versionId": "1", "lastUpdated": "2025-03-04T11:00:00Z"},
    "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "vital-signs"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]},
    "subject": {"reference": "https://fhir.example/fhir-r4/v1/Patient/P00012345678"},
    "effectiveDateTime": "2025-03-04T09:00:00+07:00",
    "component": [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": 132, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": 84.5, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
    ],
}

CONDITION = {
    "resourceType": "Condition",
    "id": "c0ffee00-1111-4222-8333-444455556666",
    "meta": {"lastUpdated": "2025-03-05T01:02:03+00:00"},
    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                   "code": "active"}]},
    "verificationStatus": {"coding": [{"code": "confirmed"}]},
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10", "display": "Essential hypertension"}]},
    "subject": {"reference": "Patient/P00012345678"},
    "onsetDateTime": "2019-07-01T10:00:00+07:00",
    "recordedDate": "2025-03-05T08:00:00+07:00",
}


def test_patient_every_field_and_no_nik_or_name():
    row = k.flatten_patient(PATIENT, SECRET, "32.71")
    assert dict(zip(k.PASIEN.columns, row)) == {
        "pasien_id": "P00012345678",
        "last_updated": datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc),
        "person_key": person_key(SECRET, NIK),
        "jenis_id": "nik",
        "nik_valid": True,
        "jenis_kelamin": "P",
        "tanggal_lahir": date(1992, 3, 5),
        "kode_desa": "32.71.01.1001",
    }
    text = repr(row)
    assert NIK not in text and "Siti" not in text and "0812" not in text


@pytest.mark.parametrize("identifier", [
    [],  # no NIK at all
    [{"system": "https://fhir.kemkes.go.id/id/nik", "value": NIK[:-1]}],  # a digit short
    [{"system": "https://fhir.kemkes.go.id/id/nik", "value": "3271010503920001"}],  # male day part, female patient
])
def test_patient_without_a_valid_nik_is_keyed_by_its_resource_id(identifier):
    row = dict(zip(k.PASIEN.columns, k.flatten_patient({**PATIENT, "identifier": identifier}, SECRET, "32.71")))
    assert row["person_key"] == person_key(SECRET, "32.71:P00012345678", "satusehat")
    assert (row["jenis_id"], row["nik_valid"]) == ("fhir", False)
    assert NIK[:12] not in repr(row)


def test_patient_odd_values_are_kept_for_the_suite_to_name():
    odd = {**PATIENT, "gender": "unknown", "birthDate": "1992-03", "meta": {},
           "address": [{"extension": [{"url": "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode",
                                       "extension": [{"url": "village", "valueCode": "32710110"}]}]}]}
    row = dict(zip(k.PASIEN.columns, k.flatten_patient(odd, SECRET, "32.71")))
    assert (row["jenis_kelamin"], row["tanggal_lahir"], row["last_updated"], row["kode_desa"]) == (
        "unknown", None, None, "32710110")
    assert k.flatten_patient({"resourceType": "Patient"}, SECRET, "32.71") == (
        None, None, None, None, False, None, None, None)


def test_encounter_every_field_prefers_the_icd10_reason():
    row = dict(zip(k.KUNJUNGAN.columns, k.flatten_encounter(ENCOUNTER)))
    assert row == {
        "kunjungan_id": "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        "last_updated": datetime(2025, 3, 4, 10, tzinfo=timezone.utc),
        "pasien_id": "P00012345678",
        "status": "finished",
        "kelas": "AMB",
        "tanggal_mulai": datetime(2025, 3, 4, 8, 15, tzinfo=WIB),
        "organisasi_id": "a1b2c3d4-0000-4000-8000-000000000001",
        "kode_alasan": "Z34.0",
        "sistem_alasan": "http://hl7.org/fhir/sid/icd-10",
    }
    only_snomed = {**ENCOUNTER, "reasonCode": ENCOUNTER["reasonCode"][:1], "subject": {"reference": "Group/7"}}
    row = dict(zip(k.KUNJUNGAN.columns, k.flatten_encounter(only_snomed)))
    assert (row["kode_alasan"], row["sistem_alasan"], row["pasien_id"]) == ("72892002", "http://snomed.info/sct", None)


def test_observation_components_quantities_and_coded_results():
    row = dict(zip(k.OBSERVASI.columns, k.flatten_observation(BLOOD_PRESSURE)))
    assert row == {
        "observasi_id": "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e",
        "last_updated": datetime(2025, 3, 4, 11, tzinfo=timezone.utc),
        "pasien_id": "P00012345678",  # from an absolute reference
        "status": "final",
        "tanggal_efektif": datetime(2025, 3, 4, 9, tzinfo=WIB),
        "kode": "85354-9",
        "sistem_kode": "http://loinc.org",
        "nilai": None, "satuan": None,
        "nilai_sistolik": 132.0, "nilai_diastolik": 84.5,
        "nilai_kode": None,
    }
    weight = {**BLOOD_PRESSURE, "component": None,
              "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
              "valueQuantity": {"value": 12.4, "unit": "kilogram", "system": "http://unitsofmeasure.org", "code": "kg"}}
    row = dict(zip(k.OBSERVASI.columns, k.flatten_observation(weight)))
    assert (row["kode"], row["nilai"], row["satuan"], row["nilai_sistolik"]) == ("29463-7", 12.4, "kg", None)
    hiv = {**weight, "valueQuantity": None, "effectiveDateTime": None,
           "effectivePeriod": {"start": "2025-03-04T09:30:00+07:00"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "75622-1"}]},
           "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA6577-6", "display": "Negative"}]}}
    row = dict(zip(k.OBSERVASI.columns, k.flatten_observation(hiv)))
    assert (row["nilai"], row["nilai_kode"], row["tanggal_efektif"]) == (
        None, "LA6577-6", datetime(2025, 3, 4, 9, 30, tzinfo=WIB))
    assert k.flatten_observation({**weight, "valueQuantity": {"value": "12,4"}})[7] is None  # text is no number


def test_condition_without_verification_status():
    bare = {k_: v for k_, v in CONDITION.items() if k_ != "verificationStatus"}
    assert dict(zip(k.KONDISI.columns, k.flatten_condition(bare)))["status_verifikasi"] is None


def test_condition_every_field():
    row = dict(zip(k.KONDISI.columns, k.flatten_condition(CONDITION)))
    assert row == {
        "kondisi_id": "c0ffee00-1111-4222-8333-444455556666",
        "last_updated": datetime(2025, 3, 5, 1, 2, 3, tzinfo=timezone.utc),
        "pasien_id": "P00012345678",
        "status_klinis": "active",
        "status_verifikasi": "confirmed",
        "tanggal_onset": datetime(2019, 7, 1, 10, tzinfo=WIB),
        "kode": "I10",
        "sistem_kode": "http://hl7.org/fhir/sid/icd-10",
    }


def test_flattening_the_simulators_resources_matches_its_records():
    from spm.simulator import SimulatorConfig, World
    from spm.simulator.records import fhir_resource, patient_resource

    world = World(SimulatorConfig(kode_wilayah=("32.71",), scale=0.001, seed=3))["32.71"]
    h = world.kesehatan
    i = int(h.observations.code.tolist().index(h.loinc["85354-9"]))
    bp = dict(zip(k.OBSERVASI.columns, k.flatten_observation(fhir_resource(world, "Observation", i))))
    assert (bp["nilai_sistolik"], bp["nilai_diastolik"]) == (float(h.observations.value[i]),
                                                            float(h.observations.value2[i]))
    assert bp["last_updated"].timestamp() == int(h.observations.last_updated[i])
    p = int(h.observations.patient[i])
    patient = dict(zip(k.PASIEN.columns, k.flatten_patient(patient_resource(world, p, 0.0), SECRET, "32.71")))
    assert patient["pasien_id"] == bp["pasien_id"] == h.patients.patient_id(p)
    assert patient["person_key"] == person_key(SECRET, str(h.patients.nik[p]))
    assert patient["kode_desa"] == h.patients.villages[h.patients.village[p]]


def test_windows_default_to_the_wib_day_before_the_run_and_are_checked():
    run_after = datetime(2025, 3, 4, 1, 0, tzinfo=timezone.utc)  # 08:00 WIB
    dari, sampai = k.default_window(run_after)
    assert (dari, sampai) == (datetime(2025, 3, 3, tzinfo=WIB), datetime(2025, 3, 4, tzinfo=WIB))
    late = datetime(2025, 3, 4, 20, 0, tzinfo=timezone.utc)  # already 5 March in WIB
    assert k.default_window(late)[0] == datetime(2025, 3, 4, tzinfo=WIB)
    w = k.Window.from_dict(k.windows(["32.71"], "2025-01-01", "2026-01-01T00:00:00+07:00")[0])
    assert w.periode == "2024-12-31T17:00:00Z/2025-12-31T17:00:00Z"
    assert fhir_instant(w.dari) == "2024-12-31T17:00:00Z"
    with pytest.raises(ConfigError, match="must be before"):
        k.windows(["32.71"], "2025-02-01", "2025-01-01")
    with pytest.raises(ConfigError, match="dari 'kemarin'"):
        k.windows(["32.71"], "kemarin", "2025-01-01")
    with pytest.raises(ConfigError, match="kabupaten/kota code"):
        k.windows(["3271"], "2025-01-01", "2025-01-02")


def test_each_kab_kota_reads_its_own_hub():
    defined = {"spm_satusehat_3201"}.__contains__
    assert k.hub_connections(["32.71", "32.01"], defined) == {"32.71": "spm_satusehat", "32.01": "spm_satusehat_3201"}
    with pytest.raises(ConfigError, match="spm_satusehat_3271, spm_satusehat_3272"):
        k.hub_connections(["32.71", "32.72"], lambda _: False)


def test_page_parsing():
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": 2,
              "link": [{"relation": "self", "url": "http://h/x"}, {"relation": "next", "url": "http://h/x?_offset=1"}],
              "entry": [{"resource": CONDITION, "search": {"mode": "match"}},
                        {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}}]}
    content = orjson.dumps(bundle)
    page = parse_page(content, "Condition")
    assert (page.resources, page.total, page.next_url) == ([CONDITION], 2, "http://h/x?_offset=1")
    with pytest.raises(_BrokenPage):
        parse_page(content[: len(content) // 2], "Condition")
    with pytest.raises(SourceError, match="returned a 'Condition' resource"):
        parse_page(content, "Encounter")


def test_observation_bounds_come_from_config_and_match_the_suite():
    w = k.Window.from_dict(k.windows(["32.71"], "2025-01-01", "2025-01-02")[0])
    params = k.validation_parameters("observasi", w)
    assert params["loinc_29463_7_min"] == 0.3 and params["loinc_8480_6_maks"] == 300
    with pytest.raises(ConfigError, match="min 5.0 is not below maks 1.0"):
        k.observation_bounds({"batas_fisiologis": {"29463-7": {"min": 5, "maks": 1}}})


def test_each_physiological_bound_applies_to_its_own_loinc_code_only():
    """The bounds are checked on derived columns (nilai where kode is the code): a value is judged
    by its own code's bound only, and a row with no bounded code is never judged by any of them."""
    from spm.ingest.kesehatan_spec import OBSERVASI
    from spm.ingest.kesehatan_validation import add_derived, frame_of, loinc_value_columns
    from spm.quality.gx_runner import validate_frame

    w = k.Window.from_dict(k.windows(["32.71"], "2025-01-01", "2025-01-02")[0])
    params = k.validation_parameters("observasi", w)
    derived = loinc_value_columns(OBSERVASI.suite)
    assert set(derived.values()) == {"29463-7", "8302-2", "39156-5", "2339-0", "15074-8", "2093-3", "4548-4"}
    when = datetime(2025, 1, 1, 3, tzinfo=timezone.utc)
    rows, expected = [], {}
    for i, (code, value, fails) in enumerate([
            ("29463-7", 400.0, "nilai_berat_badan_fisiologis"),  # above 350 kg
            ("2339-0", 400.0, None),  # 400 mg/dL glucose: fine, although above the weight bound
            ("8302-2", 10.0, "nilai_tinggi_badan_fisiologis"),
            ("4548-4", 30.0, "nilai_hba1c_fisiologis"),
            ("4548-4", 6.5, None),
            ("2093-3", None, None),  # no value: not a bound's business
            ("94500-6", 99999.0, None),  # a test code without a bound
    ], start=1):
        rows.append((i, f"obs-{i}", when, "P1", "final", when, code, "http://loinc.org", value, None, None, None, None))
        if fails:
            expected[i] = [fails]
    frame = frame_of(rows, ["row_id", *OBSERVASI.columns])
    add_derived(OBSERVASI, frame)
    report = validate_frame(OBSERVASI.suite, frame, params)
    assert not report.critical_failures
    assert report.rows_to_quarantine() == expected
    assert frame.loc[frame["kode"] == "2339-0", "nilai_loinc_2339_0"].tolist() == [400.0]
    assert frame["nilai_loinc_29463_7"].notna().sum() == 1


def test_a_window_longer_than_configured_is_refused_naming_the_limit():
    assert len(k.windows(["32.71"], "2016-12-01", "2026-11-22")) == 1  # a hub's whole history: fine
    with pytest.raises(ConfigError, match="spans 36525 days, more than kualitas.yaml kesehatan.jendela_maks_hari"):
        k.windows(["32.71"], "1926-01-01", "2026-01-01")
