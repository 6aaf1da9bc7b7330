"""OPD inputs (`spm_ingest_input_opd`): mutu items and anggaran from the workbooks in the OPD inbox,
and what the OPD writes for the report (permasalahan and solusi, the status of the four tahapan
penerapan SPM, the rencana aksi).

One workbook = one OPD (bidang) × kab/kota (or the province, for its own services) × quarter = one `etl_batch` (source `opd`, entity
the bidang, periode `YYYY-Tq`), published whole or not at all (DESIGN §3.4):

1. template checks (spm.sources.opd_workbook): sheets, headers, identitas, cell types;
2. its sheets are staged (`staging_input_mutu`, `staging_input_anggaran`, and `staging_input_penerima`
   in a workbook with OPD-entered penerima: the province's health crisis and KLB services, and
   `staging_input_permasalahan`, `_tahapan`, `_rencana_aksi`) and checked with the GX suites
   `expectations/opd_mutu.json`, `opd_anggaran.json`, `opd_penerima.json`, `opd_permasalahan.json`,
   `opd_tahapan.json`, `opd_rencana_aksi.json`; every expectation gives a
   `dq_result` row. A failed critical expectation or any template problem rejects the workbook whole:
   it moves to `rejected/` with `<file>.errors.txt` listing sheet, row, column and what is wrong.
   A failed warning expectation (more available than needed, realisasi above alokasi, a jenis
   layanan left out) is recorded and the workbook is still published: nothing is quarantined,
   because half a workbook would give a mutu that nobody reported;
3. publish replaces the partition (kab/kota × bidang × tahun × triwulan) of `fact_input_mutu` and
   `fact_input_anggaran` (and `fact_input_penerima`) in one transaction: a later workbook for the same quarter replaces the
   earlier one. A workbook whose content equals the published one is `unchanged` (nothing happens).

Workbooks are taken in drop order (modification time, then name), so when a corrected workbook is
dropped after the first one, the corrected one is what stays published.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from spm.errors import ConfigError
from spm.ingest.inbox import take_inbox
from spm.ingest.wap import (
    EntitySpec, open_batch, publish_guard, record_staged, settle_unchanged, settled_on_error, staged_frame,
)
from spm.warehouse.dq_results import write_dq_results
from spm.sources.opd_layout import TAHAPAN, sheets_of, tingkat_of_kode
from spm.sources.opd_workbook import BULAN, OpdWorkbook, Problem, column_label, read_workbook
from spm.warehouse.audit import WIB, close_published, finish_batch, now, start_batch
from spm.warehouse.bulk import replace_partition
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.tables import dim_wilayah
from spm.warehouse.tables_opd import (
    fact_input_anggaran, fact_input_ikm, fact_input_mutu, fact_input_penerima, fact_input_permasalahan,
    fact_input_rencana_aksi, fact_input_tahapan, staging_input_anggaran, staging_input_ikm, staging_input_mutu,
    staging_input_penerima, staging_input_permasalahan, staging_input_rencana_aksi, staging_input_tahapan,
)
from spm.warehouse.status import BatchStatus

log = logging.getLogger(__name__)
SOURCE = "opd"
REALISASI = tuple(f"realisasi_{m:02d}" for m in BULAN)
TERLAYANI = tuple(f"terlayani_{m:02d}" for m in BULAN)

MUTU = EntitySpec(
    source=SOURCE, entity="mutu", staging=staging_input_mutu,
    columns=("kode_layanan", "komponen", "uraian", "satuan", "jumlah_dibutuhkan", "jumlah_tersedia"),
    suite="opd_mutu", publish_sql="core/fact_input_mutu_publish.sql",
    natural_key=("kode_layanan", "komponen", "uraian"), fact=fact_input_mutu,
)
ANGGARAN = EntitySpec(
    source=SOURCE, entity="anggaran", staging=staging_input_anggaran,
    columns=("kode_layanan", "alokasi", *REALISASI, "realisasi", "bulan_terakhir"),
    suite="opd_anggaran", publish_sql="core/fact_input_anggaran_publish.sql",
    natural_key=("kode_layanan",), fact=fact_input_anggaran,
)
PENERIMA = EntitySpec(
    source=SOURCE, entity="penerima", staging=staging_input_penerima,
    columns=("kode_layanan", "jumlah_sasaran", *TERLAYANI, "keterangan", "terlayani", "bulan_terakhir"),
    suite="opd_penerima", publish_sql="core/fact_input_penerima_publish.sql",
    natural_key=("kode_layanan",), fact=fact_input_penerima,
)
# What the OPD writes for the report (layout 3): published with the figures, in the same batch.
PERMASALAHAN = EntitySpec(
    source=SOURCE, entity="permasalahan", staging=staging_input_permasalahan,
    columns=("kode_layanan", "permasalahan", "solusi"), suite="opd_permasalahan",
    publish_sql="core/fact_input_permasalahan_publish.sql", natural_key=("kode_layanan", "permasalahan"),
    fact=fact_input_permasalahan,
)
TAHAPAN_LAYANAN = EntitySpec(
    source=SOURCE, entity="tahapan", staging=staging_input_tahapan, columns=("kode_layanan", *TAHAPAN, "keterangan"),
    suite="opd_tahapan", publish_sql="core/fact_input_tahapan_publish.sql", natural_key=("kode_layanan",),
    fact=fact_input_tahapan,
)
RENCANA_AKSI = EntitySpec(
    source=SOURCE, entity="rencana_aksi", staging=staging_input_rencana_aksi,
    columns=("kode_layanan", "kegiatan", "keluaran", "unit_pelaksana", "bulan_selesai", "anggaran"),
    suite="opd_rencana_aksi", publish_sql="core/fact_input_rencana_aksi_publish.sql",
    natural_key=("kode_layanan", "kegiatan"), fact=fact_input_rencana_aksi,
)
NARASI = (PERMASALAHAN, TAHAPAN_LAYANAN, RENCANA_AKSI)
# Survei Kepuasan Masyarakat results (layout 4): the kepuasan masyarakat index of the bidang.
IKM = EntitySpec(
    source=SOURCE, entity="ikm", staging=staging_input_ikm,
    columns=("unit_layanan", "kode_layanan", "periode_survei", "jumlah_responden", "nilai_ikm"), suite="opd_ikm",
    publish_sql="core/fact_input_ikm_publish.sql", natural_key=("unit_layanan", "kode_layanan", "periode_survei"),
    fact=fact_input_ikm,
)
OPSIONAL = (*NARASI, IKM)  # sheets an older template lacks: published empty then (spm.sources.opd_layout.OPTIONAL_SHEETS)
SHEET_OF = {MUTU.suite: "mutu", ANGGARAN.suite: "anggaran", PENERIMA.suite: "penerima",
            **{spec.suite: spec.entity for spec in OPSIONAL}}


def specs_of(book: OpdWorkbook) -> tuple[EntitySpec, ...]:
    """The sheets a workbook stages, validates and publishes (penerima only where its kind has it). A
    narrative sheet absent from an older template's workbook is still published, empty: the latest
    workbook of a quarter is what the report shows."""
    ident = book.identitas
    figures = (MUTU, ANGGARAN, PENERIMA) if "penerima" in sheets_of(ident.bidang, ident.tingkat) else (MUTU, ANGGARAN)
    return figures + OPSIONAL


def rows_of(book: OpdWorkbook, spec: EntitySpec) -> list[dict[str, Any]]:
    return getattr(book, SHEET_OF[spec.suite])


def entity_of(bidang: str) -> str:
    """A workbook's batch is the OPD's bidang (`pendidikan`, `kesehatan`); its two sheets (the
    EntitySpecs MUTU and ANGGARAN) are staged, validated and published together in that batch."""
    return bidang


def layanan_of_bidang(bidang: str, tingkat: str = "kabupaten_kota") -> list[str]:
    """The jenis layanan of a bidang and level of government in the project's catalog (what the
    index is computed over): a kab/kota's workbook reports the kab/kota SPM, the province's its own."""
    from spm.config.katalog_layanan import load_catalog

    return [layanan.kode for layanan in load_catalog(tingkat) if layanan.bidang == bidang]


def layanan_penerima(bidang: str, tingkat: str) -> list[str]:
    """The jenis layanan whose sasaran and terlayani the OPD enters (katalog `sumber: opd`)."""
    from spm.config.katalog_layanan import load_catalog

    return [layanan.kode for layanan in load_catalog(tingkat) if layanan.bidang == bidang and layanan.sumber == "opd"]


def content_checksum(book: OpdWorkbook) -> str:
    """Checksum of what the workbook says (identitas and its sheets), independent of row order and
    of the bytes of the file: a re-saved copy with the same figures is the same input."""
    ident = book.identitas
    lines = [json.dumps(["identitas", ident.kode_wilayah, ident.bidang, ident.tahun, ident.triwulan])]
    for spec in specs_of(book):
        sheet = SHEET_OF[spec.suite]
        lines += sorted(json.dumps([sheet, *(r[c] for c in spec.columns)], default=str) for r in rows_of(book, spec))
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _kab_kota_known(engine: sa.Engine, kode: str) -> bool:
    """A kab/kota (or, for its own services, a province) of the current region codes."""
    with engine.connect() as conn:
        if not conn.execute(sa.select(sa.func.count()).select_from(dim_wilayah)).scalar_one():
            raise ConfigError("dim_wilayah is empty: run `spm wilayah load` (or DAG spm_muat_wilayah)")
        return conn.execute(sa.select(sa.func.count()).select_from(dim_wilayah).where(
            dim_wilayah.c.kode == kode, dim_wilayah.c.tingkat == tingkat_of_kode(kode),
            dim_wilayah.c.berlaku_sampai.is_(None))).scalar_one() > 0


# --- one workbook ---------------------------------------------------------------------------------

def _stage(engine: sa.Engine, book: OpdWorkbook, checksum: str, run_id: str | None) -> tuple[int, str | None]:
    """Start the batch and stage both sheets; returns (batch_id, None) or (batch_id, 'unchanged')."""
    ident = book.identitas
    entity = entity_of(ident.bidang)
    with engine.begin() as conn:
        batch_id = open_batch(conn, SOURCE, entity, ident.kode_wilayah, ident.periode, run_id,
                              (MUTU.staging, ANGGARAN.staging, PENERIMA.staging, *(spec.staging for spec in OPSIONAL)))
        received = sum(len(rows_of(book, spec)) for spec in specs_of(book))
        if not book.problems and settle_unchanged(
                conn, SOURCE, entity, ident.kode_wilayah, ident.periode, batch_id, checksum, received,
                message=f"{book.file_name}: same figures as the published workbook; nothing changed"):
            return batch_id, BatchStatus.UNCHANGED
        partition = {"kode_kab_kota": ident.kode_wilayah, "bidang": ident.bidang, "periode": ident.periode}
        for spec in specs_of(book):
            cols = ("batch_id", *partition, "row_id", *spec.columns)
            replace_partition(conn, spec.staging, partition, cols,
                              ((batch_id, *partition.values(), r["row_id"], *(r[c] for c in spec.columns))
                               for r in rows_of(book, spec)))
        record_staged(conn, batch_id, received, checksum)
    return batch_id, None


def _suite_texts(suite: str) -> dict[str, dict]:
    from spm.quality.gx_runner import load_suite_file

    return {e["meta"]["name"]: e["meta"] for e in load_suite_file(suite)["expectations"]}


def _validate(engine: sa.Engine, book: OpdWorkbook, batch_id: int) -> tuple[list[Problem], list[Problem]]:
    """Run both suites, store dq_result; return (critical problems, warnings) located in the workbook."""
    from spm.quality.gx_runner import validate_frame

    ident = book.identitas
    params = {"layanan_bidang": layanan_of_bidang(ident.bidang, ident.tingkat), "bulan_akhir": 3 * ident.triwulan,
              "layanan_penerima": layanan_penerima(ident.bidang, ident.tingkat)}
    errors: list[Problem] = []
    warnings: list[Problem] = []
    checked_at = now()
    for sheet in book.absent:  # an older template: taken, and the OPD told what the report will lack
        warnings.append(Problem(sheet, None, None, "lembar tidak ada (templat lama): laporan menyatakan bagian ini "
                                                   "belum diisi OPD; pakai templat terbaru untuk mengisinya"))
    for spec in specs_of(book):
        sheet, texts = SHEET_OF[spec.suite], _suite_texts(spec.suite)
        if sheet in book.absent:
            continue
        report = validate_frame(spec.suite, staged_frame(engine, spec, batch_id), params)
        with engine.begin() as conn:
            write_dq_results(conn, batch_id, spec.suite, report.outcomes, checked_at, report.gx_result)
        for o in report.outcomes:
            if o.success:
                continue
            meta = texts.get(o.name, {})
            target = errors if o.severity == "critical" else warnings
            if o.name in ("setiap_layanan_bidang_ada", "setiap_layanan_penerima_ada"):  # name what is missing
                wanted = params["layanan_penerima" if spec is PENERIMA else "layanan_bidang"]
                missing = sorted(set(wanted) - {r["kode_layanan"] for r in rows_of(book, spec)})
                meta = {**meta, "uraian": f"{meta.get('uraian', o.name)}: {', '.join(missing)}"}
            target.extend(_locate(book, sheet, o, meta))
    return errors, warnings


def _locate(book: OpdWorkbook, sheet: str, outcome, meta: dict) -> list[Problem]:
    """Turn a failed expectation into problems naming sheet, row and column, with the cell's value."""
    text = meta.get("uraian") or outcome.name
    column = meta.get("kolom") or outcome.kolom
    if outcome.error:
        return [Problem(sheet, None, None, f"pemeriksaan {outcome.name} tidak dapat dijalankan: {outcome.error}")]
    if not outcome.failed_row_ids:
        observed = f" (ditemukan {outcome.observed_value})" if outcome.observed_value else ""
        return [Problem(sheet, None, column_label(sheet, column) if column else None,
                        f"{text}{observed} [{outcome.name}]")]
    out = []
    for row_id in outcome.failed_row_ids:
        col = column
        if col == "bulan_terakhir":  # name the month cell the OPD must clear
            prefix = "terlayani" if sheet == "penerima" else "realisasi"
            col = f"{prefix}_{book.value(sheet, row_id, 'bulan_terakhir'):02d}"
        value = book.value(sheet, row_id, col) if col else None
        shown = f" ({value!r})" if value is not None else ""
        out.append(Problem(sheet, row_id, column_label(sheet, col) if col else None,
                           f"{text}{shown} [{outcome.name}]"))
    return out


def _publish(engine: sa.Engine, book: OpdWorkbook, batch_id: int, warnings: list[Problem]) -> dict[str, Any]:
    ident = book.identitas
    params = {"kode_kab_kota": ident.kode_wilayah, "bidang": ident.bidang, "tahun": ident.tahun,
              "triwulan": ident.triwulan, "batch_id": batch_id}
    with engine.begin() as conn:
        batch = publish_guard(conn, MUTU, batch_id)
        if batch.status != BatchStatus.RUNNING:  # settled meanwhile (superseded by a newer load)
            return {"status": batch.status, "batch_id": batch_id, "warnings": [str(w) for w in warnings],
                    "message": f"batch {batch_id} is {batch.status}, not published: {batch.message or ''}"}
        specs = specs_of(book)
        for spec in specs:
            run_sql_file(conn, spec.publish_sql, params)
        counts = [conn.execute(sa.select(sa.func.count()).select_from(spec.fact).where(
            spec.fact.c.batch_id == batch_id)).scalar_one() for spec in specs]
        message = f"{book.file_name} from {ident.perangkat_daerah}: published " + ", ".join(
            f"{n} {SHEET_OF[spec.suite]} rows" for spec, n in zip(specs, counts))
        if warnings:
            message += f"; {len(warnings)} warning(s): " + "; ".join(str(w) for w in warnings[:10])
        close_published(conn, batch_id, sum(counts), message)
    return {"status": BatchStatus.PUBLISHED, "batch_id": batch_id, "message": message, "rows_published": sum(counts),
            "warnings": [str(w) for w in warnings]}


def ingest_workbook(engine: sa.Engine, content: bytes, file_name: str, run_id: str | None,
                    book: OpdWorkbook | None = None) -> dict[str, Any]:
    """Check, stage, validate and publish one workbook. The result's `problems` list every reason a
    rejected workbook was refused (empty otherwise)."""
    book = book or read_workbook(content, file_name)
    ident = book.identitas
    base: dict[str, Any] = {"file": file_name, "problems": [], "warnings": []}
    if ident is not None:
        base.update(kode_kab_kota=ident.kode_wilayah, bidang=ident.bidang, periode=ident.periode,
                    entity=entity_of(ident.bidang))
        if not _kab_kota_known(engine, ident.kode_wilayah):
            what = "provinsi" if ident.tingkat == "provinsi" else "kabupaten/kota"
            book.problems.append(Problem("identitas", 2, column_label("identitas", "kode_wilayah"),
                                         f"{ident.kode_wilayah!r} bukan kode {what} yang berlaku"))
            book.structural = True
    if book.structural or ident is None:
        return _reject(engine, book, base, None, run_id)
    batch_id, status = _stage(engine, book, content_checksum(book), run_id)
    base["batch_id"] = batch_id
    if status == BatchStatus.UNCHANGED:
        return {**base, "status": BatchStatus.UNCHANGED,
                "message": f"{ident.label()}: same figures as published; nothing changed"}
    with settled_on_error(engine, batch_id, f"{file_name} ({ident.label()})"):
        errors, warnings = _validate(engine, book, batch_id)
        seen = {p.key for p in book.problems}  # an unreadable cell is reported once, not again by GX
        book.problems.extend(p for p in errors if p.key not in seen)
        base["warnings"] = [str(w) for w in warnings]
        if book.problems:
            return _reject(engine, book, base, batch_id, run_id)
        return {**base, **_publish(engine, book, batch_id, warnings)}


def _reject(engine: sa.Engine, book: OpdWorkbook, base: dict, batch_id: int | None, run_id: str | None) -> dict:
    problems = [str(p) for p in book.problems]
    message = f"{len(problems)} masalah dalam buku kerja; tidak ada isinya yang dimuat"
    ident = book.identitas
    if ident is not None:  # the audit trail keeps refused workbooks whose partition is known
        with engine.begin() as conn:
            if batch_id is None:
                batch_id = start_batch(conn, SOURCE, entity_of(ident.bidang), ident.kode_wilayah, ident.periode,
                                       run_id)
            finish_batch(conn, batch_id, BatchStatus.REJECTED, message=f"{book.file_name}: {message}: "
                         + "; ".join(problems[:10]) + (" …" if len(problems) > 10 else ""))
    return {**base, "status": BatchStatus.REJECTED, "batch_id": batch_id, "message": message, "problems": problems}


# --- the inbox ------------------------------------------------------------------------------------

def write_errors(rejected_dir: Path, file_name: str, result: dict[str, Any]) -> Path:
    rejected_dir.mkdir(parents=True, exist_ok=True)
    path = rejected_dir / f"{file_name}.errors.txt"
    lines = [f"Berkas: {file_name}", f"Ditolak: {now().astimezone(WIB):%Y-%m-%d %H:%M:%S} WIB"]
    provinsi = bool(result.get("kode_kab_kota")) and tingkat_of_kode(result["kode_kab_kota"]) == "provinsi"
    if result.get("periode"):
        area = "provinsi" if provinsi else "kab/kota"
        lines.append(f"Isi: bidang {result['bidang']}, {area} {result['kode_kab_kota']}, {result['periode']}")
    lines += [f"Alasan: {result['message']}", "", "Masalah:"] + [f"  - {p}" for p in result["problems"]]
    if result.get("warnings"):
        lines += ["", "Perlu diperiksa juga (tidak menyebabkan penolakan):"]
        lines += [f"  - {w}" for w in result["warnings"]]
    template = "input_opd_<bidang>_provinsi.xlsx" if provinsi else "input_opd_<bidang>.xlsx"
    lines += ["", f"Tidak ada isi berkas ini yang dimuat. Perbaiki berkasnya (templat kosong: templates/opd/"
                  f"{template}), lalu letakkan lagi di inbox."]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _of_run(kode: str, kode_wilayah: list[str]) -> bool:
    """A kab/kota's workbook belongs to its run; the province's to any run of one of its kab/kota."""
    if tingkat_of_kode(kode) == "provinsi":
        return any(k == kode or k.startswith(f"{kode}.") for k in kode_wilayah)
    return kode in kode_wilayah


def _load_workbook(engine: sa.Engine, file_name: str, content: bytes, run_id: str | None,
                   kode_wilayah: list[str] | None) -> dict[str, Any] | None:
    """Read and load one workbook; None when it belongs to a kab/kota outside `kode_wilayah`."""
    if not file_name.lower().endswith(".xlsx"):
        suffix = Path(file_name).suffix or "berkas tanpa ekstensi"
        book = OpdWorkbook(file_name, problems=[Problem(None, None, None, (
            f"{suffix} tidak diterima: pakai templat dan simpan sebagai Excel Workbook (.xlsx)"))], structural=True)
    else:
        book = read_workbook(content, file_name)
    # A workbook of another kab/kota waits for its own run; one without a readable identitas
    # belongs to nobody in particular and is rejected by whichever run meets it.
    if kode_wilayah and book.identitas is not None and not _of_run(book.identitas.kode_wilayah, kode_wilayah):
        log.info("%s is for %s, not in this run's kode_wilayah; left in the inbox", file_name,
                 book.identitas.kode_wilayah)
        return None
    return ingest_workbook(engine, content, file_name, run_id, book)


def ingest_inbox(engine: sa.Engine, inbox: Path, run_id: str | None,
                 kode_wilayah: list[str] | None = None) -> list[dict[str, Any]]:
    """Take every workbook of the inbox (of `kode_wilayah` only, when given) in drop order; move it to
    processed/ or to rejected/ with its .errors.txt; record it in inbox_file by content hash."""
    return take_inbox(engine, inbox, SOURCE,
                      lambda path, content: _load_workbook(engine, path.name, content, run_id, kode_wilayah),
                      write_errors)
