"""What the OPD writes for the report (layout 3: sheets permasalahan, tahapan, rencana_aksi): checked
and published with the figures of its workbook, whole or not at all; a workbook of an older template
without these sheets is still taken, the OPD told what its report will lack."""

import pytest
import sqlalchemy as sa

from spm.ingest.input_opd import ingest_inbox
from spm.warehouse.db import get_engine, upgrade
from spm.warehouse.tables import dq_result, etl_batch
from spm.warehouse.tables_opd import (
    fact_input_mutu, fact_input_permasalahan, fact_input_rencana_aksi, fact_input_tahapan,
)
from tests.ingest.test_input_opd import KAB, LAYANAN, NAME, NARASI, _kab_kota, write_workbook

FIGURE_SHEETS = ["identitas", "mutu", "anggaran"]  # a workbook of layout 2


def _narrative_warnings(result) -> list[str]:
    """The warnings about the narrative sheets (MUTU and ANGGARAN carry two of their own by design)."""
    return sorted(w for w in result["warnings"] if not w.startswith(("lembar mutu", "lembar anggaran")))


@pytest.fixture
def wh(engine):
    return _kab_kota(engine)


@pytest.fixture
def wh_sqlite(sqlite_url):
    eng = get_engine(sqlite_url)
    upgrade(eng)
    yield _kab_kota(eng)
    eng.dispose()


@pytest.fixture
def inbox(tmp_path):
    path = tmp_path / "inbox" / "opd"
    path.mkdir(parents=True)
    return path


def _narasi(engine):
    with engine.connect() as conn:
        permasalahan = [(r.kode_layanan, r.permasalahan, r.solusi, r.baris) for r in conn.execute(
            sa.select(fact_input_permasalahan).order_by(fact_input_permasalahan.c.baris))]
        tahapan = {r.kode_layanan: (r.pengumpulan_data, r.penghitungan_kebutuhan, r.rencana_pemenuhan, r.pelaksanaan)
                   for r in conn.execute(sa.select(fact_input_tahapan))}
        rencana = [(r.kode_layanan, r.kegiatan, r.keluaran, r.unit_pelaksana, r.bulan_selesai, r.anggaran)
                   for r in conn.execute(sa.select(fact_input_rencana_aksi).order_by(fact_input_rencana_aksi.c.baris))]
    return permasalahan, tahapan, rencana


def test_narrative_sheets_published_with_the_figures(wh, inbox):
    write_workbook(inbox / NAME)
    [result] = ingest_inbox(wh, inbox, "run-1")
    assert result["status"] == "published", result.get("problems")
    assert _narrative_warnings(result) == []
    assert "4 permasalahan rows, 3 tahapan rows, 2 rencana_aksi rows" in result["message"]
    permasalahan, tahapan, rencana = _narasi(wh)
    assert permasalahan == [(*row, baris) for baris, row in enumerate(NARASI["permasalahan"], start=2)]
    assert tahapan == {k: ("selesai", "selesai", "berjalan", "belum") for k in LAYANAN}
    assert rencana == [tuple(r) for r in NARASI["rencana_aksi"]]
    with wh.connect() as conn:
        batch_ids = {conn.execute(sa.select(t.c.batch_id).distinct()).scalar_one()
                     for t in (fact_input_mutu, fact_input_permasalahan, fact_input_tahapan, fact_input_rencana_aksi)}
        suites = {r.suite for r in conn.execute(sa.select(dq_result.c.suite).distinct())}
    assert batch_ids == {result["batch_id"]}  # one workbook, one batch
    assert {"opd_permasalahan", "opd_tahapan", "opd_rencana_aksi"} <= suites


def test_only_the_narrative_changed_is_published_again(wh_sqlite, inbox):
    write_workbook(inbox / NAME)
    [first] = ingest_inbox(wh_sqlite, inbox, "run-1")
    again = {**NARASI, "tahapan": [[k, "selesai", "selesai", "selesai", "berjalan", None] for k in LAYANAN]}
    write_workbook(inbox / NAME, **again)
    [second] = ingest_inbox(wh_sqlite, inbox, "run-2")
    assert (first["status"], second["status"]) == ("published", "published")
    assert set(_narasi(wh_sqlite)[1].values()) == {("selesai", "selesai", "selesai", "berjalan")}


@pytest.mark.parametrize("sheet, row, expected", [
    ("tahapan", [LAYANAN[0], "selesai", "selesai", "hampir", "belum", None],
     "lembar tahapan, baris 2, kolom rencana_pemenuhan (D): status rencana_pemenuhan harus belum, berjalan atau "
     "selesai ('hampir') [rencana_pemenuhan_dikenal]"),
    ("rencana_aksi", ["pend_dasar", "Penugasan guru", "10 guru", "Bidang SD", 13, None],
     "lembar rencana_aksi, baris 2, kolom bulan_selesai (E): bulan_selesai harus 1 sampai 12 (bulan tahun laporan) "
     "(13) [bulan_selesai_dalam_tahun]"),
    ("rencana_aksi", ["pend_menengah", "Penugasan guru", "10 guru", "Bidang SMA", 6, None],
     "lembar rencana_aksi, baris 2, kolom kode_layanan (A): bukan jenis layanan dari bidang buku kerja ini "
     "('pend_menengah') [kode_layanan_bidang]"),
    ("permasalahan", ["pend_paud", "APE kurang", None],
     "lembar permasalahan, baris 2, kolom solusi (C): kosong; kolom ini wajib diisi"),
])
def test_a_wrong_narrative_cell_rejects_the_workbook_naming_it(wh_sqlite, inbox, sheet, row, expected):
    rows = {**NARASI, sheet: [row, *NARASI[sheet][1:]] if sheet != "rencana_aksi" else [row]}
    write_workbook(inbox / NAME, **rows)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected"
    assert expected in result["problems"], result["problems"]
    assert _narasi(wh_sqlite) == ([], {}, [])
    errors = (inbox / "rejected" / f"{NAME}.errors.txt").read_text()
    assert f"  - {expected}" in errors


def test_rows_left_as_the_template_gave_them_are_not_written_yet(wh_sqlite, inbox):
    """The template pre-fills kode_layanan in permasalahan and tahapan: a row with nothing else is not
    reported (a warning names the jenis layanan), not a rejection of the figures."""
    write_workbook(inbox / NAME, permasalahan=[[k, None, None] for k in LAYANAN],
                   tahapan=[NARASI["tahapan"][0], *([k, None, None, None, None, None] for k in LAYANAN[1:])],
                   rencana_aksi=[])
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "published", result.get("problems")
    assert _narrative_warnings(result) == [
        "lembar permasalahan, kolom kode_layanan (A): ada jenis layanan bidang ini tanpa permasalahan dan solusi; "
        "laporan menyatakannya belum diisi (tulis 'tidak ada permasalahan' bila memang tidak ada): pend_dasar, "
        "pend_kesetaraan, pend_paud [setiap_layanan_bidang_ada]",
        "lembar rencana_aksi: lembar ini belum berisi rencana aksi; laporan menyatakannya belum diisi (ditemukan 0) "
        "[ada_rencana_aksi]",
        "lembar tahapan, kolom kode_layanan (A): ada jenis layanan bidang ini tanpa status tahapan; laporan "
        "menyatakannya belum diisi: pend_dasar, pend_kesetaraan [setiap_layanan_bidang_ada]",
    ]
    assert _narasi(wh_sqlite)[1] == {LAYANAN[0]: ("selesai", "selesai", "berjalan", "belum")}


def test_an_older_template_is_taken_and_replaces_the_narrative(wh, inbox):
    """A workbook of layout 2 (no narrative sheets) is published with a warning per absent sheet; as
    the latest workbook of the quarter it leaves no narrative of an earlier one in place."""
    write_workbook(inbox / NAME)
    [first] = ingest_inbox(wh, inbox, "run-1")
    write_workbook(inbox / "opd_pendidikan_3271_2026_TW1_revisi.xlsx", sheets=FIGURE_SHEETS)
    [second] = ingest_inbox(wh, inbox, "run-2")
    assert (first["status"], second["status"]) == ("published", "published"), second.get("problems")
    assert _narrative_warnings(second) == [
        f"lembar {s}: lembar tidak ada (templat lama): laporan menyatakan bagian ini belum diisi OPD; pakai templat "
        "terbaru untuk mengisinya" for s in ("ikm", "permasalahan", "rencana_aksi", "tahapan")]
    assert _narasi(wh) == ([], {}, [])
    with wh.connect() as conn:
        batch = conn.execute(sa.select(etl_batch).where(etl_batch.c.batch_id == second["batch_id"])).one()
    assert batch.status == "published" and "0 permasalahan rows" in batch.message and KAB in second["kode_kab_kota"]
