"""`simulator serve` and `simulator write-inbox` through an argparse parser, as `spm` wires them."""

from __future__ import annotations

import argparse

import pytest

from spm.simulator.cli import register
from tests.ports import free_port


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spm")
    register(parser.add_subparsers(dest="command", parser_class=_Parser, required=True))
    return parser


@pytest.mark.parametrize("argv", [["simulator", "--help"], ["simulator", "serve", "--help"],
                                  ["simulator", "write-inbox", "--help"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(argv)
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["simulator", "serve", "--scale", "0"],
    ["simulator", "serve", "--kode-wilayah", "32"],
    ["simulator", "serve", "--fault", "errors=lots"],
    ["simulator", "serve", "--dapodik-port", "70000"],
    ["simulator", "write-inbox", "--tahun", "2020", "--triwulan", "1"],
    ["simulator", "write-inbox", "--tahun", "2025", "--triwulan", "5"],
    ["simulator", "write-inbox", "--tahun", "2025", "--triwulan", "1", "--malformed", "odd"],
])
def test_bad_arguments_give_a_one_line_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len([line for line in err if "error:" in line]) == 1


def test_write_inbox(tmp_path, capsys):
    args = _parser().parse_args(["simulator", "write-inbox", "--scale", "0.001", "--tahun", "2025", "--triwulan", "1",
                                 "--dukcapil-dir", str(tmp_path / "d"), "--opd-dir", str(tmp_path / "o"),
                                 "--format", "xlsx"])
    assert args.func(args) == 0
    assert (tmp_path / "d" / "penduduk_3271_2024-2.xlsx").exists()
    assert (tmp_path / "o" / "opd_kesehatan_3271_2025_TW1.xlsx").exists()
    assert "files written" in capsys.readouterr().out


def test_serve_prints_urls_and_credentials(capsys):
    args = _parser().parse_args(["simulator", "serve", "--scale", "0.001", "--fault", "errors=0.1",
                                 "--fault", "fhir_updates", "--duration", "0.2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:" in out and "Bearer sim-dapodik-token" in out and "client_secret" in out
    assert "error_share=0.1" in out and "fhir_updates=True" in out


def test_serve_listens_on_the_ports_given(capsys):
    """Fixed ports are bound once (the servers were started twice, so any --*-port failed)."""
    ports = []
    while len(ports) < 3:
        port = free_port()
        if port not in ports:
            ports.append(port)
    args = _parser().parse_args(["simulator", "serve", "--scale", "0.001", "--dapodik-port", str(ports[0]),
                                 "--dukcapil-port", str(ports[1]), "--satusehat-port", str(ports[2]),
                                 "--duration", "0.2"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for port in ports:
        assert f"http://127.0.0.1:{port}" in out
