"""Rendering of simulated records in the shapes of DESIGN §3: Dapodik rows, Dukcapil CSV, FHIR.

Only what a page needs is rendered, on request; nothing holds a whole area's JSON.
"""

from __future__ import annotations

import numpy as np

from spm.simulator.determinism import from_days, hash_uniform, person_name, stream_key, uuid_text, uuid_texts
from spm.simulator.education import AKTIF, BENTUK, PAUD, PROGRAM, STATUS, Learners
from spm.simulator.faults import NIK_MALFORMED, NIK_MISSING, malformed_nik, nik_fault
from spm.simulator.health import (
    CLINICAL_STATUS,
    ENCOUNTER_CLASS,
    ENCOUNTER_STATUS,
    ICD10,
    ICD_CODES,
    LOINC,
    OBSERVATION_STATUS,
    TEST_RESULT,
    VERIFICATION_STATUS,
    VERIFICATION_SYSTEM,
)
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


def mover_rows(world: KabKotaWorld, origin: KabKotaWorld, movers, index: np.ndarray) -> list[dict]:
    """The rows a school of `world` lists for learners who moved in from `origin` (spm.simulator.movers):
    the same person as in the origin's rows (NIK, NISN, name, birth), registered anew here (their own
    peserta_didik_id), aktif, with their new address."""
    e, p = world.pendidikan, origin.penduduk
    seed = world.config.seed
    pd_key = stream_key(seed, world.kode, "peserta_didik_id", "pindahan")
    name_key = stream_key(seed, origin.kode, "nama")
    nisn_key = stream_key(seed, origin.kode, "nisn")
    learners = origin.pendidikan.learners(movers.semester_id)
    out = []
    for i in index.tolist():
        who, row = int(movers.person[i]), int(movers.origin_row[i])
        tingkat = int(learners.tingkat[row])
        out.append({
            "peserta_didik_id": uuid_text(pd_key, who),
            "nisn": f"{int(p.birth_parts[0][who]) % 1000:03d}{(who * 7_919 + nisn_key) % 10**7:07d}",
            "nik": str(p.nik[who]),
            "nama": person_name(name_key, who, bool(p.sex[who])),
            "jenis_kelamin": SEXES[p.sex[who]],
            "tanggal_lahir": from_days(p.birth[who]).isoformat(),
            "tingkat_pendidikan_id": tingkat or None,
            "program_kesetaraan": PROGRAM[learners.program[row]],
            "kode_wilayah_domisili": world.penduduk.desa_kode[movers.desa[i]],
            "status": STATUS[AKTIF],
            "last_update": e.last_update(movers.semester_id, int(movers.school[i])),
        })
    return out


# -- FHIR -------------------------------------------------------------------------------------
# The hub renders a page at a time: the page's columns are gathered, hashed and formatted as arrays,
# then each resource is assembled from plain Python values (one resource at a time through numpy
# scalars made the simulated hub, not the ingest, the slowest part of a benchmark).

def _iso(seconds, suffix: str, offset_s: int = 0) -> list[str]:
    """Instants (seconds since the epoch) as ISO 8601 text with the given zone suffix, as
    datetime.isoformat writes them (iso_wib, iso_utc)."""
    moments = (np.asarray(seconds, dtype=np.int64) + offset_s).astype("datetime64[s]")
    return [t + suffix for t in np.datetime_as_string(moments, unit="s").tolist()]


def _iso_wib(seconds) -> list[str]:
    return _iso(seconds, "+07:00", 7 * 3600)


def _iso_utc(seconds) -> list[str]:
    return _iso(seconds, "+00:00")


def _patient_refs(patients, index) -> list[str]:
    """`Patient/<id>` of patient numbers (Patients.patient_id of each)."""
    ids = (np.asarray(index, dtype=np.int64) * 7_919_737 + patients.id_key) % 10**11
    return [f"Patient/P{i:011d}" for i in ids.tolist()]


def _served(res, rows: np.ndarray, updates: bool):
    """(version, lastUpdated, code, status, fhir status, verificationStatus) of the served version of
    each row (lists, lastUpdated an array; None for a column the type lacks)."""
    lu, code = res.last_updated[rows], res.code[rows]
    status = res.status[rows] if res.status is not None else None
    fhir_status = res.fhir_status[rows] if res.fhir_status is not None else None
    verification = res.verification[rows] if res.verification is not None else None
    version = np.ones(len(rows), dtype=np.int64)
    if updates and len(res.v2_rows):
        j = np.minimum(np.searchsorted(res.v2_rows, rows), len(res.v2_rows) - 1)
        second = res.v2_rows[j] == rows
        lu = np.where(second, res.v2_last_updated[j], lu)
        code = np.where(second, res.v2_code[j], code)
        if status is not None:
            status = np.where(second, res.v2_status[j], status)
        if fhir_status is not None:
            fhir_status = np.where(second, res.v2_fhir_status[j], fhir_status)
        if verification is not None:
            verification = np.where(second, res.v2_verification[j], verification)
        version[second] = 2

    def listed(values):
        return None if values is None else values.tolist()

    return version.tolist(), lu, code.tolist(), listed(status), listed(fhir_status), listed(verification)


def _meta(last_updated: str, version: int) -> dict:
    return {"versionId": str(version), "lastUpdated": last_updated}


def _village_extension(kode_desa: str) -> dict:
    prov, kab, kec, desa = kode_desa.split(".")
    parts = (("province", prov), ("city", prov + kab), ("district", prov + kab + kec),
             ("village", prov + kab + kec + desa))
    return {"url": ADMINISTRATIVE_CODE, "extension": [{"url": u, "valueCode": v} for u, v in parts]}


def patient_resources(world: KabKotaWorld, rows, invalid_nik_share: float) -> list[dict]:
    pt = world.kesehatan.patients
    rows = np.asarray(rows, dtype=np.int64)
    seed = world.config.seed
    states = nik_fault(seed, f"patient:{world.kode}", rows, invalid_nik_share).tolist()
    name_key = stream_key(seed, world.kode, "nama")
    ids = [ref[8:] for ref in _patient_refs(pt, rows)]
    updated = _iso_utc(pt.last_updated[rows])
    births = np.datetime_as_string(pt.birth[rows].astype("datetime64[D]"), unit="D").tolist()
    villages: dict[int, dict] = {}
    out = []
    for n, (i, nik, person, female, village) in enumerate(zip(
            rows.tolist(), pt.nik[rows].tolist(), pt.person[rows].tolist(), pt.sex[rows].tolist(),
            pt.village[rows].tolist())):
        resource = {"resourceType": "Patient", "id": ids[n], "meta": _meta(updated[n], 1)}
        state = states[n]
        if state != NIK_MISSING:
            nik = str(nik)
            value = malformed_nik(nik, i) if state == NIK_MALFORMED else nik
            resource["identifier"] = [{"use": "official", "system": NIK_SYSTEM, "value": value}]
        female = bool(female)
        if village not in villages:
            villages[village] = _village_extension(pt.villages[village])
        resource.update({
            "active": True,
            "name": [{"use": "official",
                      "text": person_name(name_key, person if person >= 0 else 10**9 + i, female)}],
            "gender": "female" if female else "male",
            "birthDate": births[n],
            "address": [{"use": "home", "country": "ID", "extension": [villages[village]]}],
        })
        out.append(resource)
    return out


def _icd(code: int) -> dict:
    c = ICD_CODES[code]
    return {"coding": [{"system": ICD10_SYSTEM, "code": c, "display": ICD10[c]}]}


def _page(world: KabKotaWorld, kind: str, rows, updates: bool):
    """What a page of a non-Patient type needs for every resource: its table, rows, served versions,
    codes and statuses, ids, `meta` and `subject` references."""
    res = world.kesehatan.all_resources[kind]
    rows = np.asarray(rows, dtype=np.int64)
    versions, lu, codes, statuses, fhir_statuses, verifications = _served(res, rows, updates)
    ids = uuid_texts(stream_key(world.config.seed, world.kode, kind), rows)
    metas = [_meta(u, v) for u, v in zip(_iso_utc(lu), versions)]
    subjects = _patient_refs(world.kesehatan.patients, res.patient[rows])
    return res, rows, versions, codes, statuses, fhir_statuses, verifications, ids, metas, subjects


def encounter_resources(world: KabKotaWorld, rows, updates: bool) -> list[dict]:
    h = world.kesehatan
    res, rows, _, codes, classes, fhir_statuses, _, ids, metas, subjects = _page(world, "Encounter", rows, updates)
    inpatient = np.array([k == "IMP" for k in ENCOUNTER_CLASS])[np.asarray(classes, dtype=np.int64)]
    start = res.time[rows].astype(np.int64)
    starts, ends = _iso_wib(start), _iso_wib(start + np.where(inpatient, 86_400, 1_800))
    orgs = res.org[rows].tolist()
    out = []
    for n, klass in enumerate(classes):
        out.append({
            "resourceType": "Encounter",
            "id": ids[n],
            "meta": metas[n],
            "status": ENCOUNTER_STATUS[fhir_statuses[n]],
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": ENCOUNTER_CLASS[klass],
                      "display": "inpatient encounter" if ENCOUNTER_CLASS[klass] == "IMP" else "ambulatory"},
            "subject": {"reference": subjects[n]},
            "period": {"start": starts[n], "end": ends[n]},
            "serviceProvider": {"reference": f"Organization/{h.organizations[orgs[n]]}"},
            "reasonCode": [_icd(codes[n])],
        })
    return out


def observation_resources(world: KabKotaWorld, rows, updates: bool) -> list[dict]:
    h = world.kesehatan
    res, rows, versions, codes, _, fhir_statuses, _, ids, metas, subjects = _page(world, "Observation", rows, updates)
    effective = _iso_wib(res.time[rows])
    first_codes = res.code[rows].tolist()
    values = res.value[rows].tolist()
    values2 = res.value2[rows].tolist() if res.value2 is not None else None
    tb, hiv = world.config.tb_test_loinc, world.config.hiv_test_loinc
    out = []
    for n, code_idx in enumerate(codes):
        code = h.loinc_codes[code_idx]
        version = versions[n]
        tb_or_hiv = code in tb or code in hiv
        display, unit, category = LOINC.get(code, ("Tuberculosis test" if code in tb else "HIV test", None,
                                                   "laboratory"))
        value = values[n]
        if version == 2 and code_idx != first_codes[n] and code == "15074-8":
            value = round(value / 18.0, 1)  # glucose re-sent in mmol/L
        elif version == 2 and unit is not None:
            value = round(value * 1.02, 1)  # a corrected reading
        resource = {
            "resourceType": "Observation",
            "id": ids[n],
            "meta": metas[n],
            "status": OBSERVATION_STATUS[fhir_statuses[n]],
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": category}]}],
            "code": {"coding": [{"system": LOINC_SYSTEM, "code": code, "display": display}]},
            "subject": {"reference": subjects[n]},
            "effectiveDateTime": effective[n],
        }
        if code == "85354-9":
            resource["component"] = [
                {"code": {"coding": [{"system": LOINC_SYSTEM, "code": c, "display": d}]},
                 "valueQuantity": {"value": v, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}}
                for c, d, v in (("8480-6", "Systolic blood pressure", value),
                                ("8462-4", "Diastolic blood pressure", values2[n]))
            ]
        elif tb_or_hiv:
            answer, text = TEST_RESULT[int(value)]
            resource["valueCodeableConcept"] = {"coding": [{"system": LOINC_SYSTEM, "code": answer, "display": text}]}
        elif unit is not None:
            resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
        out.append(resource)
    return out


def condition_resources(world: KabKotaWorld, rows, updates: bool) -> list[dict]:
    res, rows, _, codes, statuses, _, verifications, ids, metas, subjects = _page(world, "Condition", rows, updates)
    onsets = _iso_wib(res.time[rows])
    recorded = _iso_wib(res.last_updated[rows].astype(np.int64) - 60)  # first recorded a minute before saving
    out = []
    for n, status in enumerate(statuses):
        resource = {
            "resourceType": "Condition",
            "id": ids[n],
            "meta": metas[n],
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": CLINICAL_STATUS[status]}]},
        }
        if verifications[n] >= 0:
            resource["verificationStatus"] = {"coding": [{"system": VERIFICATION_SYSTEM,
                                                          "code": VERIFICATION_STATUS[verifications[n]]}]}
        resource.update({
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                      "code": "encounter-diagnosis"}]}],
            "code": _icd(codes[n]),
            "subject": {"reference": subjects[n]},
            "onsetDateTime": onsets[n],
            "recordedDate": recorded[n],
        })
        out.append(resource)
    return out


# Resource type -> renderer of a page of rows (row numbers of the type's table).
RENDERERS = {"Encounter": encounter_resources, "Observation": observation_resources,
             "Condition": condition_resources}


def patient_resource(world: KabKotaWorld, i: int, invalid_nik_share: float) -> dict:
    return patient_resources(world, [i], invalid_nik_share)[0]


def fhir_resource(world: KabKotaWorld, kind: str, i: int, updates: bool = False) -> dict:
    """One resource of a non-Patient type, as the hub serves it."""
    return RENDERERS[kind](world, [i], updates)[0]
