"""FHIR search pages decoded straight into the kept fields (msgspec typed Structs), then flattened.

The fast path of spm.sources.fhir_resources: the same rows, from Structs that name only the fields
the warehouse keeps (everything else in a resource is skipped by the decoder, never built as Python
objects). A page that does not fit these shapes exactly (a number where text is expected, a coding
that is not an object, a resource of another type, a cut-short body...) raises `NotTyped`, and the
caller reads it the general way (orjson + the dict flatteners), which names what is wrong. So this
path never decides anything about bad data: it only makes well-formed pages cheaper.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from spm.sources.fhir_resources import (
    ADMINISTRATIVE_CODE, CLINICAL_SYSTEM, GENDER, ICD10_SYSTEM, LOINC_DIASTOLIK, LOINC_SISTOLIK, LOINC_SYSTEM,
    NIK_SYSTEM, VERIFICATION_SYSTEM, _text, dotted_desa, parse_date, parse_datetime, patient_identity,
)

Text = str | None


class NotTyped(Exception):
    """The page does not fit the typed shapes: read it the general way."""


class _S(msgspec.Struct, frozen=True, gc=False):
    pass


class Coding(_S):
    system: Text = None
    code: Text = None


class Concept(_S):
    coding: list[Coding] | None = None


class Reference(_S):
    reference: Text = None


class Meta(_S):
    lastUpdated: Text = None  # noqa: N815 - FHIR's name


class Quantity(_S):
    value: float | None = None
    unit: Text = None
    code: Text = None


class Identifier(_S):
    system: Text = None
    value: Text = None


class Part(_S):
    url: Text = None
    valueCode: Text = None  # noqa: N815


class Extension(_S):
    url: Text = None
    extension: list[Part] | None = None


class Address(_S):
    extension: list[Extension] | None = None


class Period(_S):
    start: Text = None


class Klass(_S):
    code: Text = None


class Component(_S):
    code: Concept | None = None
    valueQuantity: Quantity | None = None  # noqa: N815


class Patient(_S, tag_field="resourceType", tag="Patient"):
    id: Text = None
    meta: Meta | None = None
    identifier: list[Identifier] | None = None
    gender: Text = None
    birthDate: Text = None  # noqa: N815
    address: list[Address] | None = None


class Encounter(_S, tag_field="resourceType", tag="Encounter"):
    id: Text = None
    meta: Meta | None = None
    subject: Reference | None = None
    status: Text = None
    klass: Klass | None = msgspec.field(default=None, name="class")
    period: Period | None = None
    serviceProvider: Reference | None = None  # noqa: N815
    reasonCode: list[Concept] | None = None  # noqa: N815


class Observation(_S, tag_field="resourceType", tag="Observation"):
    id: Text = None
    meta: Meta | None = None
    subject: Reference | None = None
    status: Text = None
    code: Concept | None = None
    valueQuantity: Quantity | None = None  # noqa: N815
    valueCodeableConcept: Concept | None = None  # noqa: N815
    component: list[Component] | None = None
    effectiveDateTime: Text = None  # noqa: N815
    effectivePeriod: Period | None = None  # noqa: N815


class Condition(_S, tag_field="resourceType", tag="Condition"):
    id: Text = None
    meta: Meta | None = None
    subject: Reference | None = None
    clinicalStatus: Concept | None = None  # noqa: N815
    verificationStatus: Concept | None = None  # noqa: N815
    code: Concept | None = None
    onsetDateTime: Text = None  # noqa: N815


class OperationOutcome(_S, tag_field="resourceType", tag="OperationOutcome"):
    pass


class Link(_S):
    relation: Text = None
    url: Text = None


def _bundle_of(resource: type) -> type:
    # Built with defstruct: annotations here are real types, not the strings of `from __future__`.
    entry = msgspec.defstruct(f"{resource.__name__}Entry", [("resource", resource | OperationOutcome)],
                              bases=(_S,))
    return msgspec.defstruct(f"{resource.__name__}Bundle", [
        ("type", str), ("total", int | None, None), ("link", list[Link] | None, None),
        ("entry", list[entry] | None, None)], bases=(_S,), tag_field="resourceType", tag="Bundle")


DECODERS = {kind.__name__: msgspec.json.Decoder(_bundle_of(kind))
            for kind in (Patient, Encounter, Observation, Condition)}


def decode_page(content: bytes, resource_type: str) -> tuple[list, int | None, str | None]:
    """(resources as Structs, Bundle total, next link) of a well-formed searchset page; else NotTyped."""
    try:
        bundle = DECODERS[resource_type].decode(content)
    except msgspec.DecodeError:
        raise NotTyped() from None
    if bundle.type != "searchset":
        raise NotTyped()
    resources = [e.resource for e in bundle.entry or () if not isinstance(e.resource, OperationOutcome)]
    next_url = None
    for link in bundle.link or ():
        if link.relation == "next" and link.url:
            next_url = link.url
    return resources, bundle.total, next_url


# --- the flatteners of spm.sources.fhir_resources, over Structs (same tuples) ---------------------

def _ref_id(reference: Reference | None, kind: str) -> str | None:
    ref = reference.reference if reference is not None else None
    if ref is None:
        return None
    parts = ref.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != kind:
        return None
    return parts[-1] or None


def _coding(concept: Concept | None, system: str) -> tuple[str | None, str | None]:
    codings = concept.coding if concept is not None else None
    if not codings:
        return None, None
    for coding in codings:
        if coding.system == system:
            return _text(coding.code), system
    first = codings[0]
    return _text(first.code), _text(first.system)


def _last_updated(resource) -> object:
    return parse_datetime(resource.meta.lastUpdated) if resource.meta is not None else None


def _village(resource: Patient) -> str | None:
    if not resource.address:
        return None
    for ext in resource.address[0].extension or ():
        if ext.url == ADMINISTRATIVE_CODE:
            for part in ext.extension or ():
                if part.url == "village":
                    return dotted_desa(part.valueCode)
    return None


def flatten_patient(resource: Patient, secret: bytes, kode_kab_kota: str) -> tuple:
    pid = _text(resource.id)
    lahir = parse_date(resource.birthDate)
    gender = resource.gender
    jk = GENDER.get(gender) if gender is not None else None
    nik = None
    for ident in resource.identifier or ():
        if ident.system == NIK_SYSTEM:
            nik = ident.value.strip() if ident.value is not None else None
            break
    key, jenis_id, valid = patient_identity(secret, kode_kab_kota, pid, nik, lahir, jk)
    if jk is None and gender is not None:
        jk = _text(gender)
    return (pid, _last_updated(resource), key, jenis_id, valid, jk, lahir, _village(resource))


def flatten_encounter(resource: Encounter) -> tuple:
    kode, sistem = None, None
    for reason in resource.reasonCode or ():
        code, system = _coding(reason, ICD10_SYSTEM)
        if code is not None and (kode is None or (system == ICD10_SYSTEM and sistem != ICD10_SYSTEM)):
            kode, sistem = code, system
        if sistem == ICD10_SYSTEM:
            break
    period = resource.period
    return (
        _text(resource.id), _last_updated(resource), _ref_id(resource.subject, "Patient"),
        _text(resource.status), _text(resource.klass.code) if resource.klass is not None else None,
        parse_datetime(period.start) if period is not None else None,
        _ref_id(resource.serviceProvider, "Organization"), kode, sistem,
    )


def flatten_observation(resource: Observation) -> tuple:
    kode, sistem = _coding(resource.code, LOINC_SYSTEM)
    nilai = satuan = sistolik = diastolik = nilai_kode = None
    quantity = resource.valueQuantity
    if quantity is not None:
        nilai = quantity.value
        satuan = _text(quantity.code or quantity.unit)
    if resource.valueCodeableConcept is not None:
        nilai_kode = _coding(resource.valueCodeableConcept, LOINC_SYSTEM)[0]
    for component in resource.component or ():
        code = _coding(component.code, LOINC_SYSTEM)[0]
        value = component.valueQuantity.value if component.valueQuantity is not None else None
        if code == LOINC_SISTOLIK:
            sistolik = value
        elif code == LOINC_DIASTOLIK:
            diastolik = value
    effective = resource.effectiveDateTime
    if effective is None and resource.effectivePeriod is not None:
        effective = resource.effectivePeriod.start
    return (
        _text(resource.id), _last_updated(resource), _ref_id(resource.subject, "Patient"),
        _text(resource.status), parse_datetime(effective), kode, sistem, nilai, satuan, sistolik,
        diastolik, nilai_kode,
    )


def flatten_condition(resource: Condition) -> tuple:
    kode, sistem = _coding(resource.code, ICD10_SYSTEM)
    return (
        _text(resource.id), _last_updated(resource), _ref_id(resource.subject, "Patient"),
        _coding(resource.clinicalStatus, CLINICAL_SYSTEM)[0], _coding(resource.verificationStatus, VERIFICATION_SYSTEM)[0],
        parse_datetime(resource.onsetDateTime), kode, sistem,
    )


def flattener(entity: str, secret: bytes, kode_kab_kota: str) -> Callable[[object], tuple]:
    if entity == "pasien":
        return lambda resource: flatten_patient(resource, secret, kode_kab_kota)
    return {"kunjungan": flatten_encounter, "observasi": flatten_observation, "kondisi": flatten_condition}[entity]


def page_flattener(entity: str, secret: bytes, kode_kab_kota: str):
    """Page -> its rows: the typed flattener for a typed page, the general one otherwise."""
    from spm.sources import fhir_resources

    typed, general = flattener(entity, secret, kode_kab_kota), fhir_resources.flattener(entity, secret, kode_kab_kota)

    def rows(page) -> list[tuple]:
        flatten = typed if page.typed else general
        return [flatten(r) for r in page.resources]

    return rows
