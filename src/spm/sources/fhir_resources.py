"""FHIR R4 resources of a SATUSEHAT-style hub (DESIGN §3.3) flattened to staged rows.

One resource -> one tuple in the column order of its entity (spm.ingest.kesehatan_spec): ids and
references, clinical dates (a bare date or a zone-less time is read in Asia/Jakarta), statuses,
ICD-10/LOINC codings (the coding of the expected system first), values and blood-pressure
components, village codes in dotted Kemendagri form. A Patient's NIK is only hashed into
`person_key` here (spm.privacy) and never returned; names are never read. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any


from spm.privacy import nik_valid, person_key

WIB = timezone(timedelta(hours=7))  # default zone of a bare date or a zone-less time (Asia/Jakarta)

NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"
ADMINISTRATIVE_CODE = "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
LOINC_SYSTEM = "http://loinc.org"
LOINC_SISTOLIK, LOINC_DIASTOLIK = "8480-6", "8462-4"
CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _text(value: Any) -> str | None:
    """A value as stored text: blank or structured is NULL. Never cut: an overlong id cut to its
    column would merge distinct resources; staging holds it whole and the suite rejects it by name."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = value if isinstance(value, str) else str(value)
    return text.strip() or None


def parse_datetime(value: Any) -> datetime | None:
    """A FHIR dateTime/instant with a time as an aware datetime (zone-less: WIB); else None."""
    if not isinstance(value, str) or len(value) < 16:
        return None  # partial dates (YYYY, YYYY-MM, YYYY-MM-DD) carry no instant
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=WIB) if moment.tzinfo is None else moment


def parse_date(value: Any) -> date | None:
    """A full FHIR date `YYYY-MM-DD` (a partial one is unknown here); else None."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _ref_id(reference: Any, kind: str) -> str | None:
    """`Patient/<id>` (or an absolute URL ending so) -> `<id>`; a reference to another type -> None."""
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference")
    if not isinstance(ref, str):
        return None
    parts = ref.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != kind:
        return None
    return parts[-1] or None


def _coding(concept: Any, system: str) -> tuple[str | None, str | None]:
    """(code, system) of a CodeableConcept: the coding of `system` if any, else the first coding."""
    if not isinstance(concept, dict):
        return None, None
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return None, None
    first = None
    for coding in codings:
        if not isinstance(coding, dict):
            continue
        if coding.get("system") == system:
            return _text(coding.get("code")), system
        if first is None:
            first = coding
    if first is None:
        return None, None
    return _text(first.get("code")), _text(first.get("system"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _last_updated(resource: dict) -> datetime | None:
    meta = resource.get("meta")
    return parse_datetime(meta.get("lastUpdated")) if isinstance(meta, dict) else None


def dotted_desa(code: Any) -> str | None:
    """An undotted village code `3271011001` in the dotted Kemendagri form `32.71.01.1001`; any other
    shape is kept as it came so that the suite names it."""
    text = _text(code)
    if text is None:
        return None
    if len(text) == 10 and text.isdigit():
        return f"{text[:2]}.{text[2:4]}.{text[4:6]}.{text[6:]}"
    return text


def _village(resource: dict) -> str | None:
    addresses = resource.get("address")
    if not isinstance(addresses, list) or not addresses or not isinstance(addresses[0], dict):
        return None
    for ext in addresses[0].get("extension") or ():
        if isinstance(ext, dict) and ext.get("url") == ADMINISTRATIVE_CODE:
            for part in ext.get("extension") or ():
                if isinstance(part, dict) and part.get("url") == "village":
                    return dotted_desa(part.get("valueCode"))
    return None


def _nik(resource: dict) -> str | None:
    for ident in resource.get("identifier") or ():
        if isinstance(ident, dict) and ident.get("system") == NIK_SYSTEM:
            value = ident.get("value")
            return value.strip() if isinstance(value, str) else None
    return None


GENDER = {"male": "L", "female": "P"}


def patient_identity(secret: bytes, kode_kab_kota: str, pid: str | None, nik: str | None, lahir, jk: str | None
                     ) -> tuple[str | None, str | None, bool]:
    """(person_key, jenis_id, nik_valid): the HMAC of a valid NIK, else of the hub's resource id."""
    if nik_valid(nik, lahir, None if jk is None else jk == "P"):
        return person_key(secret, nik), "nik", True
    if pid:
        return person_key(secret, f"{kode_kab_kota}:{pid}", "satusehat"), "fhir", False
    return None, None, False


def flatten_patient(resource: dict, secret: bytes, kode_kab_kota: str) -> tuple:
    """PASIEN.columns of a Patient; the NIK is only hashed, the name never read."""
    pid = _text(resource.get("id"))
    lahir = parse_date(resource.get("birthDate"))
    gender = resource.get("gender")
    jk = GENDER.get(gender) if isinstance(gender, str) else None
    key, jenis_id, valid = patient_identity(secret, kode_kab_kota, pid, _nik(resource), lahir, jk)
    if jk is None and isinstance(gender, str):
        jk = _text(gender)  # other/unknown: kept so the suite can name it
    return (pid, _last_updated(resource), key, jenis_id, valid, jk, lahir, _village(resource))


def flatten_encounter(resource: dict) -> tuple:
    """KUNJUNGAN.columns of an Encounter (the first ICD-10 reasonCode; else the first coding)."""
    period = resource.get("period")
    klass = resource.get("class")
    kode, sistem = None, None
    for reason in resource.get("reasonCode") or ():
        code, system = _coding(reason, ICD10_SYSTEM)
        if code is not None and (kode is None or (system == ICD10_SYSTEM and sistem != ICD10_SYSTEM)):
            kode, sistem = code, system
        if sistem == ICD10_SYSTEM:
            break
    return (
        _text(resource.get("id")), _last_updated(resource), _ref_id(resource.get("subject"), "Patient"),
        _text(resource.get("status")), _text(klass.get("code")) if isinstance(klass, dict) else None,
        parse_datetime(period.get("start")) if isinstance(period, dict) else None,
        _ref_id(resource.get("serviceProvider"), "Organization"), kode, sistem,
    )


def flatten_observation(resource: dict) -> tuple:
    """OBSERVASI.columns of an Observation: valueQuantity, blood-pressure components, or a coded result."""
    kode, sistem = _coding(resource.get("code"), LOINC_SYSTEM)
    nilai = satuan = sistolik = diastolik = nilai_kode = None
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict):
        nilai = _number(quantity.get("value"))
        satuan = _text(quantity.get("code") or quantity.get("unit"))
    concept = resource.get("valueCodeableConcept")
    if isinstance(concept, dict):
        nilai_kode = _coding(concept, LOINC_SYSTEM)[0]
    for component in resource.get("component") or ():
        if not isinstance(component, dict):
            continue
        code = _coding(component.get("code"), LOINC_SYSTEM)[0]
        value = component.get("valueQuantity")
        value = _number(value.get("value")) if isinstance(value, dict) else None
        if code == LOINC_SISTOLIK:
            sistolik = value
        elif code == LOINC_DIASTOLIK:
            diastolik = value
    effective = resource.get("effectiveDateTime")
    if effective is None and isinstance(resource.get("effectivePeriod"), dict):
        effective = resource["effectivePeriod"].get("start")
    return (
        _text(resource.get("id")), _last_updated(resource), _ref_id(resource.get("subject"), "Patient"),
        _text(resource.get("status")), parse_datetime(effective), kode, sistem, nilai, satuan, sistolik,
        diastolik, nilai_kode,
    )


def flatten_condition(resource: dict) -> tuple:
    """KONDISI.columns of a Condition."""
    kode, sistem = _coding(resource.get("code"), ICD10_SYSTEM)
    status = _coding(resource.get("clinicalStatus"), CLINICAL_SYSTEM)[0]
    verifikasi = _coding(resource.get("verificationStatus"), VERIFICATION_SYSTEM)[0]
    return (
        _text(resource.get("id")), _last_updated(resource), _ref_id(resource.get("subject"), "Patient"),
        status, verifikasi, parse_datetime(resource.get("onsetDateTime")), kode, sistem,
    )


def flattener(entity: str, secret: bytes, kode_kab_kota: str) -> Callable[[dict], tuple]:
    if entity == "pasien":
        return lambda resource: flatten_patient(resource, secret, kode_kab_kota)
    return {"kunjungan": flatten_encounter, "observasi": flatten_observation, "kondisi": flatten_condition}[entity]
