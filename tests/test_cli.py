import subprocess
import sys
from pathlib import Path

import pytest

from spm.cli import build_parser, main

SPM = str(Path(sys.executable).with_name("spm"))


def _subcommands(parser, prefix=()):
    """Every command path of the parser, e.g. ('db', 'upgrade')."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from _subcommands(sub, prefix + (name,))


def test_every_command_has_help(capsys):
    paths = list(_subcommands(build_parser()))
    assert ("db", "upgrade") in paths and ("wilayah", "load") in paths and ("status",) in paths
    assert ("demo",) in paths and ("bench", "bulk-load") in paths
    for path in paths:
        with pytest.raises(SystemExit) as info:
            main([*path, "--help"])
        assert info.value.code == 0
        assert "usage: spm" in capsys.readouterr().out


def test_bad_argument_is_one_actionable_line():
    proc = subprocess.run([SPM, "status", "--limit", "zero"], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["spm status: error: argument --limit: 'zero' is not a whole number (see `spm status --help`)"]


def test_unreachable_database_is_one_line():
    proc = subprocess.run(
        [SPM, "--warehouse-url", "postgresql://nobody@127.0.0.1:1/none", "db", "upgrade"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spm: error: cannot reach the warehouse at postgresql")
    assert "SPM_WAREHOUSE_URL" in lines[0]


def test_commands_before_upgrade_say_what_to_run(sqlite_url, capsys):
    assert main(["--warehouse-url", sqlite_url, "status"]) == 1
    assert "run `spm db upgrade`" in capsys.readouterr().err


@pytest.mark.slow
def test_upgrade_load_status_flow(warehouse_url, capsys):
    assert main(["--warehouse-url", warehouse_url, "db", "upgrade"]) == 0
    assert "dim_layanan has 19 jenis layanan" in capsys.readouterr().out  # 15 kab/kota, 4 provinsi
    assert main(["--warehouse-url", warehouse_url, "db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["--warehouse-url", warehouse_url, "wilayah", "load"]) == 0
    assert "91599 codes in file, 91599 opened" in capsys.readouterr().out
    assert main(["--warehouse-url", warehouse_url, "wilayah", "load"]) == 0
    assert "dim_wilayah unchanged" in capsys.readouterr().out
    assert main(["--warehouse-url", warehouse_url, "status"]) == 0
    assert "no batches loaded yet" in capsys.readouterr().out


def test_wilayah_load_bad_file_exit_code(sqlite_url, tmp_path, capsys):
    main(["--warehouse-url", sqlite_url, "db", "upgrade"])
    bad = tmp_path / "bad.csv"
    bad.write_text("kode,nama,tingkat,kode_induk\n99.1,X,provinsi,\n")
    assert main(["--warehouse-url", sqlite_url, "wilayah", "load", "--file", str(bad),
                 "--berlaku-mulai", "2026-01-01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spm: error: bad.csv: 1 problem(s), nothing loaded: line 2, kode: not a provinsi code")


def test_pengguna_add_list_deactivate(sqlite_url, capsys, monkeypatch):
    """Dashboard accounts from the command line: the password read from stdin, never printed or stored
    in clear; a bad role or bidang is one line; deactivating ends the account's login."""
    import io

    from spm.reporting.akun import login

    assert main(["--warehouse-url", sqlite_url, "db", "upgrade"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("kata-sandi-panjang-1\n"))
    assert main(["--warehouse-url", sqlite_url, "pengguna", "tambah", "kadisdik", "--nama", "Kepala Dinas Pendidikan",
                 "--peran", "verifikator", "--bidang", "pendidikan", "--kode-wilayah", "32.71",
                 "--kata-sandi-stdin"]) == 0
    out = capsys.readouterr().out
    assert "akun kadisdik (verifikator pendidikan, 32.71) disimpan" in out and "kata-sandi" not in out
    monkeypatch.setattr("sys.stdin", io.StringIO("kata-sandi-panjang-1\n"))
    assert main(["--warehouse-url", sqlite_url, "pengguna", "tambah", "x", "--peran", "verifikator",
                 "--bidang", "pertanian", "--kata-sandi-stdin"]) == 1
    assert "--bidang 'pertanian'" in capsys.readouterr().err
    assert main(["--warehouse-url", sqlite_url, "pengguna", "daftar"]) == 0
    listed = capsys.readouterr().out
    assert "kadisdik" in listed and "aktif" in listed and "scrypt" not in listed and "x " not in listed

    from spm.warehouse.db import get_engine

    engine = get_engine(sqlite_url)
    assert login(engine, "kadisdik", "kata-sandi-panjang-1") is not None
    assert main(["--warehouse-url", sqlite_url, "pengguna", "nonaktif", "kadisdik"]) == 0
    assert login(engine, "kadisdik", "kata-sandi-panjang-1") is None
    assert main(["--warehouse-url", sqlite_url, "pengguna", "nonaktif", "tidak-ada"]) == 1
