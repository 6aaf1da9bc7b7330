"""What is wrong now, read from the audit tables (never from staged rows, quarantined row contents or
free-text batch messages, which may quote personal data).

- `scan_batches`: the latest finished batch of every partition (source × entity × kab/kota × period)
  that has new batches since the last scan: a failed critical expectation (`kritis`), a rejected
  batch (`karantina`, quarantined share above the limit), a capaian batch without population
  (`penyebut_hilang`), capaian jumps flagged by the `lintas_sumber` suite (`lonjakan_capaian`), a
  published batch with a failed plausibility gate or, for the population, any quarantined row
  (`catatan_mutu`).
  Only conclusive outcomes decide about a partition: a batch that failed for a technical reason
  (no failed expectation) or a source answering "not yet" neither raises nor resolves anything here
  (the task failure callback and the freshness check cover those).
- `rejected_files`: inbox files refused before any batch existed (unreadable, wrong layout).
- `check_freshness`: feeds without a successful load within their maximum age at the deadline.
- `check_references`: FHIR resources waiting for their patient longer than
  `kesehatan.batas_umur_rujukan_hari` (`rujukan_tertunda`, per hub and type; resolved when they no
  longer wait that long).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path

import sqlalchemy as sa

from spm.config.peringatan import Konfigurasi
from spm.alerts.messages import Finding
from spm.reference import is_provinsi
from spm.warehouse.tables import dim_layanan, dq_result, etl_batch, inbox_file, quarantine
from spm.warehouse.tables_peringatan import peringatan
from spm.warehouse.audit import aware
from spm.warehouse.status import BatchStatus, SETTLED

SCANNED_KINDS = ("kritis", "karantina", "penyebut_hilang", "lonjakan_capaian", "catatan_mutu", "triwulan_terkunci")
# Whose quarantined rows alert even below the rejection limit: the denominators (DESIGN §9), which a
# quarantined row shrinks for every indicator of the kab/kota.
DENOMINATOR_SOURCE = "dukcapil"
MAX_NAMED_ROWS = 20  # source rows named per expectation in one alert
CAPAIAN_SOURCE, CAPAIAN_ENTITY = "spm", "mart_capaian_spm"
RUNNING_STALE = timedelta(days=1)  # a batch "running" longer than this crashed; it no longer holds the watermark


_aware = aware  # the warehouse's one reading of stored timestamps


def _format_time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else "-"


def quality_link(base: str | None, source: str | None = None, periode: str | None = None) -> str | None:
    """Link to the data-quality page of a source and period (spm.reporting.kualitas writes them)."""
    if not base:
        return None
    base = base.rstrip("/") + "/kualitas"
    if source and periode:
        from spm.reporting.kualitas import page_filename

        return f"{base}/{source}/{page_filename(periode)}.html"
    if source:
        return f"{base}/{source}/index.html"
    return f"{base}/index.html"


def link_base(cfg: Konfigurasi) -> str:
    """Base URL of the published reports: the configured Variable, else file:// of $SPM_HOME/reports."""
    from spm.alerts.airflow_config import get_variable
    from spm.settings import spm_home

    if cfg.tautan_laporan_variable:
        value = get_variable(cfg.tautan_laporan_variable)
        if value:
            return value.strip()
    return (spm_home() / "reports").resolve().as_uri()


@dataclass(frozen=True)
class ScanResult:
    findings: list[Finding]
    partitions: set[tuple[str, str, str, str]]  # partitions whose state was decided (the scope)
    batch_id_sampai: int  # next watermark


def partition_scope(partitions: set[tuple[str, str, str, str]]):
    """Where-clause on `peringatan`: scan-owned problems of these partitions."""
    if not partitions:
        return sa.false()
    c = peringatan.c
    return sa.and_(c.jenis.in_(SCANNED_KINDS), sa.or_(*(
        sa.and_(c.source == s, c.entity == e, c.kode_wilayah == k, c.periode == p) for s, e, k, p in partitions)))


def _critical_failure(conn, cfg: Konfigurasi, b, base: str | None) -> Finding | None:
    rows = conn.execute(sa.select(dq_result).where(
        dq_result.c.batch_id == b.batch_id, dq_result.c.success.is_(False), dq_result.c.severity == "critical")
        .order_by(dq_result.c.expectation)).all()
    if not rows:
        return None
    names = sorted({r.expectation for r in rows})
    lines = ["Ekspektasi kritis yang gagal (batch tidak diterbitkan, data lama tetap berlaku):"]
    for r in rows:
        if r.unexpected_count is not None and r.element_count is not None:
            what = f"{r.unexpected_count} dari {r.element_count} baris tidak sesuai"
        else:
            what = "gagal pada tingkat batch"
        lines.append(f"  - {r.expectation}" + (f" (kolom {r.kolom})" if r.kolom else "") + f": {what}")
    lines.append(f"Baris diterima: {b.rows_received}")
    return Finding(
        f"kritis:{b.source}:{b.entity}:{b.kode_wilayah}:{b.periode}", "kritis", cfg.pemilik_sumber(b.source, b.entity),
        f"{b.source}/{b.entity} {b.kode_wilayah} {b.periode}: {len(names)} ekspektasi kritis gagal ({', '.join(names)})",
        tuple(lines), b.source, b.entity, b.kode_wilayah, b.periode, b.batch_id, content=names,
        link=quality_link(base, b.source, b.periode),
        detail={"ekspektasi": names, "baris_diterima": b.rows_received})


def _quarantine_reasons(conn, batch_id: int) -> Counter:
    reasons: Counter = Counter()
    for names, n in conn.execute(
            sa.select(quarantine.c.failed_expectations, sa.func.count())
            .where(quarantine.c.batch_id == batch_id).group_by(quarantine.c.failed_expectations)):
        for name in names.split(","):
            if name:
                reasons[name] += n
    return reasons


def _rejected_quarantine(conn, cfg: Konfigurasi, b, base: str | None) -> Finding:
    from spm.ingest.wap import quarantine_limit_percent

    reasons = _quarantine_reasons(conn, b.batch_id)
    share = 100.0 * b.rows_quarantined / b.rows_received if b.rows_received else 0.0
    limit = quarantine_limit_percent()
    lines = [f"Baris dikarantina: {b.rows_quarantined} dari {b.rows_received} ({share:.1f} %), "
             f"di atas batas {limit:.1f} %; batch tidak diterbitkan, data lama tetap berlaku.",
             "Alasan (ekspektasi, jumlah baris):"]
    lines += [f"  - {name}: {n}" for name, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))]
    names = sorted(reasons)
    return Finding(
        f"karantina:{b.source}:{b.entity}:{b.kode_wilayah}:{b.periode}", "karantina",
        cfg.pemilik_sumber(b.source, b.entity),
        f"{b.source}/{b.entity} {b.kode_wilayah} {b.periode}: {b.rows_quarantined} dari {b.rows_received} baris "
        f"dikarantina ({share:.1f} %)",
        tuple(lines), b.source, b.entity, b.kode_wilayah, b.periode, b.batch_id, content=names,
        link=quality_link(base, b.source, b.periode),
        detail={"baris_diterima": b.rows_received, "baris_dikarantina": b.rows_quarantined,
                "persen": round(share, 2), "batas_persen": limit, "alasan": dict(reasons)})


def _missing_denominator(cfg: Konfigurasi, b, base: str | None) -> Finding:
    tahun = b.periode.split("-")[0]
    semester = f"{int(tahun) - 1}-2" if tahun.isdigit() else "tahun lalu semester 2"
    return Finding(
        f"penyebut_hilang:{b.kode_wilayah}:{b.periode}", "penyebut_hilang", cfg.penyebut_pemilik,
        f"capaian {b.kode_wilayah} {b.periode} tidak dihitung: tidak ada data penduduk semester {semester} atau "
        "sebelumnya",
        (f"Data penduduk (Dukcapil) semester {semester} untuk kab/kota {b.kode_wilayah} belum ada di gudang data; "
         "tanpa penyebut tidak ada capaian yang diterbitkan.",),
        b.source, b.entity, b.kode_wilayah, b.periode, b.batch_id, content="penyebut_hilang",
        link=quality_link(base, b.source, b.periode), detail={"semester_penduduk": semester})


def _capaian_jumps(conn, cfg: Konfigurasi, b, base: str | None) -> list[Finding]:
    rows = conn.execute(
        sa.select(dq_result.c.kolom, dq_result.c.observed_value, dim_layanan.c.bidang, dim_layanan.c.nama)
        .select_from(dq_result.outerjoin(dim_layanan, dim_layanan.c.kode_layanan == dq_result.c.kolom))
        .where(dq_result.c.batch_id == b.batch_id, dq_result.c.suite == "lintas_sumber",
               dq_result.c.success.is_(False))
        .order_by(dq_result.c.kolom)).all()
    out = []
    for kode_layanan, observed, bidang, nama in rows:
        try:
            obs = json.loads(observed or "{}")
        except ValueError:
            obs = {}
        now_v, before, prev = obs.get("capaian"), obs.get("sebelumnya"), obs.get("periode_sebelumnya", "-")
        bound = obs.get("batas_poin")
        delta = f"{now_v - before:+.1f} poin" if isinstance(now_v, (int, float)) and isinstance(before, (int, float)) \
            else "?"
        out.append(Finding(
            f"lonjakan_capaian:{b.kode_wilayah}:{b.periode}:{kode_layanan}", "lonjakan_capaian",
            cfg.pemilik_bidang(bidang),
            f"{kode_layanan} {b.kode_wilayah} {b.periode}: capaian {now_v} % (periode {prev}: {before} %, {delta})",
            (f"Jenis layanan: {kode_layanan}" + (f" ({nama})" if nama else ""),
             f"Capaian {b.periode}: {now_v} %; {prev}: {before} %; batas perubahan {bound} poin.",
             "Periksa kelengkapan data sumber (pembilang) dan data penduduk (penyebut) periode ini."),
            b.source, b.entity, b.kode_wilayah, b.periode, b.batch_id, content=[now_v, before],
            link=quality_link(base, b.source, b.periode),
            detail={"kode_layanan": kode_layanan, "capaian": now_v, "sebelumnya": before,
                    "periode_sebelumnya": prev, "batas_poin": bound}))
    return out


def _locked_quarter(conn, cfg: Konfigurasi, b, base: str | None) -> list[Finding]:
    """A computation refused because the quarter is approved (spm.warehouse.persetujuan): the OPD of
    every bidang whose figures it would have changed hears it; the approved figures stand until the
    Bagian Tata Pemerintahan re-opens the quarter in the dashboard."""
    from spm.warehouse.persetujuan import EXPECTATION, SUITE

    row = conn.execute(sa.select(dq_result.c.unexpected_count, dq_result.c.details).where(
        dq_result.c.batch_id == b.batch_id, dq_result.c.suite == SUITE, dq_result.c.expectation == EXPECTATION,
        dq_result.c.success.is_(False))).first()
    if row is None:
        return []
    details = row.details or {}
    revisi, changed = details.get("revisi"), row.unexpected_count
    what = "capaian" if b.entity == CAPAIAN_ENTITY else "indeks"
    out = []
    for bidang in details.get("bidang") or [None]:
        out.append(Finding(
            f"triwulan_terkunci:{b.entity}:{b.kode_wilayah}:{b.periode}:{bidang or '-'}", "triwulan_terkunci",
            cfg.pemilik_bidang(bidang),
            f"{what} {b.kode_wilayah} {b.periode}" + (f" bidang {bidang}" if bidang else "")
            + f": perhitungan ulang akan mengubah {changed} angka yang sudah disetujui (revisi {revisi})",
            (f"Triwulan {b.periode} kab/kota {b.kode_wilayah} sudah disetujui (revisi {revisi}); perhitungan ulang "
             f"batch {b.batch_id} mengubah {changed} angka {what} dan tidak disimpan: angka yang disetujui tetap berlaku.",
             "Bila data sumber memang dikoreksi, minta Bagian Tata Pemerintahan membuka kembali triwulan ini di dasbor "
             "(menu Persetujuan, dengan alasan); perhitungan berikutnya lalu menjadi revisi baru berstatus DRAF."),
            b.source, b.entity, b.kode_wilayah, b.periode, b.batch_id, content=[revisi, changed],
            link=None, detail={"revisi": revisi, "angka_berubah": changed, "bidang": bidang}))
    return out


def _quality_note(conn, cfg: Konfigurasi, b, base: str | None) -> Finding | None:
    """A published batch the owner must still hear about: a plausibility gate (a warning expectation
    on the whole batch) that failed, or, for the population and births, any quarantined row, named by
    file, source row and column (from dq_result: expectation names, columns and row numbers only)."""
    rows = conn.execute(sa.select(dq_result).where(
        dq_result.c.batch_id == b.batch_id, dq_result.c.success.is_(False), dq_result.c.severity == "warning")
        .order_by(dq_result.c.expectation)).all()
    gates = [r for r in rows if r.unexpected_count is None]
    quarantined = [r for r in rows if r.unexpected_count] if b.source == DENOMINATOR_SOURCE else []
    if not gates and not quarantined:
        return None
    file_name = conn.execute(sa.select(inbox_file.c.file_name).where(inbox_file.c.batch_id == b.batch_id)).scalar()
    origin = f"berkas {Path(file_name).name}" if file_name else f"API {b.source}"
    lines = [f"Batch {b.batch_id} diterbitkan ({origin}); {b.rows_published} dari {b.rows_received} baris dimuat."]
    for r in gates:
        lines.append(f"  - {r.expectation}: gagal pada tingkat batch (nilai teramati {r.observed_value})")
    if quarantined:
        lines.append(f"Baris dikarantina: {b.rows_quarantined}; sasaran kab/kota ini dihitung tanpa baris tersebut.")
    for r in quarantined:
        ids = list((r.details or {}).get("failed_row_ids") or [])
        named_rows = ", ".join(str(i) for i in ids[:MAX_NAMED_ROWS]) + (" ..." if len(ids) > MAX_NAMED_ROWS else "")
        lines.append(f"  - {r.expectation}" + (f" (kolom {r.kolom})" if r.kolom else "") +
                     f": {r.unexpected_count} baris" + (f", baris sumber {named_rows}" if named_rows else ""))
    names = sorted({r.expectation for r in gates + quarantined})
    return Finding(
        f"catatan_mutu:{b.source}:{b.entity}:{b.kode_wilayah}:{b.periode}", "catatan_mutu",
        cfg.pemilik_sumber(b.source, b.entity),
        f"{b.source}/{b.entity} {b.kode_wilayah} {b.periode}: diterbitkan dengan catatan mutu ({', '.join(names)})",
        tuple(lines), b.source, b.entity, b.kode_wilayah, b.periode, b.batch_id, content=[names, b.rows_quarantined],
        link=quality_link(base, b.source, b.periode),
        detail={"ekspektasi": names, "baris_dikarantina": b.rows_quarantined,
                "berkas": file_name and Path(file_name).name})


def _published_of(conn, b):
    return conn.execute(sa.select(etl_batch).where(
        etl_batch.c.source == b.source, etl_batch.c.entity == b.entity, etl_batch.c.kode_wilayah == b.kode_wilayah,
        etl_batch.c.periode == b.periode, etl_batch.c.status == BatchStatus.PUBLISHED)
        .order_by(etl_batch.c.batch_id.desc()).limit(1)).first()


def watermark(conn, from_batch: int, at: datetime) -> int:
    """The highest batch id below which every batch is finished (crashed 'running' ones excepted)."""
    top = conn.execute(sa.select(sa.func.max(etl_batch.c.batch_id))).scalar_one() or from_batch
    running = conn.execute(sa.select(sa.func.min(etl_batch.c.batch_id)).where(
        etl_batch.c.batch_id > from_batch, etl_batch.c.status == BatchStatus.RUNNING,
        etl_batch.c.started_at > at - RUNNING_STALE)).scalar_one()
    return max(from_batch, min(top, running - 1)) if running is not None else max(from_batch, top)


def scan_batches(engine: sa.Engine, cfg: Konfigurasi, from_batch_id: int, at: datetime,
                 base: str | None) -> ScanResult:
    with engine.connect() as conn:
        batches = conn.execute(sa.select(etl_batch).where(
            etl_batch.c.batch_id > from_batch_id, etl_batch.c.status != BatchStatus.RUNNING)
            .order_by(etl_batch.c.batch_id)).all()
        latest = {}
        for b in batches:  # ordered by id: the last one of a partition wins
            latest[(b.source, b.entity, b.kode_wilayah, b.periode)] = b
        findings: list[Finding] = []
        decided: set[tuple[str, str, str, str]] = set()
        for key, b in latest.items():
            capaian = (b.source, b.entity) == (CAPAIAN_SOURCE, CAPAIAN_ENTITY)
            found: list[Finding] = []
            if b.status in SETTLED:
                if capaian:
                    found = _capaian_jumps(conn, cfg, b, base)
                else:  # an unchanged batch leaves the published one, and what it was noted for, standing
                    shown = b if b.status == BatchStatus.PUBLISHED else _published_of(conn, b)
                    m = _quality_note(conn, cfg, shown, base) if shown is not None else None
                    found = [m] if m is not None else []
            elif b.status == BatchStatus.FAILED:
                m = _critical_failure(conn, cfg, b, base)
                if m is None:
                    continue  # technical failure: the task's failure callback tells the data team
                found = [m]
            elif b.status == BatchStatus.REJECTED:
                locked = _locked_quarter(conn, cfg, b, base) if b.source == CAPAIAN_SOURCE else []
                found = locked or [_rejected_quarantine(conn, cfg, b, base)]
            elif b.status == BatchStatus.MISSING and capaian:
                # A province without figures: its kab/kota's own missing batches say why.
                found = [] if is_provinsi(b.kode_wilayah) else [_missing_denominator(cfg, b, base)]
            else:
                continue  # source has nothing yet: the freshness check decides about that
            decided.add(key)
            findings += found
        mark = watermark(conn, from_batch_id, at)
    return ScanResult(findings, decided, mark)


def rejected_files(engine: sa.Engine, cfg: Konfigurasi, since: datetime | None, base: str | None) -> list[Finding]:
    """Inbox files refused before any batch (unreadable, wrong columns, mixed periods): one alert each."""
    q = sa.select(inbox_file).where(inbox_file.c.batch_id.is_(None),
                                    inbox_file.c.status.not_in((*SETTLED, BatchStatus.DUPLICATE)))
    if since is not None:
        q = q.where(inbox_file.c.processed_at > since)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(inbox_file.c.processed_at)).all()
    out = []
    for f in rows:
        name = Path(f.file_name).name
        out.append(Finding(
            f"berkas_ditolak:{f.source}:{f.content_hash[:24]}", "berkas_ditolak", cfg.pemilik_sumber(f.source, f.entity),
            f"berkas {name} dari inbox {f.source} ditolak seluruhnya",
            (f"Diproses: {_format_time(_aware(f.processed_at))}. Tidak ada isi berkas yang dimuat.",
             f"Rincian per baris dan kolom ada di folder rejected/ inbox {f.source} ({name}.errors.txt)."),
            f.source, f.entity, f.kode_wilayah, f.periode, None, content=f.content_hash,
            link=quality_link(base, f.source), detail={"berkas": name}))
    return out


def check_freshness(engine: sa.Engine, cfg: Konfigurasi, kode_wilayah: list[str], as_of: datetime,
                      base: str | None):
    """Feeds × kab/kota without a successful load within their maximum age at `as_of`.

    Returns (problems, where-clause of the terlambat problems checked)."""
    findings, checked = [], []
    with engine.connect() as conn:
        entities = {}
        for feed in cfg.umpan:
            if feed.sumber not in entities:
                entities[feed.sumber] = conn.execute(sa.select(etl_batch.c.entity).distinct().where(
                    etl_batch.c.source == feed.sumber)).scalars().all()
        for feed in cfg.umpan:
            names = [e for e in entities[feed.sumber] if fnmatchcase(e, feed.entitas)] \
                if any(ch in feed.entitas for ch in "*?[") else [feed.entitas]
            for kode in kode_wilayah:
                checked.append((feed.sumber, feed.entitas, kode))
                last_ok = _aware(conn.execute(sa.select(sa.func.max(etl_batch.c.finished_at)).where(
                    etl_batch.c.source == feed.sumber, etl_batch.c.entity.in_(names) if names else sa.false(),
                    etl_batch.c.kode_wilayah == kode, etl_batch.c.status.in_(SETTLED),
                    etl_batch.c.finished_at <= as_of)).scalar_one())
                cutoff = as_of - timedelta(hours=feed.maks_umur_jam)
                if last_ok is not None and last_ok >= cutoff:
                    continue
                last_any = conn.execute(sa.select(etl_batch.c.status, etl_batch.c.periode, etl_batch.c.started_at)
                                        .where(etl_batch.c.source == feed.sumber,
                                               etl_batch.c.entity.in_(names) if names else sa.false(),
                                               etl_batch.c.kode_wilayah == kode, etl_batch.c.started_at <= as_of)
                                        .order_by(etl_batch.c.batch_id.desc()).limit(1)).first()
                since_text = f"sejak {_format_time(last_ok)}" if last_ok else "belum pernah dimuat"
                lines = [f"Pemuatan berhasil terakhir: {_format_time(last_ok)}; batas umur {feed.maks_umur_jam:g} jam "
                         f"pada {_format_time(as_of)}."]
                if last_any is not None:
                    lines.append(f"Batch terakhir: status {last_any.status}, periode {last_any.periode}, "
                                 f"mulai {_format_time(_aware(last_any.started_at))}.")
                else:
                    lines.append("Belum ada batch sama sekali untuk umpan ini.")
                findings.append(Finding(
                    f"terlambat:{feed.sumber}:{feed.entitas}:{kode}", "terlambat",
                    cfg.pemilik_sumber(feed.sumber, None if feed.entitas == "*" else feed.entitas),
                    f"{feed.sumber}/{feed.entitas} {kode}: tidak ada data baru {since_text}",
                    tuple(lines), feed.sumber, feed.entitas, kode, None, None, content="terlambat",
                    link=quality_link(base, feed.sumber),
                    detail={"terakhir_berhasil": last_ok.isoformat() if last_ok else None,
                            "maks_umur_jam": feed.maks_umur_jam,
                            "status_terakhir": last_any.status if last_any is not None else None}))
    c = peringatan.c
    scope = sa.and_(c.jenis == "terlambat", sa.or_(*(
        sa.and_(c.source == s, c.entity == e, c.kode_wilayah == k) for s, e, k in checked))) if checked else sa.false()
    return findings, scope


FHIR_SOURCE = "satusehat"


def check_references(engine: sa.Engine, cfg: Konfigurasi, at: datetime, base: str | None):
    """Hub × type with resources whose patient has not arrived within the configured age.

    Returns (problems, where-clause of the rujukan_tertunda problems checked: all of them)."""
    from spm.ingest.kesehatan_references import age_limit_days, pending_summary

    limit = age_limit_days()
    findings = []
    with engine.connect() as conn:
        for r in pending_summary(conn):
            age_days = (at - r["sejak"]).total_seconds() / 86_400
            if age_days <= limit:
                continue
            findings.append(Finding(
                f"rujukan_tertunda:{FHIR_SOURCE}:{r['entitas']}:{r['kode_kab_kota']}", "rujukan_tertunda",
                cfg.pemilik_sumber(FHIR_SOURCE, r["entitas"]),
                f"{FHIR_SOURCE}/{r['entitas']} {r['kode_kab_kota']}: {r['jumlah']} rekam menunggu data pasiennya, "
                f"terlama {age_days:.0f} hari",
                (f"{r['jumlah']} resource {r['entitas']} merujuk pasien (Patient) yang belum dikirim hub; "
                 f"yang terlama sejak {_format_time(r['sejak'])}, di atas batas {limit:g} hari.",
                 "Rekam ini sudah disimpan dan akan dihitung begitu pasiennya tiba; periksa pengiriman Patient "
                 "dari hub (`spm status`)."),
                FHIR_SOURCE, r["entitas"], r["kode_kab_kota"], None, None, content="rujukan_tertunda",
                link=quality_link(base, FHIR_SOURCE),
                detail={"tertunda": r["jumlah"], "sejak": r["sejak"].isoformat(), "batas_hari": limit}))
    return findings, peringatan.c.jenis == "rujukan_tertunda"
