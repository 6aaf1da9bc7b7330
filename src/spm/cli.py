"""The `spm` command-line tool (DESIGN §10)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from spm.errors import ConfigError, SpmError


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error that says where to look."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def _engine(args):
    from spm.warehouse.db import get_engine

    return get_engine(args.warehouse_url)


def cmd_db_upgrade(args) -> int:
    from spm.warehouse.db import describe, upgrade
    from spm.warehouse.layanan import sync_dim_layanan

    engine = _engine(args)
    revision = upgrade(engine)
    n = sync_dim_layanan(engine)
    print(f"warehouse {describe(engine)} at schema revision {revision}; dim_layanan has {n} jenis layanan")
    return 0


def cmd_db_current(args) -> int:
    from spm.warehouse.db import check_connection, current_revision, describe, head_revision

    engine = _engine(args)
    check_connection(engine)
    current, head = current_revision(engine), head_revision()
    state = "up to date" if current == head else "behind: run `spm db upgrade`"
    print(f"warehouse {describe(engine)}: revision {current or 'none'}, code head {head} ({state})")
    return 0


def cmd_wilayah_load(args) -> int:
    from spm.warehouse.db import require_current_schema
    from spm.warehouse.wilayah import current_count, load_wilayah

    engine = _engine(args)
    require_current_schema(engine)
    result = load_wilayah(engine, args.file, args.berlaku_mulai, args.sumber)
    counts = current_count(engine)
    what = "changed" if result.changed else "unchanged"
    print(
        f"dim_wilayah {what}: {result.rows_in_file} codes in file, {result.opened} opened, "
        f"{result.closed} closed on {result.berlaku_mulai}; current: "
        + ", ".join(f"{counts.get(t, 0)} {t}" for t in ("provinsi", "kabupaten_kota", "kecamatan", "desa_kelurahan"))
    )
    return 0


def cmd_config_show(args) -> int:
    """Every effective setting with the file it came from (packaged default or the site folder)."""
    import json

    from spm.config import CONFIG_DIR, FILES, check_site_config, dotted, effective, site_config_dir, value_at

    site_files = check_site_config()
    folder = site_config_dir()
    print(f"site configuration folder: {folder} "
          f"({', '.join(p.name for p in site_files) if site_files else 'no override files'})")
    for name in FILES if not args.file else [args.file]:
        if name not in FILES:
            raise ConfigError(f"{name!r} is not a configuration file (one of {', '.join(FILES)})")
        data, sources = effective(name)
        print(f"\n# {name}")
        for key in sorted(sources):
            origin = "packaged" if Path(sources[key]).parent == CONFIG_DIR else "site"
            print(f"{dotted(key)} = {json.dumps(value_at(data, key), ensure_ascii=False)}  [{origin}: {sources[key]}]")
    return 0


def cmd_status(args) -> int:
    from spm.warehouse.audit import recent_batches
    from spm.warehouse.db import require_current_schema
    from spm.warehouse.status import BatchStatus

    engine = _engine(args)
    require_current_schema(engine)
    batches = recent_batches(engine, args.limit)
    if not batches:
        print("no batches loaded yet (run `spm demo` or trigger the ingest DAGs)")
        return 0
    header = f"{'batch':>6}  {'source':<10} {'entity':<16} {'kode':<6} {'periode':<24} {'status':<10} " \
             f"{'received':>9} {'published':>9} {'quarant.':>8} {'dq fail':>7}  started (UTC)"
    print(header)
    for b in batches:
        print(
            f"{b.batch_id:>6}  {b.source:<10} {b.entity:<16} {b.kode_wilayah:<6} {b.periode:<24} {b.status:<10} "
            f"{b.rows_received:>9} {b.rows_published:>9} {b.rows_quarantined:>8} {b.failed_expectations:>7}  "
            f"{b.started_at:%Y-%m-%d %H:%M}"
        )
        if b.message and b.status != BatchStatus.PUBLISHED:
            print(f"{'':8}{b.message}")
    return 0


def cmd_demo(args) -> int:
    from spm.demo import run_demo

    return run_demo(kode_wilayah=args.kode_wilayah, scale=args.scale, seed=args.seed)


def cmd_bench_bulk_load(args) -> int:
    from spm.benchmarks.bulk_load import run

    return run(rows=args.rows, sqlite_url=args.warehouse_url, postgres_url=args.postgres_url)


def cmd_bench_pendidikan(args) -> int:
    from spm.benchmarks.pendidikan import run

    return run(kode_wilayah=args.kode_wilayah, scale=args.scale, seed=args.seed, semester_id=args.semester_id,
               warehouse_url=args.warehouse_url, paralel=args.paralel, page_size=args.page_size)


def cmd_bench_kesehatan(args) -> int:
    from spm.benchmarks.kesehatan import run

    return run(kode_wilayah=args.kode_wilayah, scale=args.scale, seed=args.seed, tahun=args.tahun,
               warehouse_url=args.warehouse_url, page_size=args.page_size, peer=not args.no_peer,
               limit_runs=args.limit_runs, paralel=args.paralel, hub_latency_ms=args.hub_latency_ms)


def cmd_kualitas(args) -> int:
    from spm.reporting.kualitas import write_all_pages

    return write_all_pages(_engine(args), args)


def cmd_laporan(args) -> int:
    from spm.reporting.data import available_quarters
    from spm.reporting.publish import FORMATS, publish_laporan

    engine = _engine(args)
    kode = args.kode_wilayah or sorted({k for k, t, q in available_quarters(engine)
                                        if t == args.tahun and q == args.triwulan})
    if not kode:
        print(f"spm laporan: no kab/kota has published capaian for {args.tahun} triwulan {args.triwulan}; "
              "run spm_hitung_capaian first", file=sys.stderr)
        return 1
    for k in kode:
        result = publish_laporan(engine, k, args.tahun, args.triwulan)
        print(f"{k} {args.tahun} triwulan {args.triwulan}: {result['folder']}")
        for jenis in FORMATS:
            print(f"  {jenis:<5} {result[jenis]}")
    return 0


def cmd_dashboard(args) -> int:
    from spm.reporting.dashboard import normalise_root_path, serve
    from spm.warehouse.db import describe, get_engine, require_current_schema

    engine = get_engine(args.dashboard_warehouse_url or args.warehouse_url)
    require_current_schema(engine)
    root = normalise_root_path(args.root_path)
    print(f"spm dashboard: warehouse {describe(engine)}; open http://{args.host}:{args.port}{root}/ "
          "(Ctrl+C to stop)", flush=True)
    serve(engine, host=args.host, port=args.port, root_path=root)
    return 0


def _read_password(args) -> str:
    if args.kata_sandi_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Kata sandi: ")
    if getpass.getpass("Ulangi kata sandi: ") != first:
        raise ConfigError("kedua kata sandi tidak sama")
    return first


def cmd_pengguna_tambah(args) -> int:
    from spm.reporting.akun import add_user
    from spm.warehouse.db import require_current_schema

    engine = _engine(args)
    require_current_schema(engine)
    a = add_user(engine, args.username, args.nama, args.peran, _read_password(args), args.kode_wilayah, args.bidang)
    print(f"akun {a.username} ({a.peran}{' ' + a.bidang if a.bidang else ''}"
          f"{', ' + a.kode_wilayah if a.kode_wilayah else ', semua daerah'}) disimpan; sesinya yang lama berakhir")
    return 0


def cmd_pengguna_nonaktif(args) -> int:
    from spm.reporting.akun import deactivate_user

    if not deactivate_user(_engine(args), args.username):
        print(f"spm: error: tidak ada akun {args.username!r}", file=sys.stderr)
        return 1
    print(f"akun {args.username} dinonaktifkan; sesinya berakhir")
    return 0


def cmd_pengguna_daftar(args) -> int:
    from spm.reporting.akun import list_users

    for u in list_users(_engine(args)):
        print(f"{u['username']:<20} {u['peran']:<12} {u['bidang'] or '-':<12} {u['kode_wilayah'] or 'semua':<8} "
              f"{'aktif' if u['aktif'] else 'nonaktif':<9} {u['nama']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spm", description="SPM pipeline: warehouse, sources, indicators, reports.")
    parser.add_argument(
        "--warehouse-url",
        help="SQLAlchemy URL of the warehouse (default: SPM_WAREHOUSE_URL, AIRFLOW_CONN_SPM_WAREHOUSE, "
             "else the SQLite file under SPM_HOME)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, required=True)

    db = sub.add_parser("db", help="warehouse schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_Parser, required=True)
    db_sub.add_parser("upgrade", help="create or upgrade the warehouse schema, sync dim_layanan") \
        .set_defaults(func=cmd_db_upgrade)
    db_sub.add_parser("current", help="show the warehouse schema revision").set_defaults(func=cmd_db_current)

    wil = sub.add_parser("wilayah", help="region dimension (Kemendagri codes)")
    wil_sub = wil.add_subparsers(dest="wilayah_command", metavar="ACTION", parser_class=_Parser, required=True)
    load = wil_sub.add_parser(
        "load", help="load or refresh dim_wilayah from the shipped code list or a newer one",
        description="Merge a Kemendagri code list (CSV: kode,nama,tingkat,kode_induk) into dim_wilayah. "
                    "Unchanged codes stay; vanished or changed ones are closed and new versions opened.",
    )
    load.add_argument("--file", type=Path, help="code list CSV (default: the shipped Kepmendagri 2025 list)")
    load.add_argument("--berlaku-mulai", type=_date, help="date the list takes effect (needed with --file)")
    load.add_argument("--sumber", help="where the list comes from, e.g. the decree number")
    load.set_defaults(func=cmd_wilayah_load)

    cfg = sub.add_parser("config", help="configuration: packaged defaults and the site's overrides")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser, required=True)
    show = cfg_sub.add_parser("show", help="print every effective setting and where it came from "
                                           "(site folder: SPM_CONFIG_DIR, else $SPM_HOME/config)")
    show.add_argument("file", nargs="?", help="only this file, e.g. faktor_sasaran.yaml")
    show.set_defaults(func=cmd_config_show)

    status = sub.add_parser("status", help="recent batches and their quality")
    status.add_argument("--limit", type=_positive_int, default=20, help="how many batches (default 20)")
    status.set_defaults(func=cmd_status)

    kualitas = sub.add_parser("kualitas", help="data-quality pages (HTML) per source and period, with the GX "
                                               "Data Docs, under $SPM_HOME/reports/kualitas")
    kualitas.add_argument("--sumber", action="append",
                          help="source (dukcapil, dapodik, satusehat, opd, spm); repeatable; default all")
    kualitas.add_argument("--periode", help="only this period, e.g. 2025-2, 20251, 2026-T3; default all")
    kualitas.add_argument("--kode-wilayah", action="append", help="expected kab/kota, repeatable; default those loaded")
    kualitas.add_argument("--keluaran", type=Path, help="output folder (default $SPM_HOME/reports/kualitas)")
    kualitas.set_defaults(func=cmd_kualitas)

    lap = sub.add_parser(
        "laporan", help="publish the quarterly e-SPM workbook, HTML/PDF report and CSV (as spm_terbitkan_laporan)",
        description="Write the outputs of a quarter under $SPM_HOME/reports/laporan/<kode>/<tahun>/triwulan-<q>/ "
                    "from the published marts, atomically.",
    )
    lap.add_argument("--kode-wilayah", action="append", help="kab/kota, repeatable (default: all with capaian)")
    lap.add_argument("--tahun", type=_positive_int, required=True, help="report year")
    lap.add_argument("--triwulan", type=int, choices=(1, 2, 3, 4), required=True, help="quarter (year-to-date)")
    lap.set_defaults(func=cmd_laporan)

    dash = sub.add_parser(
        "dashboard", help="web dashboard of the published figures (index, capaian, drill-down, trend, downloads)",
        description="Serve the SPM dashboard over HTTP. Behind nginx/Apache under a sub-path, pass that "
                    "sub-path as --root-path (e.g. /spm).",
    )
    dash.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dash.add_argument("--port", type=_positive_int, default=8050, help="port (default 8050)")
    dash.add_argument("--root-path", default="", help="sub-path behind a reverse proxy, e.g. /spm (default none)")
    dash.add_argument("--warehouse-url", dest="dashboard_warehouse_url", metavar="URL",
                      help="SQLAlchemy URL of the warehouse (same default as the global --warehouse-url)")
    dash.set_defaults(func=cmd_dashboard)

    user = sub.add_parser("pengguna", help="dashboard accounts: who verifies and approves the quarterly figures")
    user_sub = user.add_subparsers(dest="pengguna_command", metavar="ACTION", parser_class=_Parser, required=True)
    add = user_sub.add_parser("tambah", help="create an account, or replace one (new password, sessions ended)")
    add.add_argument("username")
    add.add_argument("--nama", default="", help="full name shown in the dashboard and on FINAL reports")
    add.add_argument("--peran", required=True, choices=("pembaca", "verifikator", "penyetuju"),
                     help="pembaca: reads; verifikator: verifies one bidang (Kepala OPD or delegate); "
                          "penyetuju: approves and re-opens (Bagian Tata Pemerintahan)")
    add.add_argument("--bidang", help="the verifikator's bidang (pendidikan, kesehatan)")
    add.add_argument("--kode-wilayah", help="the kab/kota or provinsi the account acts for (default: every one)")
    add.add_argument("--kata-sandi-stdin", action="store_true",
                     help="read the password from the first line of standard input instead of prompting")
    add.set_defaults(func=cmd_pengguna_tambah)
    off = user_sub.add_parser("nonaktif", help="deactivate an account (its sessions end at once)")
    off.add_argument("username")
    off.set_defaults(func=cmd_pengguna_nonaktif)
    user_sub.add_parser("daftar", help="list the accounts").set_defaults(func=cmd_pengguna_daftar)

    demo = sub.add_parser(
        "demo", help="the main job: real Airflow DAGs end to end on the embedded default",
        description="Runs the project's DAGs with real Airflow (SQLite metadata DB under SPM_HOME) "
                    "against the simulated sources, into the SQLite warehouse, and prints where results are.",
    )
    demo.add_argument("--kode-wilayah", default="32.71", help="demo kabupaten/kota code (default 32.71 Kota Bogor)")
    demo.add_argument("--scale", type=float, default=0.01, help="simulated share of the population (default 0.01)")
    demo.add_argument("--seed", type=int, default=20261123, help="simulator seed")
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="benchmarks (ratios against a baseline in the same run)")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="WHAT", parser_class=_Parser, required=True)
    bl = bench_sub.add_parser("bulk-load", help="partition-replace helper vs DataFrame.to_sql, SQLite and PostgreSQL")
    bl.add_argument("--rows", type=_positive_int, default=200_000, help="rows per run (default 200000)")
    bl.add_argument("--postgres-url", help="PostgreSQL URL to benchmark too (default SPM_TEST_POSTGRES_URL)")
    bl.set_defaults(func=cmd_bench_bulk_load)
    bp = bench_sub.add_parser("pendidikan", help="education ingest end to end (learners/s) vs the bulk-load "
                                                 "ceiling, peak memory")
    bp.add_argument("--kode-wilayah", default="32.71", help="kab/kota code (default 32.71)")
    bp.add_argument("--scale", type=float, default=1.0, help="simulated share of the population (default 1.0: full)")
    bp.add_argument("--seed", type=int, default=20261123, help="simulator seed")
    bp.add_argument("--semester-id", type=int, default=20241, help="Dapodik semester YYYYS (default 20241)")
    bp.add_argument("--paralel", type=_positive_int, default=8, help="schools fetched at once (default 8)")
    bp.add_argument("--page-size", type=_positive_int, default=1000, help="rows per page (default 1000)")
    bp.set_defaults(func=cmd_bench_pendidikan)
    bk = bench_sub.add_parser("kesehatan", help="health ingest end to end (FHIR resources/s) vs this machine's "
                                                "limit and FHIR-PYrate, per-process peak memory")
    bk.add_argument("--kode-wilayah", default="32.71", help="kab/kota code (default 32.71)")
    bk.add_argument("--scale", type=float, default=1.0, help="simulated share of the population (default 1.0: full)")
    bk.add_argument("--seed", type=int, default=20261123, help="simulator seed")
    bk.add_argument("--tahun", type=int, default=2024,
                    help="year of lastUpdated to backfill (default 2024, the hub's first)")
    bk.add_argument("--page-size", type=_positive_int, default=1000, help="resources per page (default 1000)")
    bk.add_argument("--no-peer", action="store_true", help="leave out FHIR-PYrate (slow: ~50x the limit's time)")
    bk.add_argument("--limit-runs", type=_positive_int, default=3,
                    help="runs of the limit; the fastest counts (default 3: one run varies by +-30%% here)")
    bk.add_argument("--paralel", type=_positive_int, default=1,
                    help="searches of one type at once, the connection's `paralel` (default 1: the simulated hub "
                         "shares this machine's cores; the connection's default is 2, for a hub across a network)")
    bk.add_argument("--hub-latency-ms", type=float, default=0.0,
                    help="the simulated hub waits this long before answering each page (a hub across a network)")
    bk.set_defaults(func=cmd_bench_kesehatan)

    try:
        from spm.simulator.cli import register as register_simulator
    except ImportError:
        register_simulator = None
    if register_simulator is not None:
        register_simulator(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except SpmError as exc:
        print(f"spm: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("spm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
