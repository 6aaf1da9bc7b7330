"""The typed page decoder (spm.sources.fhir_typed) gives exactly the rows of the general path
(orjson + spm.sources.fhir_resources) on every page it accepts, and refuses every page that does not
fit its shapes, which the general path then reads (and judges)."""

from __future__ import annotations

import copy

import orjson
import pytest

from spm.sources.fhir_typed import NotTyped, decode_page, page_flattener
from spm.sources.satusehat import _BrokenPage, parse_page
from spm.simulator import SimulatorConfig, World
from spm.simulator.records import RENDERERS, patient_resources

SECRET = b"typed-test-secret"
KODE = "32.71"
ENTITY = {"Patient": "pasien", "Encounter": "kunjungan", "Observation": "observasi", "Condition": "kondisi"}


@pytest.fixture(scope="module")
def world():
    config = SimulatorConfig(kode_wilayah=(KODE,), scale=0.002, seed=5, update_share=0.3)
    return World(config)[KODE]


def _resources(world, kind: str, updates: bool = False) -> list[dict]:
    if kind == "Patient":
        return patient_resources(world, range(len(world.kesehatan.patients)), 0.2)
    return RENDERERS[kind](world, range(len(world.kesehatan.all_resources[kind])), updates)


def _bundle(resources: list, total: int | None = None, next_url: str | None = "http://h/next") -> bytes:
    body = {"resourceType": "Bundle", "type": "searchset", "total": len(resources) if total is None else total,
            "link": [{"relation": "self", "url": "http://h/self"}],
            "entry": [{"fullUrl": f"http://h/{i}", "resource": r, "search": {"mode": "match"}}
                      for i, r in enumerate(resources)]}
    if next_url:
        body["link"].append({"relation": "next", "url": next_url})
    return orjson.dumps(body)


def _both(content: bytes, kind: str):
    rows = page_flattener(ENTITY[kind], SECRET, KODE)
    typed = parse_page(content, kind, typed=True)
    general = parse_page(content, kind, typed=False)
    assert not general.typed
    return typed, rows(typed), rows(general), general


@pytest.mark.parametrize("kind", list(ENTITY))
@pytest.mark.parametrize("updates", [False, True])
def test_simulated_pages_decode_typed_to_the_same_rows(world, kind, updates):
    resources = _resources(world, kind, updates)
    assert len(resources) > 50
    typed, typed_rows, general_rows, general = _both(_bundle(resources), kind)
    assert typed.typed
    assert typed_rows == general_rows
    assert (typed.total, typed.next_url, typed.sha256) == (general.total, general.next_url, general.sha256)


def _messy(world) -> list[tuple[str, callable]]:
    """Shapes the general path reads leniently (or judges): each either decodes typed to the same rows
    or is refused and read the general way."""
    def set_(path, value):
        def change(r):
            target = r
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return change

    def drop(key):
        return lambda r: r.pop(key, None)

    return [
        ("Encounter", set_(["status"], 7)),
        ("Encounter", set_(["status"], None)),
        ("Encounter", drop("class")),
        ("Encounter", set_(["class"], "AMB")),
        ("Encounter", set_(["reasonCode"], [{"coding": ["J06.9"]}])),
        ("Encounter", set_(["reasonCode"], [{"coding": [{"system": "x", "code": "A"}, {"code": "B"}]}])),
        ("Encounter", set_(["subject", "reference"], "Group/1")),
        ("Encounter", set_(["period"], {"start": "2024-02"})),
        ("Encounter", set_(["meta"], None)),
        ("Encounter", set_(["id"], "  ")),
        ("Encounter", set_(["id"], 12345)),
        ("Observation", set_(["valueQuantity"], {"value": True, "unit": "kg"})),
        ("Observation", set_(["valueQuantity"], {"value": "12", "unit": "kg"})),
        ("Observation", set_(["valueQuantity"], {"value": 12, "unit": "kg"})),
        ("Observation", set_(["effectiveDateTime"], 20240101)),
        ("Observation", lambda r: (r.pop("effectiveDateTime"), r.update(effectivePeriod={"start": "2024-03-04T05:06:07+07:00"}))),
        ("Observation", set_(["component"], [None, {"code": {"coding": [{"code": "8480-6"}]}}])),
        ("Condition", set_(["clinicalStatus"], {"coding": []})),
        ("Condition", set_(["verificationStatus"], {"coding": [{"system": 1, "code": "refuted"}]})),
        ("Condition", drop("onsetDateTime")),
        ("Patient", set_(["gender"], "unknown")),
        ("Patient", set_(["gender"], ["male"])),
        ("Patient", set_(["identifier"], [{"system": "https://fhir.kemkes.go.id/id/nik", "value": None}])),
        ("Patient", set_(["address"], [])),
        ("Patient", set_(["address"], ["Jl. Merdeka"])),
        ("Patient", set_(["birthDate"], "2020-13-40")),
        ("Patient", lambda r: r["address"][0]["extension"][0]["extension"][3].update(valueCode=3271011001)),
    ]


@pytest.mark.slow
def test_messy_resources_give_the_same_rows_or_are_read_the_general_way(world):
    refused = 0
    for n, (kind, change) in enumerate(_messy(world)):
        resources = copy.deepcopy(_resources(world, kind)[:5])
        change(resources[2])
        content = _bundle(resources)
        typed, typed_rows, general_rows, _ = _both(content, kind)
        assert typed_rows == general_rows, n
        if not typed.typed:
            refused += 1
            with pytest.raises(NotTyped):
                decode_page(content, kind)
    assert 5 <= refused < len(_messy(world))  # both branches are exercised


def test_pages_that_break_the_contract_are_left_to_the_general_path(world):
    encounters = _resources(world, "Encounter")[:3]
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "processing"}]}
    typed, typed_rows, general_rows, _ = _both(_bundle([*encounters, outcome]), "Encounter")
    assert typed.typed and len(typed_rows) == 3 and typed_rows == general_rows
    for content, error in ((_bundle(encounters)[:-40], _BrokenPage),
                           (_bundle([*encounters, _resources(world, "Condition")[0]]), Exception),
                           (_bundle(encounters).replace(b'"searchset"', b'"history"'), Exception)):
        with pytest.raises(NotTyped):
            decode_page(content, "Encounter")
        with pytest.raises(error):
            parse_page(content, "Encounter", typed=True)
    empty = parse_page(_bundle([], next_url=None), "Condition", typed=True)
    assert empty.typed and empty.resources == [] and empty.next_url is None
