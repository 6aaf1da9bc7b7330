"""Rendering of simulated records in the shapes of DESIGN §3: Dapodik rows, Dukcapil CSV, FHIR.

Only what a page needs is rendered, on request; nothing holds a whole area's JSON.
"""

from __future__ import annotations

import numpy as np

from spm.simulator.determinism import from_days, hash_uniform, iso_utc, iso_wib, person_name, stream_key, uuid_text
from spm.simulator.education import BENTUK, PAUD, PROGRAM, STATUS, Learners
from spm.simulator.faults import NIK_MALFORMED, NIK_MISSING, malformed_nik, nik_fault, nik_fault_one
from spm.simulator.health import CLINICAL_STATUS, ENCOUNTER_CLASS, ICD10, ICD_CODES, LOINC, TEST_RESULT
from spm.simulator.population import N_AGES, SEXES
from spm.simulator.world import KabKotaWorld

NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"
ADMINISTRATIVE_CODE = "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
LOINC_SYSTEM = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PENDUDUK_HEADER = "semester,kode_desa,jenis_kelamin,umur,jumlah"
KELAHIRAN_HEADER = "tahun,bulan,kode_desa,jenis_kelamin,jumlah"


# -- Dukcapil ---------------------------------------------------------------------------------
def penduduk_rows(world: KabKotaWorld, tahun: int, semester: int):
    """(semester, kode_desa, jenis_kelamin, umur, jumlah) for every desa x sex x age, zeros included."""
    counts = world.penduduk.semester_counts(tahun, semester)
    label = f"{tahun}-{semester}"
    for d, kode in enumerate(world.penduduk.desa_kode):
        for s, sex in enumerate(SEXES):
            for age in range(N_AGES):
                yield label, kode, sex, age, int(counts[d, s, age])


def kelahiran_rows(world: KabKotaWorld, tahun: int):
    """(tahun, bulan, kode_desa, jenis_kelamin, jumlah) for every month x desa x sex."""
    counts = world.penduduk.birth_counts(tahun)
    for m in range(12):
        for d, kode in enumerate(world.penduduk.desa_kode):
            for s, sex in enumerate(SEXES):
                yield tahun, m + 1, kode, sex, int(counts[m, d, s])


def csv_text(header: str, rows) -> str:
    return header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)


# -- Dapodik ----------------------------------------------------------------------------------
def school_row(world: KabKotaWorld, school: int, semester_id: int) -> dict:
    e = world.pendidikan
    s = e.schools
    return {
        "sekolah_id": s.sekolah_id[school],
        "npsn": s.npsn[school],
        "nama": e.school_name(school),
        "bentuk_pendidikan": BENTUK[s.bentuk[school]],
        "status_sekolah": "Swasta" if s.swasta[school] else "Negeri",
        "kode_wilayah": world.penduduk.desa_kode[s.desa_idx[school]],
        "last_update": e.last_update(semester_id, school),
    }


def learner_rows(world: KabKotaWorld, learners: Learners, rows: slice, invalid_nik_share: float) -> list[dict]:
    e, p = world.pendidikan, world.penduduk
    seed, kode = world.config.seed, world.kode
    person = learners.person[rows]
    school = learners.school[rows]
    pd_key = stream_key(seed, kode, "peserta_didik_id")
    name_key = stream_key(seed, kode, "nama")
    nisn_key = stream_key(seed, kode, "nisn")
    no_nisn = hash_uniform(nisn_key, person) < np.where(np.isin(e.schools.bentuk[school], [BENTUK.index(b) for b in PAUD]), 0.4, 0.02)
    has_domisili = e.has_domisili(person)
    nik_state = nik_fault(seed, f"learner:{kode}:{learners.semester_id}", person, invalid_nik_share)
    birth_year = p.birth_parts[0][person]
    out = []
    for i, who in enumerate(person.tolist()):
        nik = str(p.nik[who])
        if nik_state[i] == NIK_MISSING:
            nik = None
        elif nik_state[i] == NIK_MALFORMED:
            nik = malformed_nik(nik, who)
        tingkat = int(learners.tingkat[rows][i])
        out.append({
            "peserta_didik_id": uuid_text(pd_key, who),
            "nisn": None if no_nisn[i] else f"{birth_year[i] % 1000:03d}{(who * 7_919 + nisn_key) % 10**7:07d}",
            "nik": nik,
            "nama": person_name(name_key, who, bool(p.sex[who])),
            "jenis_kelamin": SEXES[p.sex[who]],
            "tanggal_lahir": from_days(p.birth[who]).isoformat(),
            "tingkat_pendidikan_id": tingkat or None,
            "program_kesetaraan": PROGRAM[learners.program[rows][i]],
            "kode_wilayah_domisili": p.desa_kode[p.desa_idx[who]] if has_domisili[i] else None,
            "status": STATUS[learners.status[rows][i]],
            "last_update": e.last_update(learners.semester_id, int(school[i])),
        })
    return out


# -- FHIR -------------------------------------------------------------------------------------
def _meta(last_updated: int, version: int) -> dict:
    return {"versionId": str(version), "lastUpdated": iso_utc(last_updated)}


def _village_extension(kode_desa: str) -> dict:
    prov, kab, kec, desa = kode_desa.split(".")
    parts = (("province", prov), ("city", prov + kab), ("district", prov + kab + kec),
             ("village", prov + kab + kec + desa))
    return {"url": ADMINISTRATIVE_CODE, "extension": [{"url": u, "valueCode": v} for u, v in parts]}


def patient_resource(world: KabKotaWorld, i: int, invalid_nik_share: float) -> dict:
    pt = world.kesehatan.patients
    nik = str(pt.nik[i])
    state = nik_fault_one(world.config.seed, f"patient:{world.kode}", i, invalid_nik_share)
    resource = {
        "resourceType": "Patient",
        "id": pt.patient_id(i),
        "meta": _meta(int(pt.last_updated[i]), 1),
    }
    if state != NIK_MISSING:
        value = malformed_nik(nik, i) if state == NIK_MALFORMED else nik
        resource["identifier"] = [{"use": "official", "system": NIK_SYSTEM, "value": value}]
    female = bool(pt.sex[i])
    resource.update({
        "active": True,
        "name": [{"use": "official", "text": person_name(stream_key(world.config.seed, world.kode, "nama"),
                                                          int(pt.person[i]) if pt.person[i] >= 0 else 10**9 + i,
                                                          female)}],
        "gender": "female" if female else "male",
        "birthDate": from_days(pt.birth[i]).isoformat(),
        "address": [{"use": "home", "country": "ID", "extension": [_village_extension(pt.villages[pt.village[i]])]}],
    })
    return resource


def _version(res, i: int, updates: bool) -> tuple[int, int, int, int | None]:
    """(version, lastUpdated, code, status) of the served version of row i."""
    if updates and res.is_updated(i):
        j = int(np.searchsorted(res.v2_rows, i))
        status = int(res.v2_status[j]) if res.status is not None else None
        return 2, int(res.v2_last_updated[j]), int(res.v2_code[j]), status
    status = int(res.status[i]) if res.status is not None else None
    return 1, int(res.last_updated[i]), int(res.code[i]), status


def _icd(code: int) -> dict:
    c = ICD_CODES[code]
    return {"coding": [{"system": ICD10_SYSTEM, "code": c, "display": ICD10[c]}]}


def encounter_resource(world: KabKotaWorld, i: int, updates: bool) -> dict:
    h = world.kesehatan
    res = h.encounters
    version, last_updated, code, klass = _version(res, i, updates)
    start = int(res.time[i])
    inpatient = ENCOUNTER_CLASS[klass] == "IMP"
    return {
        "resourceType": "Encounter",
        "id": uuid_text(stream_key(world.config.seed, world.kode, "Encounter"), i),
        "meta": _meta(last_updated, version),
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": ENCOUNTER_CLASS[klass],
                  "display": "inpatient encounter" if inpatient else "ambulatory"},
        "subject": {"reference": f"Patient/{h.patients.patient_id(int(res.patient[i]))}"},
        "period": {"start": iso_wib(start), "end": iso_wib(start + (86_400 if inpatient else 1_800))},
        "serviceProvider": {"reference": f"Organization/{h.organizations[int(res.org[i])]}"},
        "reasonCode": [_icd(code)],
    }


def observation_resource(world: KabKotaWorld, i: int, updates: bool) -> dict:
    h = world.kesehatan
    res = h.observations
    version, last_updated, code_idx, _ = _version(res, i, updates)
    code = h.loinc_codes[code_idx]
    tb_or_hiv = code in world.config.tb_test_loinc or code in world.config.hiv_test_loinc
    display, unit, category = LOINC.get(code, ("Tuberculosis test" if code in world.config.tb_test_loinc
                                               else "HIV test", None, "laboratory"))
    value = float(res.value[i])
    if version == 2 and code_idx != res.code[i] and code == "15074-8":
        value = round(value / 18.0, 1)  # glucose re-sent in mmol/L
    elif version == 2 and unit is not None:
        value = round(value * 1.02, 1)  # a corrected reading
    resource = {
        "resourceType": "Observation",
        "id": uuid_text(stream_key(world.config.seed, world.kode, "Observation"), i),
        "meta": _meta(last_updated, version),
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": category}]}],
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{h.patients.patient_id(int(res.patient[i]))}"},
        "effectiveDateTime": iso_wib(int(res.time[i])),
    }
    if code == "85354-9":
        resource["component"] = [
            {"code": {"coding": [{"system": LOINC_SYSTEM, "code": c, "display": d}]},
             "valueQuantity": {"value": v, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}}
            for c, d, v in (("8480-6", "Systolic blood pressure", value),
                            ("8462-4", "Diastolic blood pressure", float(res.value2[i])))
        ]
    elif tb_or_hiv:
        answer, text = TEST_RESULT[int(value)]
        resource["valueCodeableConcept"] = {"coding": [{"system": LOINC_SYSTEM, "code": answer, "display": text}]}
    elif unit is not None:
        resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    return resource


def condition_resource(world: KabKotaWorld, i: int, updates: bool) -> dict:
    h = world.kesehatan
    res = h.conditions
    version, last_updated, code, status = _version(res, i, updates)
    return {
        "resourceType": "Condition",
        "id": uuid_text(stream_key(world.config.seed, world.kode, "Condition"), i),
        "meta": _meta(last_updated, version),
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": CLINICAL_STATUS[status]}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "encounter-diagnosis"}]}],
        "code": _icd(code),
        "subject": {"reference": f"Patient/{h.patients.patient_id(int(res.patient[i]))}"},
        "onsetDateTime": iso_wib(int(res.time[i])),
        "recordedDate": iso_wib(int(res.last_updated[i]) - 60),  # first recorded a minute before saving
    }


RENDERERS = {"Encounter": encounter_resource, "Observation": observation_resource, "Condition": condition_resource}
