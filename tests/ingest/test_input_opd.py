"""OPD workbooks: the template, template checks, GX rules, whole-workbook rejection, partition replace."""

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from spm.config.katalog_layanan import load_catalog
from spm.indicators.indeks import mutu_per_layanan
from spm.ingest.input_opd import ingest_inbox
from spm.opd_template import (
    BIDANG, LAYANAN_OF_BIDANG, SHEETS, TINGKAT, header, layanan_of, sheets_of, template_dir, template_filename,
    workbook_values, write_template,
)
from spm.simulator import SimulatorConfig, World
from spm.simulator.opd_workbook import MALFORMED_KINDS, write_opd_workbook
from spm.sources.opd_layout import workbook_filename
from spm.sources.opd_workbook import read_workbook
from spm.warehouse.db import get_engine, upgrade
from spm.warehouse.tables import dim_wilayah, dq_result, etl_batch, inbox_file
from spm.warehouse.tables_opd import fact_input_anggaran, fact_input_mutu

KAB = "32.71"
NAME = workbook_filename("pendidikan", KAB, 2026, 1)
MUTU = [  # kode_layanan, komponen, uraian, satuan, dibutuhkan, tersedia
    ["pend_paud", "barang_jasa", "APE", "paket", 4, 2],
    ["pend_paud", "sdm", "Pendidik PAUD", "orang", 6, 6],
    ["pend_dasar", "barang_jasa", "Buku teks", "eksemplar", 80, 100],  # surplus: counts as 80
    ["pend_dasar", "sdm", "Guru", "orang", 20, 10],
    ["pend_dasar", "petunjuk_teknis", "Pedoman asesmen", "dokumen", 1, 1],
    ["pend_kesetaraan", "barang_jasa", "Modul", "eksemplar", 0, 0],
    ["pend_kesetaraan", "sdm", "Tutor", "orang", 3, 3],
]
ANGGARAN = [  # kode_layanan, alokasi, realisasi_01..12 (first quarter filled)
    ["pend_paud", 1_200_000, 100_000, 150_000, None] + [None] * 9,
    ["pend_dasar", 5_000_000, 400_000, 400_000, 450_000] + [None] * 9,
    ["pend_kesetaraan", 300_000, 0, 0, 350_000] + [None] * 9,  # realisasi above alokasi: a warning only
]

LAYANAN = ("pend_paud", "pend_dasar", "pend_kesetaraan")
NARASI = {  # what the OPD writes for the report (layout 3)
    "permasalahan": [["pend_paud", "APE baru tersedia 2 dari 4 paket.", "Pengadaan APE pada triwulan II."],
                     ["pend_dasar", "Kekurangan 10 guru kelas.", "Penugasan guru dari sekolah yang berlebih."],
                     ["pend_dasar", "Buku teks terlambat datang.", "Pengadaan lebih awal tahun depan."],
                     ["pend_kesetaraan", "Tidak ada permasalahan.", "Mempertahankan layanan."]],
    "tahapan": [[k, "selesai", "selesai", "Berjalan", "belum", None] for k in LAYANAN],  # a typed "Berjalan" is berjalan
    "rencana_aksi": [["pend_dasar", "Penugasan guru kelas", "10 guru", "Bidang Pembinaan SD", 6, 25_000_000],
                     ["pend_paud", "Pengadaan APE", "2 paket", "Bidang PAUD dan PNF", 5, None]],
    # layout 4: Survei Kepuasan Masyarakat results, of the Dinas as a whole and of a unit about one jenis layanan
    "ikm": [["Dinas Pendidikan", None, "2026 semester I", 400, 82.5],
            ["Satuan PAUD binaan", "pend_paud", "2026 semester I", 120, 64.99]],
}


def write_workbook(path: Path, identitas=None, mutu=MUTU, anggaran=ANGGARAN, sheets=sheets_of("pendidikan"),
                   **narasi) -> Path:
    """A workbook of the given sheets; the narrative ones (permasalahan, tahapan, rencana_aksi) hold
    NARASI unless other rows are passed by name."""
    book = Workbook()
    book.remove(book.active)
    rows = {"identitas": [identitas or [KAB, "pendidikan", 2026, 1, "Dinas Pendidikan Kota Bogor"]],
            "mutu": mutu, "anggaran": anggaran, **NARASI, **narasi}
    for sheet in sheets:
        ws = book.create_sheet(sheet)
        ws.append(header(sheet))
        for row in rows.get(sheet, []):
            ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _kab_kota(engine):
    with engine.begin() as conn:
        conn.execute(sa.insert(dim_wilayah).values(kode=KAB, berlaku_mulai=date(2025, 1, 1), nama="Kota Bogor",
                                                   tingkat="kabupaten_kota", kode_induk="32"))
    return engine


@pytest.fixture
def wh(engine):
    return _kab_kota(engine)


@pytest.fixture
def wh_sqlite(sqlite_url):
    """Rejections do not depend on the engine: SQLite only, to keep the suite fast."""
    eng = get_engine(sqlite_url)
    upgrade(eng)
    yield _kab_kota(eng)
    eng.dispose()


@pytest.fixture
def inbox(tmp_path):
    path = tmp_path / "inbox" / "opd"
    path.mkdir(parents=True)
    return path


def _facts(engine):
    with engine.connect() as conn:
        mutu = {(r.kode_layanan, r.uraian): (r.jumlah_dibutuhkan, r.jumlah_tersedia, r.batch_id)
                for r in conn.execute(sa.select(fact_input_mutu))}
        anggaran = {r.kode_layanan: (r.alokasi, r.realisasi, r.realisasi_03, r.realisasi_04, r.batch_id)
                    for r in conn.execute(sa.select(fact_input_anggaran))}
    return mutu, anggaran


# --- the template ---------------------------------------------------------------------------------

@pytest.mark.parametrize("tingkat", TINGKAT)
def test_committed_templates_equal_the_generator(tmp_path, tingkat):
    for bidang in BIDANG:
        committed = template_dir() / template_filename(bidang, tingkat)
        assert committed.exists(), f"{committed} missing: run python -m spm.opd_template"
        fresh = write_template(tmp_path / template_filename(bidang, tingkat), bidang, tingkat)
        assert workbook_values(committed) == workbook_values(fresh), f"{committed} is stale: python -m spm.opd_template"


@pytest.mark.parametrize("tingkat", TINGKAT)
def test_template_lists_the_catalog_services_with_every_komponen(tingkat):
    for bidang in BIDANG:
        catalog = [layanan.kode for layanan in load_catalog(tingkat) if layanan.bidang == bidang]
        assert list(layanan_of(bidang, tingkat)) == catalog
        values = workbook_values(template_dir() / template_filename(bidang, tingkat))
        entered = [lay.kode for lay in load_catalog(tingkat) if lay.bidang == bidang and lay.sumber == "opd"]
        assert values["sheets"] == [s for s in SHEETS if s != "penerima" or entered]
        mutu = values["mutu"]["values"]
        assert mutu[0] == header("mutu")
        assert {(r[0], r[1]) for r in mutu[1:]} == {(k, c) for k in catalog
                                                    for c in ("barang_jasa", "sdm", "petunjuk_teknis")}
        assert all(r[4] is None and r[5] is None for r in mutu[1:])  # dibutuhkan / tersedia left to the OPD
        assert [r[0] for r in values["anggaran"]["values"][1:]] == catalog
        if entered:  # the province's health crisis and KLB services: sasaran and months left to the Dinas
            penerima = values["penerima"]["values"]
            assert penerima[0] == header("penerima")
            assert [r[0] for r in penerima[1:]] == entered and all(v is None for r in penerima[1:] for v in r[1:])
    assert LAYANAN_OF_BIDANG == {b: layanan_of(b) for b in BIDANG}


def test_blank_template_is_not_a_submission():
    content = (template_dir() / template_filename("kesehatan")).read_bytes()
    book = read_workbook(content, "input_opd_kesehatan.xlsx")
    assert book.identitas is None and book.structural
    messages = [str(p) for p in book.problems]
    assert "lembar identitas, baris 2, kolom kode_wilayah (A): kosong; kolom ini wajib diisi" in messages
    assert "lembar mutu, baris 2, kolom jumlah_dibutuhkan (E): kosong; kolom ini wajib diisi" in messages
    assert not any("judul kolom" in m or "lembar tidak ada" in m for m in messages)


# --- rejection ------------------------------------------------------------------------------------

EXPECTED_PROBLEM = {
    "missing_sheet": "lembar anggaran: lembar tidak ada; buku kerja harus memiliki lembar identitas, mutu, anggaran "
                     "(yang ada: identitas, mutu, permasalahan, tahapan, rencana_aksi, ikm)",
    "bad_header": "lembar mutu, baris 1, kolom F: judul kolom 'jml_tersedia' seharusnya 'jumlah_tersedia'",
    "bad_value": "lembar mutu, baris 3, kolom jumlah_tersedia (F): 'lengkap' bukan angka",
    "unknown_layanan": "lembar anggaran, baris 2, kolom kode_layanan (A): bukan jenis layanan dari bidang buku kerja "
                       "ini ('kes_tidak_ada') [kode_layanan_bidang]",
}


@pytest.fixture(scope="module")
def bogor():
    return World(SimulatorConfig(kode_wilayah=(KAB,), scale=0.002, seed=7))[KAB]


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_malformed_workbook_rejected_whole_naming_sheet_row_column(wh_sqlite, inbox, bogor, kind):
    name = workbook_filename("kesehatan", KAB, 2025, 2)
    write_opd_workbook(inbox / name, bogor, "kesehatan", 2025, 2, malformed=kind)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected"
    assert result["problems"] == [EXPECTED_PROBLEM[kind]]
    errors = (inbox / "rejected" / f"{name}.errors.txt").read_text()
    assert f"  - {EXPECTED_PROBLEM[kind]}" in errors and "Tidak ada isi berkas ini yang dimuat" in errors
    assert (inbox / "rejected" / name).exists() and not (inbox / name).exists()
    assert _facts(wh_sqlite) == ({}, {})
    with wh_sqlite.connect() as conn:
        batch = conn.execute(sa.select(etl_batch)).one()
        recorded = conn.execute(sa.select(inbox_file)).one()
    assert (batch.source, batch.entity, batch.periode, batch.status) == ("opd", "kesehatan", "2025-T2",
                                                                         "rejected")
    assert recorded.status == "rejected" and recorded.batch_id == batch.batch_id


def test_every_problem_listed_at_once(wh_sqlite, inbox):
    mutu = [row[:] for row in MUTU]
    mutu[1][4] = -6                          # row 3: negative
    mutu[3][5] = 2.5                         # row 5: not whole
    mutu.append(["pend_paud", "sdm", "Pendidik PAUD", "orang", 1, 1])  # row 9: same item twice
    mutu.append(["pend_dasar", "alat", "Papan tulis", "buah", 1, 1])    # row 10: unknown komponen
    anggaran = [row[:] for row in ANGGARAN]
    anggaran[1][6] = 10_000                  # row 3: realisasi in May for a first-quarter workbook
    anggaran[2][1] = "tiga ratus ribu"       # row 4: not an amount
    write_workbook(inbox / workbook_filename("pendidikan", KAB, 2026, 2), mutu=mutu, anggaran=anggaran)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected"
    assert sorted(result["problems"]) == sorted([
        "lembar identitas, baris 2, kolom triwulan (D): 1 tidak sama dengan nama berkas "
        "opd_pendidikan_3271_2026_TW2.xlsx (2); mana yang dimaksud?",
        "lembar mutu, baris 5, kolom jumlah_tersedia (F): 2.5 bukan bilangan bulat",
        "lembar anggaran, baris 4, kolom alokasi (B): 'tiga ratus ribu' bukan angka",
        "lembar mutu, baris 3, kolom jumlah_dibutuhkan (E): jumlah_dibutuhkan harus 0 atau lebih (-6) "
        "[jumlah_dibutuhkan_tidak_negatif]",
        "lembar mutu, baris 3, kolom uraian (C): item yang sama tercantum dua kali untuk jenis layanan dan komponen "
        "ini; sisakan satu baris ('Pendidik PAUD') [item_tidak_ganda]",
        "lembar mutu, baris 9, kolom uraian (C): item yang sama tercantum dua kali untuk jenis layanan dan komponen "
        "ini; sisakan satu baris ('Pendidik PAUD') [item_tidak_ganda]",
        "lembar mutu, baris 10, kolom komponen (B): komponen harus barang_jasa, sdm atau petunjuk_teknis ('alat') "
        "[komponen_dikenal]",
        "lembar anggaran, baris 3, kolom realisasi_05 (G): realisasi terisi untuk bulan setelah akhir triwulan; "
        "kosongkan bulan-bulan sesudahnya (10000.0) [realisasi_dalam_triwulan]",
    ])
    assert _facts(wh_sqlite) == ({}, {})


def test_unknown_kab_kota_and_non_xlsx_are_rejected(wh_sqlite, inbox):
    write_workbook(inbox / "input_pendidikan.xlsx", identitas=["32.99", "pendidikan", 2026, 1, "Dinas"])
    (inbox / "mutu.csv").write_text("kode_layanan,komponen\n")
    (inbox / "~$input_pendidikan.xlsx").write_bytes(b"lock")  # Excel's lock file: not a submission
    results = {r["file"]: r for r in ingest_inbox(wh_sqlite, inbox, "run-1")}
    assert set(results) == {"input_pendidikan.xlsx", "mutu.csv"}
    assert results["input_pendidikan.xlsx"]["problems"] == [
        "lembar identitas, baris 2, kolom kode_wilayah (A): '32.99' bukan kode kabupaten/kota yang berlaku"]
    assert results["mutu.csv"]["problems"][0].startswith(".csv tidak diterima")
    assert (inbox / "~$input_pendidikan.xlsx").exists()


# --- loading --------------------------------------------------------------------------------------

def test_good_workbook_loaded_with_warnings_then_replaced_by_a_newer_one(wh, inbox):
    write_workbook(inbox / NAME)
    [first] = ingest_inbox(wh, inbox, "run-1")
    assert first["status"] == "published", first
    assert (inbox / "processed" / NAME).exists()
    mutu, anggaran = _facts(wh)
    assert mutu == {(k, u): (need, have, first["batch_id"]) for k, _, u, _, need, have in MUTU}
    assert anggaran == {"pend_paud": (1_200_000, 250_000, None, None, first["batch_id"]),
                        "pend_dasar": (5_000_000, 1_250_000, 450_000, None, first["batch_id"]),
                        "pend_kesetaraan": (300_000, 350_000, 350_000, None, first["batch_id"])}
    # mutu % = Σ min(tersedia, dibutuhkan) / Σ dibutuhkan × 100 per jenis layanan:
    # paud (2 + 6) / 10; dasar (80 + 10 + 1) / 101 (100 books count as the 80 needed); kesetaraan (0 + 3) / 3
    got = mutu_per_layanan(wh, KAB, 2026, 1)
    assert got == {"pend_paud": pytest.approx(80.0), "pend_dasar": pytest.approx(9100 / 101),
                   "pend_kesetaraan": pytest.approx(100.0)}
    # warnings are recorded, not blocking
    assert sorted(first["warnings"]) == [
        "lembar anggaran, baris 4, kolom alokasi (B): realisasi sejauh ini melebihi alokasi setahun (300000.0) "
        "[realisasi_tidak_melebihi_alokasi]",
        "lembar mutu, baris 4, kolom jumlah_tersedia (F): jumlah tersedia melebihi yang dibutuhkan: boleh, item ini "
        "dihitung terpenuhi penuh (100 %) dalam mutu (100) [tersedia_melebihi_dibutuhkan]",
    ]
    with wh.connect() as conn:
        failed = {r.expectation: r.severity for r in conn.execute(
            sa.select(dq_result).where(dq_result.c.batch_id == first["batch_id"], dq_result.c.success.is_(False)))}
    assert failed == {"tersedia_melebihi_dibutuhkan": "warning", "realisasi_tidak_melebihi_alokasi": "warning"}

    # The OPD sends a corrected workbook for the same quarter (other name): it replaces the first one.
    newer = [row[:] for row in MUTU if row[0] != "pend_kesetaraan"]
    newer[3][5] = 20  # the missing teachers arrived
    write_workbook(inbox / "pendidikan_tw1_revisi.xlsx", mutu=newer, anggaran=ANGGARAN[:2])
    [second] = ingest_inbox(wh, inbox, "run-2")
    assert second["status"] == "published"
    mutu, anggaran = _facts(wh)
    assert mutu == {(k, u): (need, have, second["batch_id"]) for k, _, u, _, need, have in newer}
    assert set(anggaran) == {"pend_paud", "pend_dasar"}
    assert mutu_per_layanan(wh, KAB, 2026, 1)["pend_dasar"] == pytest.approx(100.0)
    with wh.connect() as conn:
        statuses = [r.status for r in conn.execute(sa.select(etl_batch).order_by(etl_batch.c.batch_id))]
    assert statuses == ["published", "published"]

    # Another quarter and the other bidang are other partitions: untouched.
    write_workbook(inbox / workbook_filename("pendidikan", KAB, 2026, 2), identitas=[
        KAB, "pendidikan", 2026, 2, "Dinas Pendidikan"])
    ingest_inbox(wh, inbox, "run-3")
    assert mutu_per_layanan(wh, KAB, 2026, 1)["pend_dasar"] == pytest.approx(100.0)
    assert mutu_per_layanan(wh, KAB, 2026, 2)["pend_dasar"] == pytest.approx(9100 / 101)


def test_same_workbook_twice_changes_nothing(wh, inbox, tmp_path):
    path = write_workbook(tmp_path / NAME)
    content = path.read_bytes()
    (inbox / NAME).write_bytes(content)
    [first] = ingest_inbox(wh, inbox, "run-1")
    before = _facts(wh)
    (inbox / NAME).write_bytes(content)  # the very same file again
    write_workbook(inbox / "copy_saved_again.xlsx", mutu=list(reversed(MUTU)))  # same figures, other bytes
    results = {r["file"]: r for r in ingest_inbox(wh, inbox, "run-2")}
    assert {f: r["status"] for f, r in results.items()} == {NAME: "unchanged", "copy_saved_again.xlsx": "unchanged"}
    assert _facts(wh) == before
    assert {b for *_, b in before[0].values()} == {first["batch_id"]}
    assert sorted(p.name for p in (inbox / "processed").iterdir())[:1] == ["copy_saved_again.xlsx"]
    assert len(list((inbox / "processed").iterdir())) == 3  # both copies of NAME kept


def test_kode_wilayah_param_leaves_other_kab_kota_in_the_inbox(wh_sqlite, inbox):
    write_workbook(inbox / NAME)
    assert ingest_inbox(wh_sqlite, inbox, "run-1", kode_wilayah=["32.01"]) == []
    assert (inbox / NAME).exists()
    [result] = ingest_inbox(wh_sqlite, inbox, "run-2", kode_wilayah=[KAB])
    assert result["status"] == "published"


@pytest.mark.parametrize("step", ["read_workbook", "_validate", "_publish"])
def test_a_workbook_that_breaks_any_step_is_refused_alone(wh, inbox, break_once, step):
    """An unexpected error while reading, validating or publishing one workbook refuses that
    workbook (rejected/ with its .errors.txt, no batch left running) and the next one still loads."""
    import time

    break_once(f"spm.ingest.input_opd.{step}", KeyError("injected"))
    write_workbook(inbox / "a_first.xlsx")
    time.sleep(0.01)  # drop order is by modification time
    write_workbook(inbox / "b_second.xlsx", identitas=["32.71", "pendidikan", 2026, 2, "Dinas Pendidikan"])
    results = {r["file"]: r for r in ingest_inbox(wh, inbox, "run-1")}
    assert results["a_first.xlsx"]["status"] == "rejected"
    assert "KeyError" in results["a_first.xlsx"]["message"]
    assert results["b_second.xlsx"]["status"] == "published", results["b_second.xlsx"]
    assert (inbox / "rejected" / "a_first.xlsx.errors.txt").exists()
    with wh.connect() as conn:
        assert "running" not in set(conn.execute(sa.select(etl_batch.c.status)).scalars())


def test_a_workbook_whose_batch_was_superseded_before_publication_publishes_nothing(wh_sqlite, inbox, monkeypatch):
    """Another load of the same partition started meanwhile (it superseded this batch): the publish
    guard sees the batch is no longer running, and nothing of this workbook reaches the facts."""
    import spm.ingest.input_opd as opd
    from spm.ingest.wap import open_batch

    validate = opd._validate

    def validate_then_superseded(engine, book, batch_id):
        out = validate(engine, book, batch_id)
        with engine.begin() as conn:
            open_batch(conn, "opd", "pendidikan", KAB, "2026-T1", "other-run", (opd.MUTU.staging, opd.ANGGARAN.staging))
        return out

    monkeypatch.setattr(opd, "_validate", validate_then_superseded)
    write_workbook(inbox / NAME)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "failed" and "not published: superseded by batch" in result["message"], result
    assert _facts(wh_sqlite) == ({}, {})


# --- numbers, formulas, columns and lengths as OPD staff type them ------------------------------------

def test_amounts_typed_as_text_are_read_as_indonesians_write_them(wh_sqlite, inbox):
    anggaran = [row[:] for row in ANGGARAN]
    anggaran[0][1] = "1.200.000"        # thousands with dots
    anggaran[1][1] = "Rp 5.000.000,00"  # with the currency and decimals
    anggaran[2][2] = "0,0"
    mutu = [row[:] for row in MUTU]
    mutu[0][4] = "4"
    write_workbook(inbox / NAME, mutu=mutu, anggaran=anggaran)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "published", result
    _, anggaran_facts = _facts(wh_sqlite)
    assert anggaran_facts["pend_paud"][0] == 1_200_000 and anggaran_facts["pend_dasar"][0] == 5_000_000


@pytest.mark.parametrize("typed, reason", [
    ("1,500", "'1,500' ambigu: bila ribuan, tulis 1.500"),
    ("1.5", "'1.5' memakai titik sebagai desimal"),
])
def test_an_amount_that_reads_two_ways_rejects_the_workbook_naming_the_cell(wh_sqlite, inbox, typed, reason):
    anggaran = [row[:] for row in ANGGARAN]
    anggaran[0][1] = typed
    write_workbook(inbox / NAME, anggaran=anggaran)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected"
    assert any(p.startswith(f"lembar anggaran, baris 2, kolom alokasi (B): {reason}") for p in result["problems"])
    assert _facts(wh_sqlite) == ({}, {})


def test_a_formula_without_a_saved_value_is_rejected_not_read_as_empty(wh_sqlite, inbox):
    anggaran = [row[:] for row in ANGGARAN]
    anggaran[0][3] = "=C2*1.5"  # openpyxl saves the formula only, as a script would
    write_workbook(inbox / NAME, anggaran=anggaran)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected"
    assert result["problems"] == ["lembar anggaran, baris 2, kolom realisasi_02 (D): rumus tanpa nilai tersimpan: "
                                  "buka dan simpan berkas di Excel atau LibreOffice agar hasil rumus ikut "
                                  "tersimpan, atau ketik nilainya"]


def test_a_value_right_of_the_template_columns_is_rejected_not_ignored(wh_sqlite, inbox):
    mutu = [row[:] for row in MUTU]
    mutu[2] = mutu[2] + [None, 7]  # column H, which has no header
    write_workbook(inbox / NAME, mutu=mutu)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected"
    assert result["problems"] == ["lembar mutu, baris 4, kolom H: nilai di luar kolom template (kolom tanpa judul); "
                                  "pindahkan ke kolom yang benar atau hapus"]


def test_a_text_longer_than_its_column_is_rejected_never_cut(wh_sqlite, inbox):
    mutu = [row[:] for row in MUTU]
    mutu[0][2] = "APE " * 2500
    write_workbook(inbox / NAME, mutu=mutu)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected"
    assert result["problems"] == ["lembar mutu, baris 2, kolom uraian (C): teks 9999 karakter, lebih dari 255 yang "
                                  "dapat disimpan; persingkat"]


def test_a_workbook_above_the_size_limit_is_rejected_unread(wh_sqlite, inbox, site_config):
    site_config({"kualitas.yaml": {"inbox": {"ukuran_maks_mb": 0.001}}})  # about 1 KB
    write_workbook(inbox / NAME)
    [result] = ingest_inbox(wh_sqlite, inbox, "run-1")
    assert result["status"] == "rejected" and "lebih besar dari batas" in result["message"]
    errors = (inbox / "rejected" / f"{NAME}.errors.txt").read_text()
    assert "Berkas:" in errors and "inbox.ukuran_maks_mb" in errors
    with wh_sqlite.connect() as conn:
        recorded = conn.execute(sa.select(inbox_file)).one()
        assert conn.execute(sa.select(sa.func.count()).select_from(etl_batch)).scalar_one() == 0
    assert recorded.status == "rejected" and recorded.batch_id is None  # told to its owner by name
