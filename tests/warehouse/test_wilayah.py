import csv
from datetime import date

import pytest
import sqlalchemy as sa

from spm.errors import InputError
from spm.reference import KODE_WILAYAH_CSV
from spm.warehouse.tables import dim_wilayah
from spm.warehouse.wilayah import current_count, load_wilayah, read_code_list


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["kode", "nama", "tingkat", "kode_induk"])
        w.writerows(rows)
    return path


SMALL = [
    ("32", "Jawa Barat", "provinsi", ""),
    ("32.71", "Kota Bogor", "kabupaten_kota", "32"),
    ("32.71.01", "Bogor Selatan", "kecamatan", "32.71"),
    ("32.71.01.1001", "Batu Tulis", "desa_kelurahan", "32.71.01"),
    ("32.71.01.1002", "Bondongan", "desa_kelurahan", "32.71.01"),
]


def test_shipped_list_loads_all_91599_codes_and_reload_changes_nothing(engine):
    first = load_wilayah(engine)
    assert first.rows_in_file == 91_599 and first.opened == 91_599 and first.closed == 0
    assert current_count(engine) == {"provinsi": 38, "kabupaten_kota": 514, "kecamatan": 7285,
                                     "desa_kelurahan": 83_762}
    second = load_wilayah(engine)
    assert not second.changed
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(dim_wilayah)).scalar_one() == 91_599
        row = conn.execute(sa.select(dim_wilayah).where(dim_wilayah.c.kode == "32.71")).one()
    assert row.nama == "Kota Bogor" and row.kode_induk == "32" and row.berlaku_sampai is None
    assert row.berlaku_mulai == date(2025, 4, 25)


def test_newer_list_closes_vanished_and_opens_new_versions(engine, tmp_path):
    load_wilayah(engine, _write(tmp_path / "v1.csv", SMALL), date(2025, 1, 1))
    # A split: 1002 disappears, 1003 and 1004 appear, 1001 is renamed.
    v2 = SMALL[:3] + [
        ("32.71.01.1001", "Batutulis", "desa_kelurahan", "32.71.01"),
        ("32.71.01.1003", "Bondongan Utara", "desa_kelurahan", "32.71.01"),
        ("32.71.01.1004", "Bondongan Selatan", "desa_kelurahan", "32.71.01"),
    ]
    result = load_wilayah(engine, _write(tmp_path / "v2.csv", v2), date(2026, 1, 1), "Kepmendagri uji")
    assert (result.closed, result.opened) == (2, 3)
    with engine.connect() as conn:
        rows = {(r.kode, str(r.berlaku_mulai)): r for r in conn.execute(sa.select(dim_wilayah))}
    assert str(rows[("32.71.01.1002", "2025-01-01")].berlaku_sampai) == "2026-01-01"
    assert str(rows[("32.71.01.1001", "2025-01-01")].berlaku_sampai) == "2026-01-01"
    assert rows[("32.71.01.1001", "2026-01-01")].nama == "Batutulis"
    assert rows[("32.71.01.1001", "2026-01-01")].berlaku_sampai is None
    assert rows[("32.71.01.1004", "2026-01-01")].sumber == "Kepmendagri uji"
    assert rows[("32.71", "2025-01-01")].berlaku_sampai is None  # unchanged stays open
    assert current_count(engine)["desa_kelurahan"] == 3
    # Loading v2 again changes nothing.
    assert not load_wilayah(engine, tmp_path / "v2.csv", date(2026, 1, 1)).changed


def test_changed_list_needs_a_later_start_date(engine, tmp_path):
    load_wilayah(engine, _write(tmp_path / "v1.csv", SMALL), date(2025, 1, 1))
    with pytest.raises(InputError, match="not after"):
        load_wilayah(engine, _write(tmp_path / "v2.csv", SMALL[:4]), date(2025, 1, 1))
    assert current_count(engine)["desa_kelurahan"] == 2  # nothing half-applied


def test_other_file_needs_berlaku_mulai(engine, tmp_path):
    with pytest.raises(InputError, match="--berlaku-mulai"):
        load_wilayah(engine, _write(tmp_path / "v1.csv", SMALL))


def test_bad_file_lists_lines_and_loads_nothing(engine, tmp_path):
    bad = SMALL + [
        ("32.71.01.10", "Pendek", "desa_kelurahan", "32.71.01"),
        ("32.71.02.1001", "Yatim", "desa_kelurahan", "32.71.02"),
        ("32.71.01.1001", "Ulang", "desa_kelurahan", "32.71.01"),
        ("32.71.01.1005", "Salah", "dusun", "32.71.01"),
    ]
    with pytest.raises(InputError) as info:
        load_wilayah(engine, _write(tmp_path / "bad.csv", bad), date(2025, 1, 1))
    msg = str(info.value)
    assert "nothing loaded" in msg
    assert "line 7, kode: not a desa_kelurahan code (NN.NN.NN.NNNN)" in msg
    assert "parent 32.71.02 of 32.71.02.1001 is not in the file" in msg
    assert "line 9, kode: 32.71.01.1001 repeats line 5" in msg
    assert "line 10, tingkat: not one of" in msg
    assert "32.71.01.10'" not in msg and "dusun" not in msg  # a value not accepted is never repeated
    assert current_count(engine) == {}


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("kode,nama\n32,Jawa Barat\n")
    with pytest.raises(InputError, match="missing column.*tingkat, kode_induk") as info:
        read_code_list(path)
    assert "Jawa Barat" not in str(info.value)


@pytest.mark.parametrize("content", [b"0123456789abcdef-the-hmac-secret-value\n", b"\xff\xfe\x00secret-bytes\n",
                                     b"kode,nama,tingkat,kode_induk\nsecret-value-0123456789,x,y,z\n"])
def test_no_error_repeats_what_the_file_holds(tmp_path, content):
    """Whatever file a code list is read from (a secret, a binary), the error says what is wrong
    without quoting it."""
    path = tmp_path / "secret"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_code_list(path)
    assert "secret-" not in str(info.value) and "hmac" not in str(info.value)


def test_the_dag_reads_code_lists_only_from_its_folder(tmp_path, monkeypatch):
    from spm.orchestration.wilayah import code_list_path, wilayah_inbox

    monkeypatch.setenv("SPM_HOME", str(tmp_path / "home"))
    folder = wilayah_inbox()
    folder.mkdir(parents=True)
    (folder / "kode-2026.csv").write_text("kode,nama,tingkat,kode_induk\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("the-hmac-secret\n")
    (folder / "link.csv").symlink_to(secret)
    assert code_list_path("kode-2026.csv") == folder / "kode-2026.csv"
    for name in (str(secret), "../secret.csv", "sub/kode.csv", "kode.txt", ".hidden.csv", "", "x" * 5000 + ".csv"):
        with pytest.raises(InputError, match="no folder or path"):
            code_list_path(name)
    for name in ("link.csv", "absent.csv"):
        with pytest.raises(InputError, match="no such code list"):
            code_list_path(name)


def test_shipped_file_is_valid():
    assert len(read_code_list(KODE_WILAYAH_CSV)) == 91_599
