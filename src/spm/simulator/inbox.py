"""Write the file inboxes: Dukcapil population/births files (DESIGN §3.2) and OPD workbooks (§3.4).

Dukcapil files carry the CSV columns of the API; `.xlsx` copies hold the same columns on the first
sheet. Names: `penduduk_<kabkota>_<YYYY-S>.<ext>` and `kelahiran_<kabkota>_<YYYY>.<ext>` with the
undotted kab/kota code (`penduduk_3271_2024-2.csv`). A malformed file
(`penduduk_<kabkota>_<YYYY-S>_rusak.csv`) has a wrong header, a non-numeric jumlah and a cut row.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from spm.simulator.config import BIRTH_YEARS, POPULATION_SEMESTERS
from spm.simulator.opd_workbook import write_opd_workbook
from spm.sources.opd_layout import BIDANG, workbook_filename
from spm.simulator.records import KELAHIRAN_HEADER, PENDUDUK_HEADER, csv_text, kelahiran_rows, penduduk_rows
from spm.simulator.world import KabKotaWorld, World

FORMATS = ("csv", "xlsx")


def _write(path: Path, header: str, rows, fmt: str) -> Path:
    if fmt == "csv":
        path.write_text(csv_text(header, rows), encoding="utf-8")
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("data")
        sheet.append(header.split(","))
        for row in rows:
            sheet.append(list(row))
        book.save(path)
    return path


def write_dukcapil_files(world: World, folder: Path, semesters=POPULATION_SEMESTERS, birth_years=BIRTH_YEARS,
                         formats: tuple[str, ...] = ("csv",), malformed: bool = False) -> list[Path]:
    """Population files for `semesters` [(tahun, semester)] and birth files for `birth_years`."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"format(s) {', '.join(bad)} not supported; use csv and/or xlsx")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for area in world:
        kab = area.kode.replace(".", "")
        for fmt in formats:
            for tahun, semester in semesters:
                path = folder / f"penduduk_{kab}_{tahun}-{semester}.{fmt}"
                written.append(_write(path, PENDUDUK_HEADER, penduduk_rows(area, tahun, semester), fmt))
            for tahun in birth_years:
                path = folder / f"kelahiran_{kab}_{tahun}.{fmt}"
                written.append(_write(path, KELAHIRAN_HEADER, kelahiran_rows(area, tahun), fmt))
        if malformed:
            written.append(write_malformed_penduduk(area, folder, *semesters[-1]))
    return written


def write_malformed_penduduk(area: KabKotaWorld, folder: Path, tahun: int, semester: int) -> Path:
    """A population file that breaks §3.2: renamed column, text in jumlah, a row cut short."""
    lines = csv_text(PENDUDUK_HEADER, penduduk_rows(area, tahun, semester)).splitlines()
    lines[0] = lines[0].replace("jenis_kelamin", "jk")
    lines[2] = lines[2].rsplit(",", 1)[0] + ",tiga"
    lines[3] = lines[3].rsplit(",", 2)[0]
    path = Path(folder) / f"penduduk_{area.kode.replace('.', '')}_{tahun}-{semester}_rusak.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_opd_files(world: World, folder: Path, tahun: int, triwulan: int, bidang: tuple[str, ...] = BIDANG,
                    malformed: str | None = None) -> list[Path]:
    """One workbook per kab/kota and bidang, and one per bidang of each province with two or more
    simulated kab/kota (its own jenis layanan); with `malformed`, an extra broken copy of each
    kab/kota's (`..._rusak.xlsx`)."""
    folder = Path(folder)
    written = []
    for area in world:
        for b in bidang:
            name = workbook_filename(b, area.kode, tahun, triwulan)
            written.append(write_opd_workbook(folder / name, area, b, tahun, triwulan))
            if malformed:
                broken = folder / name.replace(".xlsx", "_rusak.xlsx")
                written.append(write_opd_workbook(broken, area, b, tahun, triwulan, malformed=malformed))
    for kode_provinsi, areas in provinces_of(world).items():
        for b in bidang:
            name = workbook_filename(b, kode_provinsi, tahun, triwulan)
            written.append(write_opd_workbook(folder / name, areas[0], b, tahun, triwulan, provinsi=areas))
    return written


def provinces_of(world: World) -> dict[str, list[KabKotaWorld]]:
    """The provinces with two or more simulated kab/kota (those the project computes), and those kab/kota."""
    out: dict[str, list[KabKotaWorld]] = {}
    for area in world:
        out.setdefault(area.kode.split(".")[0], []).append(area)
    return {k: v for k, v in out.items() if len(v) >= 2}


def write_inbox(world: World, dukcapil_dir: Path, opd_dir: Path, tahun: int, triwulan: int,
                formats: tuple[str, ...] = ("csv",), malformed: str | None = None) -> list[Path]:
    """The files a quarter's figures need: the population semester 2 of tahun-1 (and semester 1 of
    tahun from the third quarter on), births of tahun-1, and both OPD workbooks. With `malformed`
    (an OPD kind of MALFORMED_KINDS) broken copies are written too."""
    semesters = [(tahun - 1, 2)] + ([(tahun, 1)] if triwulan >= 3 else [])
    written = write_dukcapil_files(world, dukcapil_dir, semesters, (tahun - 1,), formats, malformed is not None)
    written += write_opd_files(world, opd_dir, tahun, triwulan, malformed=malformed)
    return written
