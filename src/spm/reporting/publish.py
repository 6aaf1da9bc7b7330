"""Publish one kab/kota × quarter: the e-SPM workbook, the HTML and PDF report and the CSV extract,
under a predictable path, written atomically.

Path: $SPM_HOME/reports/laporan/<kode_kab_kota>/<tahun>/triwulan-<q>/spm_<kode>_<tahun>_tw<q>.{xlsx,html,pdf,csv}
and spm_<kode>_<tahun>_tw<q>_excel-id.csv (the same CSV in the form Excel set to Indonesian opens: `;`
between fields, a decimal comma, UTF-8 with a byte-order mark), plus manifest.json (sha256 and the batches used). Every file is written to a temporary folder beside
the final one and moved into place with os.replace, the manifest last: a failed run leaves the previous
good report untouched. Content depends only on the warehouse (timestamps are the time the figures were
computed, not the wall clock), so rerunning a quarter reproduces the same files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from spm.reporting.data import LaporanData, load_laporan
from spm.warehouse.status import BatchStatus
from spm.reference import is_provinsi

log = logging.getLogger(__name__)

FORMATS = ("xlsx", "html", "pdf", "csv", "csv_excel")
MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "html": "text/html",
         "pdf": "application/pdf", "csv": "text/csv", "csv_excel": "text/csv"}
SUFFIX = {"csv_excel": "_excel-id.csv"}  # the others: ".<jenis>"
CSV_COLUMNS = ("tahun", "triwulan", "kode_wilayah", "nama_wilayah", "tingkat_wilayah", "jenis_kelamin",
             "kode_layanan", "sasaran", "terlayani", "belum_terlayani", "capaian", "capaian_dibatasi",
             "kab_kota_dimuat", "kab_kota_total")  # the last two: provinsi rows only


@dataclass(frozen=True)
class Publication:
    kode_kab_kota: str
    tahun: int
    triwulan: int
    folder: Path

    def path(self, jenis: str) -> Path:
        suffix = SUFFIX.get(jenis, f".{jenis}")
        return self.folder / f"spm_{self.kode_kab_kota.replace('.', '')}_{self.tahun}_tw{self.triwulan}{suffix}"

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.json"

    def is_complete(self) -> bool:
        return self.manifest.exists() and all(self.path(j).exists() for j in FORMATS)


def laporan_root() -> Path:
    from spm.settings import spm_home

    return spm_home() / "reports" / "laporan"


def publication_of(kode_kab_kota: str, tahun: int, triwulan: int, root: Path | None = None) -> Publication:
    if not (1 <= int(triwulan) <= 4):
        raise ValueError(f"triwulan must be 1-4, got {triwulan}")
    folder = (root or laporan_root()) / kode_kab_kota / str(int(tahun)) / f"triwulan-{int(triwulan)}"
    return Publication(kode_kab_kota, int(tahun), int(triwulan), folder)


def _normalise_zip(path: Path, when) -> None:
    """Rewrite an xlsx with fixed entry times and a fixed `modified` property (openpyxl stamps the
    wall clock on save), so the same figures give the same bytes."""
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    modified = f"{when:%Y-%m-%dT%H:%M:%S}Z".encode()
    with zipfile.ZipFile(path) as src:
        entries = [(i.filename, src.read(i.filename)) for i in src.infolist()]
    entries = [(name, re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                             lambda m: m.group(1) + modified + m.group(2), content)
                if name == "docProps/core.xml" else content) for name, content in entries]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, content in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, content)


def write_csv(data: LaporanData, path: Path, excel_id: bool = False) -> None:
    """Every mart_capaian_spm row of the report, unrounded. `excel_id`: the form Excel set to
    Indonesian opens as columns and numbers (`;` between fields, a decimal comma, a BOM so it reads
    UTF-8); otherwise the plain `,` / `.` CSV that tools read."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", delimiter=";" if excel_id else ",")
    number = (lambda v: repr(v).replace(".", ",")) if excel_id else repr
    w.writerow(CSV_COLUMNS)
    order = {lay.kode: lay.urutan for lay in data.layanan}
    for c in sorted(data.capaian.values(), key=lambda c: (c.kode_wilayah, order.get(c.kode_layanan, 99),
                                                          c.jenis_kelamin)):
        w.writerow([data.tahun, data.triwulan, c.kode_wilayah, data.nama_wilayah(c.kode_wilayah), c.tingkat_wilayah,
                    c.jenis_kelamin, c.kode_layanan, number(c.sasaran), c.terlayani, number(c.belum_terlayani),
                    "" if c.capaian is None else number(c.capaian),
                    "" if c.capaian_dibatasi is None else number(c.capaian_dibatasi),
                    *(data.cakupan.get(c.kode_layanan, ("", "")) if c.tingkat_wilayah == "provinsi" else ("", ""))])
    path.write_text(buf.getvalue(), encoding="utf-8-sig" if excel_id else "utf-8")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_laporan(engine: sa.Engine, kode_kab_kota: str, tahun: int, triwulan: int, root: Path | None = None) -> dict:
    """Build every output of the quarter and move them into place; returns the paths and checksums."""
    from spm.reporting.laporan import render_html, write_pdf
    from spm.reporting.workbook import write_espm_workbook

    t = publication_of(kode_kab_kota, tahun, triwulan, root)
    frozen = final_files(engine, t)
    if frozen is not None:  # an approved revision's FINAL files are written once, never redrawn
        log.info("%s %s triwulan %s: FINAL files of revisi %s kept as approved", kode_kab_kota, tahun, triwulan,
                 frozen["persetujuan"]["revisi"])
        return {"kode_kab_kota": kode_kab_kota, "tahun": t.tahun, "triwulan": t.triwulan, "folder": str(t.folder),
                **{j: str(t.path(j)) for j in FORMATS}, "batch_ids": frozen.get("batch_ids", []), "final": True}
    if is_provinsi(kode_kab_kota):  # a province: its rows, its kab/kota side by side
        from spm.reporting.data_provinsi import load_laporan_provinsi

        data = load_laporan_provinsi(engine, kode_kab_kota, t.tahun, t.triwulan)
    else:
        data = load_laporan(engine, kode_kab_kota, t.tahun, t.triwulan)
    t.folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".baru-", dir=t.folder))
    try:
        staged = {j: tmp / t.path(j).name for j in FORMATS}
        write_espm_workbook(data, staged["xlsx"])
        _normalise_zip(staged["xlsx"], data.computed_at)
        html = render_html(data)
        staged["html"].write_text(html, encoding="utf-8")
        write_pdf(html, staged["pdf"])
        write_csv(data, staged["csv"])
        write_csv(data, staged["csv_excel"], excel_id=True)
        manifest = {
            "kode_kab_kota": kode_kab_kota, "tahun": t.tahun, "triwulan": t.triwulan,
            "dihitung": data.computed_at.isoformat(), "semester_penduduk": data.semester_penduduk,
            "batch_ids": data.batch_ids, "persetujuan": approval_state(data.persetujuan),
            "berkas": {j: {"nama": staged[j].name, "sha256": _sha256(staged[j]), "bytes": staged[j].stat().st_size}
                       for j in FORMATS},
        }
        staged_manifest = tmp / t.manifest.name
        staged_manifest.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for p in [*staged.values(), staged_manifest]:
            _fsync(p)
        for j in FORMATS:
            os.replace(staged[j], t.path(j))
        os.replace(staged_manifest, t.manifest)  # last: a manifest names only complete files
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"kode_kab_kota": kode_kab_kota, "tahun": t.tahun, "triwulan": t.triwulan, "folder": str(t.folder),
            **{j: str(t.path(j)) for j in FORMATS}, "batch_ids": data.batch_ids}


def approval_state(s) -> dict:
    """What the files say about approval (the manifest's `persetujuan`): draf or final, the revision and
    the bidang verified, of a spm.warehouse.persetujuan.Status (None: a draft nobody touched)."""
    if s is None:
        return {"status": "draf", "revisi": 1, "verifikasi": []}
    return {"status": "final" if s.terkunci else "draf", "revisi": s.revisi, "verifikasi": sorted(s.verifikasi)}


def final_files(engine: sa.Engine, t: Publication) -> dict | None:
    """The manifest of the quarter's FINAL files when they are those of its current approved revision.
    Such files stay as approved: the year's monthly series (mart_terlayani_bulanan) follows later
    computations of other quarters, and redrawing would put months that no longer add up to the
    approved total under an approval nobody gave."""
    from spm.warehouse.persetujuan import status_of

    manifest = read_manifest(t) if t.is_complete() else None
    if not manifest or manifest.get("persetujuan", {}).get("status") != "final":
        return None
    with engine.connect() as conn:
        s = status_of(conn, t.kode_kab_kota, t.tahun, t.triwulan)
    return manifest if s.terkunci and manifest["persetujuan"] == approval_state(s) else None


def approval_changed(engine: sa.Engine, t: Publication, manifest: dict | None = None) -> bool:
    """Whether the quarter was verified, approved or re-opened since its files were written."""
    from spm.warehouse.persetujuan import status_of

    manifest = read_manifest(t) if manifest is None else manifest
    with engine.connect() as conn:
        now_state = approval_state(status_of(conn, t.kode_kab_kota, t.tahun, t.triwulan))
    return (manifest or {}).get("persetujuan", approval_state(None)) != now_state


def read_manifest(t: Publication) -> dict | None:
    try:
        return json.loads(t.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stale_quarters(engine: sa.Engine, root: Path | None = None) -> list[dict]:
    """(kab/kota, year, quarter) whose latest published mart_indeks_spm batch finished after its report's
    manifest was written, whose approval changed since (verified, approved, re-opened in the dashboard),
    or that has no complete report."""
    from datetime import datetime, timezone

    from spm.warehouse.audit import aware
    from spm.warehouse.tables import etl_batch

    b = etl_batch.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(b.kode_wilayah, b.periode, sa.func.max(b.finished_at)).where(
            b.entity == "mart_indeks_spm", b.status == BatchStatus.PUBLISHED).group_by(b.kode_wilayah, b.periode)).all()
    out = []
    for kode, periode, finished in rows:
        if "-T" not in str(periode) or finished is None:
            continue
        tahun, triwulan = (int(x) for x in str(periode).split("-T"))
        t = publication_of(kode, tahun, triwulan, root)
        written = datetime.fromtimestamp(t.manifest.stat().st_mtime, timezone.utc) if t.is_complete() else None
        if written is None or written < aware(finished) or approval_changed(engine, t):
            out.append({"kode_kab_kota": kode, "tahun": tahun, "triwulan": triwulan})
    return sorted(out, key=lambda q: (q["kode_kab_kota"], q["tahun"], q["triwulan"]))
