"""GX's own validation results are kept (scrubbed of personal data) and rendered as GX Data Docs.

A real faulty Dapodik ingest from the simulator on SQLite and PostgreSQL: the stored results carry no
NIK, NISN or name; the GX pages show every expectation's name and the counts of dq_result; a rebuild
gives the same pages; the pages need no internet.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from spm.errors import InputError
from spm.quality import gx_scrub
from spm.reporting.kualitas import write_pages
from spm.warehouse.dq_results import store_gx_result
from tests.warehouses import with_wilayah

KODE, SEMESTER, SEED = "32.71", 20241, 7
AS_OF = datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)
NIK_LIKE = re.compile(r"(?<!\d)\d{16}(?!\d)")
EXTERNAL = re.compile(r"<(?:link|script|img|a)\b[^>]*\b(?:href|src)=\"https?://", re.I)  # no request, no link out


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_gx_results_kept_without_personal_data_and_rendered_as_data_docs(engine, monkeypatch, tmp_path):
    from spm.ingest import pendidikan as pdk
    from spm.simulator import Faults, SimulatorConfig, SimulatorServers
    from spm.warehouse.layanan import sync_dim_layanan
    from spm.warehouse.tables import dq_result, etl_batch
    from spm.warehouse.tables_dq import dq_validation_result
    from tests.ingest.test_pendidikan_ingest import _client, _source_rows

    with_wilayah(engine)
    sync_dim_layanan(engine)
    monkeypatch.setattr("spm.ingest.wap.quarantine_limit_percent", lambda: -1.0)
    monkeypatch.setattr("spm.ingest.wap.quarantine_min_rows", lambda: -1)
    with SimulatorServers(SimulatorConfig(kode_wilayah=(KODE,), scale=0.002, seed=SEED)) as sim:
        sim.faults.set(**vars(Faults(invalid_nik_share=0.3, transfer_share=0.05)))
        with pytest.raises(InputError), _client(sim) as client:
            pdk.ingest(engine, {"kode_kab_kota": KODE, "semester_id": SEMESTER}, "sim-run", client, b"s" * 32)
        sim.faults.clear()
        rows = _source_rows(sim, SEMESTER)
    niks = {r["nik"] for r in rows if r["nik"]}
    nisns = {r["nisn"] for r in rows if r["nisn"]}
    names = {r["nama"] for r in rows}

    with engine.connect() as conn:
        stored = conn.execute(sa.select(dq_validation_result)).all()
        dq = conn.execute(sa.select(dq_result)).all()
        batches = {b.batch_id: b for b in conn.execute(sa.select(etl_batch))}
    assert {s.suite for s in stored} == {"dapodik_sekolah", "dapodik_peserta_didik"}
    assert all(s.bagian == 0 and s.batch_id in batches for s in stored)
    for s in stored:  # privacy: no NIK-like value, no source NIK, NISN or name
        text = s.result_json
        m = NIK_LIKE.search(text)
        assert not m, text[max(0, m.start() - 300):m.end() + 50]
        assert not set(re.findall(r"\d+", text)) & (niks | nisns)
        assert not any(name in text for name in names)
        d = json.loads(text)
        for r in d["results"]:
            assert not {"partial_unexpected_list", "unexpected_list", "partial_unexpected_counts",
                        "unexpected_index_list", "partial_unexpected_index_list", "unexpected_index_query",
                        "details"} & set(r["result"])
        # GX's statistics and per-expectation counts agree with dq_result
        mine = {x.expectation: x for x in dq if x.batch_id == s.batch_id and x.suite == s.suite}
        assert d["statistics"]["evaluated_expectations"] == len(mine)
        assert d["statistics"]["unsuccessful_expectations"] == sum(not x.success for x in mine.values())
        for r in d["results"]:
            x = mine[r["expectation_config"]["meta"]["name"]]
            assert r["success"] == x.success
            assert r["result"].get("unexpected_count") == x.unexpected_count
            assert r["result"].get("element_count") == x.element_count
    assert any(not x.success for x in dq if x.expectation == "nik_valid_di_atas_batas")

    out = tmp_path / "kualitas"
    pages = write_pages(engine, out, as_of=AS_OF)
    gx = out / "gx"
    index = (gx / "index.html").read_text()
    assert 'href="gx/index.html"' in (out / "index.html").read_text()
    period_page = next(p for p in pages if p.source == "dapodik").path.read_text()
    for s in stored:
        links = re.findall(rf'href="(validations/{s.suite}/batch_{s.batch_id}/[^"]+\.html)"', index)
        assert len(links) == 1
        assert f'href="../gx/{links[0]}"' in period_page
        html = (gx / links[0]).read_text()
        for x in dq:
            if x.batch_id != s.batch_id or x.suite != s.suite:
                continue
            assert x.expectation in html  # the project's name of every expectation
            if x.unexpected_count:  # a row-level failure: GX's own count sentence
                assert f"{x.unexpected_count} unexpected values found" in html
        stats = json.loads(s.result_json)["statistics"]
        for label, key in (("Evaluated", "evaluated_expectations"), ("Unsuccessful", "unsuccessful_expectations")):
            assert re.search(rf"{label} Expectations</div></td><td[^>]*><div[^>]*>{stats[key]}</div>", html)
        assert f"../../../../expectations/{s.suite}.html" in html
    for name in ("dapodik_sekolah", "dapodik_peserta_didik"):
        suite_page = (gx / "expectations" / f"{name}.html").read_text()
        assert "npsn_8_digit" in suite_page
    first = _files(gx)
    assert len([f for f in first if f.startswith("validations/")]) == len(stored)
    for name, content in first.items():
        if name.endswith(".html"):
            text = content.decode()
            assert not EXTERNAL.search(text), name  # opens without internet, no outside request
            assert not NIK_LIKE.search(re.sub(r"<style>.*?</style>", "", text, flags=re.S))
            assert not any(n in text for n in names)
    # Rebuild: the same pages, and no temporary folder left behind.
    write_pages(engine, out, as_of=AS_OF)
    assert _files(gx) == first
    assert [p.name for p in out.iterdir() if p.name.startswith(".gx")] == []


def test_scrub_removes_failing_values_keeps_counts(monkeypatch):
    from spm.quality.gx_runner import validate_frame

    suite = {"name": "uji_privasi", "meta": {}, "expectations": [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "nik", "regex": "^32[0-9]{14}$"},
         "meta": {"name": "nik_32", "severity": "warning"}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "nama", "value_set": ["Budi"]},
         "meta": {"name": "nama_dikenal", "severity": "warning"}},
        {"type": "expect_column_max_to_be_between", "kwargs": {"column": "nik_angka", "max_value": 10},
         "meta": {"name": "nik_maks", "severity": "warning"}},
        {"type": "expect_column_distinct_values_to_be_in_set", "kwargs": {"column": "nama", "value_set": ["Budi"]},
         "meta": {"name": "nama_distinct", "severity": "warning"}},
        {"type": "expect_column_most_common_value_to_be_in_set", "kwargs": {"column": "nama", "value_set": ["Joko"]},
         "meta": {"name": "nama_terbanyak", "severity": "warning"}},
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "umur", "min_value": 0, "max_value": 5},
         "meta": {"name": "umur_rata", "severity": "warning"}},
    ]}
    monkeypatch.setattr("spm.quality.gx_runner.load_suite_file", lambda name: suite)
    frame = pd.DataFrame({
        "row_id": [1, 2, 3],
        "nik": ["3271014502900001", "1171014502900002", "3271014502900003"],
        "nik_angka": [3271014502900001, 1171014502900002, 3271014502900003],
        "nama": ["Budi", "Siti Aminah", "Rahmat Hidayat"],
        "umur": [10, 20, 30],
    })
    report = validate_frame("uji_privasi", frame)
    text = json.dumps(report.gx_result)
    assert not NIK_LIKE.search(text)
    assert "Siti" not in text and "Rahmat" not in text and "117101" not in text
    by = {r["expectation_config"]["meta"]["name"]: r for r in report.gx_result["results"]}
    assert by["nik_32"]["result"]["unexpected_count"] == 1 and by["nik_32"]["success"] is False
    assert by["nama_dikenal"]["result"]["unexpected_count"] == 2
    assert by["nama_dikenal"]["result"]["unexpected_percent"] == pytest.approx(200 / 3)
    assert by["nik_maks"]["result"]["observed_value"] == gx_scrub.DISEMBUNYIKAN
    assert by["nama_distinct"]["result"]["unexpected_count"] == 2
    assert by["nama_terbanyak"]["result"]["observed_value"] == gx_scrub.DISEMBUNYIKAN  # a name
    assert by["umur_rata"]["result"]["observed_value"] == 20  # a statistic stays
    assert report.gx_result["statistics"]["evaluated_expectations"] == 6
    assert report.gx_result["meta"]["batch_parameters"] == {"dataframe": "<DATAFRAME>"}
    # The raw GX result did hold them: the scrub is what keeps them out; and it is idempotent.
    assert gx_scrub.scrub(report.gx_result) == report.gx_result
    # dq_result gets the same scrub: no raw min/max/most common value there either.
    by_outcome = {o.name: o for o in report.outcomes}
    assert by_outcome["nik_maks"].observed_value == json.dumps(gx_scrub.DISEMBUNYIKAN)
    assert by_outcome["nama_terbanyak"].observed_value == json.dumps(gx_scrub.DISEMBUNYIKAN)
    assert json.loads(by_outcome["umur_rata"].observed_value) == 20  # a statistic stays
    assert gx_scrub.scrub_message("could not convert '3271014502900001' (Siti) 3271014502900001") == \
        "could not convert '…' (Siti) …"


def test_revalidation_replaces_stored_result(engine):
    from spm.warehouse.audit import now, start_batch
    from spm.warehouse.tables_dq import dq_validation_result

    d = {"success": False, "suite_name": "s", "statistics": {"evaluated_expectations": 0}, "meta": {}, "results": []}
    with engine.begin() as conn:
        batch_id = start_batch(conn, "dukcapil", "penduduk", KODE, "2025-2", "r")
        assert store_gx_result(conn, batch_id, "s", [d, {**d, "success": True}], now()) == 2
    with engine.begin() as conn:
        store_gx_result(conn, batch_id, "s", {**d, "success": True}, now() + timedelta(seconds=1))
        store_gx_result(conn, batch_id, "lain", None, now())
    with engine.connect() as conn:
        rows = conn.execute(sa.select(dq_validation_result.c.suite, dq_validation_result.c.bagian,
                                      dq_validation_result.c.success)).all()
    assert [tuple(r) for r in rows] == [("s", 0, True)]
