"""`spm simulator serve` and `spm simulator write-inbox`."""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time
from pathlib import Path

from spm.errors import ConfigError
from spm.simulator.config import SimulatorConfig, check_kode_kab_kota
from spm.simulator.faults import FAULT_SWITCHES, Faults, parse_fault
from spm.simulator.opd_workbook import MALFORMED_KINDS


def _kode(text: str) -> str:
    try:
        return check_kode_kab_kota(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 and at most 1")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535, 0 = any free port)")
    return value


def _fault(text: str) -> tuple[str, object]:
    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _triwulan(text: str) -> int:
    if text not in ("1", "2", "3", "4"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a quarter (1-4)")
    return int(text)


def _tahun(text: str) -> int:
    if text not in ("2024", "2025", "2026"):
        raise argparse.ArgumentTypeError(f"{text!r}: the simulated years with complete inputs are 2024-2026")
    return int(text)


def _add_world_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--kode-wilayah", nargs="+", type=_kode, default=["32.71"], metavar="KODE",
                        help="kabupaten/kota codes, dotted (default 32.71 Kota Bogor)")
    parser.add_argument("--scale", type=_scale, default=0.01,
                        help="share of the real population to simulate, 0 < scale <= 1 (default 0.01)")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed (default 20261123)")


def _config(args, **extra) -> SimulatorConfig:
    try:
        return SimulatorConfig(kode_wilayah=tuple(args.kode_wilayah), scale=args.scale, seed=args.seed, **extra)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def cmd_serve(args) -> int:
    from spm.simulator.servers import SimulatorServers

    config = _config(args, host=args.host, dapodik_port=args.dapodik_port, dukcapil_port=args.dukcapil_port,
                     satusehat_port=args.satusehat_port, satusehat_kode_wilayah=args.satusehat_kode_wilayah,
                     token_ttl_seconds=args.token_ttl)
    try:
        faults = Faults(**dict(args.fault or []))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    started = time.monotonic()
    sim = SimulatorServers(config, faults)
    for area in sim.world:  # build now, not on the first request
        area.pendidikan
    sim.world.fhir.kesehatan
    gc.freeze()  # the world lives as long as the servers: the collector need not walk it again
    built = time.monotonic() - started
    try:
        sim.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {config.host}: {exc}") from None
    try:  # started above (not `with sim`, which would bind the same ports a second time)
        c = sim.credentials
        print(f"simulated {', '.join(config.kode_wilayah)} at scale {config.scale} (seed {config.seed}) "
              f"in {built:.1f} s; FHIR hub: {config.satusehat_kode_wilayah}")
        print(f"dapodik   {sim.dapodik_url}   Authorization: Bearer {c['dapodik_token']}")
        print(f"dukcapil  {sim.dukcapil_url}   X-API-Key: {c['dukcapil_api_key']}")
        print(f"satusehat {sim.satusehat_url}   client_id {c['satusehat_client_id']} client_secret {c['satusehat_client_secret']}")
        active = {k: v for k, v in vars(faults).items() if v != getattr(Faults(), k)}
        print("faults: " + (", ".join(f"{k}={v}" for k, v in active.items()) or "none"))
        print("serving; Ctrl-C stops", flush=True)
        try:
            threading.Event().wait(args.duration) if args.duration else threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
    finally:
        sim.stop()
    return 0


def cmd_write_inbox(args) -> int:
    from spm.settings import spm_home
    from spm.simulator.inbox import write_inbox
    from spm.simulator.world import World

    written = write_inbox(
        World(_config(args)),
        args.dukcapil_dir or spm_home() / "inbox" / "dukcapil",
        args.opd_dir or spm_home() / "inbox" / "opd",
        args.tahun, args.triwulan, tuple(args.format or ["csv"]), args.malformed,
    )
    for path in written:
        print(path)
    print(f"{len(written)} files written")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `simulator` command group to an argparse subparsers object."""
    sim = subparsers.add_parser(
        "simulator", help="simulated Dapodik, Dukcapil and FHIR sources, and the file inboxes",
        description="Deterministic synthetic sources for any kabupaten/kota (DESIGN §8).",
    )
    sub = sim.add_subparsers(dest="simulator_command", metavar="ACTION", parser_class=type(sim), required=True)

    serve = sub.add_parser(
        "serve", help="serve the source contracts on localhost until Ctrl-C",
        description="Serve Dapodik (§3.1), Dukcapil (§3.2) and a SATUSEHAT-style FHIR hub (§3.3) on "
                    "localhost, print their base URLs and credentials, run until Ctrl-C. "
                    f"Faults: {', '.join(FAULT_SWITCHES)} (see docs/simulator.md).",
    )
    _add_world_arguments(serve)
    serve.add_argument("--satusehat-kode-wilayah", type=_kode, help="the FHIR hub's kabupaten/kota (default the first)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--dapodik-port", type=_port, default=0, help="port (default 0: any free port)")
    serve.add_argument("--dukcapil-port", type=_port, default=0, help="port (default 0: any free port)")
    serve.add_argument("--satusehat-port", type=_port, default=0, help="port (default 0: any free port)")
    serve.add_argument("--token-ttl", type=int, default=3600, help="FHIR token lifetime in seconds (default 3600)")
    serve.add_argument("--fault", action="append", type=_fault, metavar="NAME[=VALUE]",
                       help="inject a fault, repeatable, e.g. errors=0.1, rate_limit=0.05, fhir_updates, "
                            "missing=penduduk:2024-2,dapodik:20241")
    serve.add_argument("--duration", type=float, help=argparse.SUPPRESS)  # tests: stop after N seconds
    serve.set_defaults(func=cmd_serve)

    inbox = sub.add_parser(
        "write-inbox", help="write Dukcapil files and OPD workbooks for a quarter into the inboxes",
        description="Write the population semester(s) and births a quarter needs (CSV and/or XLSX) and the "
                    "pendidikan and kesehatan OPD workbooks.",
    )
    _add_world_arguments(inbox)
    inbox.add_argument("--tahun", type=_tahun, required=True, help="year of the report (2024-2026)")
    inbox.add_argument("--triwulan", type=_triwulan, required=True, help="quarter 1-4")
    inbox.add_argument("--dukcapil-dir", type=Path, help="default SPM_HOME/inbox/dukcapil")
    inbox.add_argument("--opd-dir", type=Path, help="default SPM_HOME/inbox/opd")
    inbox.add_argument("--format", action="append", choices=("csv", "xlsx"),
                       help="Dukcapil file format, repeatable (default csv)")
    inbox.add_argument("--malformed", choices=MALFORMED_KINDS, metavar="KIND",
                       help=f"also write broken copies ({', '.join(MALFORMED_KINDS)} for the OPD workbooks)")
    inbox.set_defaults(func=cmd_write_inbox)
    return sim
