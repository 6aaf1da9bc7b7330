"""The two checks the alert DAGs run, end to end: detect, reconcile with the stored state, deliver."""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from spm.alerts import detection
from spm.alerts.state import Sender, send_reminders, send_digests, now, reconcile
from spm.config.peringatan import Konfigurasi, load_konfigurasi
from spm.warehouse.tables_peringatan import STATUS_RESOLVED, peringatan, peringatan_pindai

log = logging.getLogger(__name__)


def _last_scan(conn) -> tuple[int, datetime | None]:
    row = conn.execute(sa.select(peringatan_pindai).where(peringatan_pindai.c.jenis == "batch")
                       .order_by(peringatan_pindai.c.pindai_id.desc()).limit(1)).first()
    return (row.batch_id_sampai, detection._aware(row.dipindai_at)) if row else (0, None)


def scan_and_send(engine: sa.Engine, cfg: Konfigurasi | None = None, waktu: datetime | None = None,
                     paksa_ringkasan: bool = False) -> dict:
    """Scan the batches since the last scan, send new/changed/resolved alerts, reminders and the digest."""
    cfg = cfg or load_konfigurasi()
    waktu = waktu or now()
    base = detection.link_base(cfg)
    pengirim = Sender(engine, cfg, waktu)
    with engine.connect() as conn:
        dari, sejak = _last_scan(conn)
    hasil = detection.scan_batches(engine, cfg, dari, waktu, base)
    counts = reconcile(engine, cfg, hasil.masalah, detection.partition_scope(hasil.partisi), pengirim)

    # A refused file is a one-off event: told once, then closed without a resolution notice.
    berkas = detection.rejected_files(engine, cfg, sejak, base)
    counts_berkas = reconcile(engine, cfg, berkas, None, pengirim, pengingat=False)
    if berkas:
        with engine.begin() as conn:
            conn.execute(sa.update(peringatan).where(
                peringatan.c.fingerprint.in_([m.fingerprint for m in berkas]), peringatan.c.last_sent.is_not(None))
                .values(status=STATUS_RESOLVED, resolved_at=waktu))

    # Resources waiting too long for their patient: a state of the hub, checked at every scan.
    rujukan, cakupan_rujukan = detection.check_references(engine, cfg, waktu, base)
    counts_rujukan = reconcile(engine, cfg, rujukan, cakupan_rujukan, pengirim)

    pengingat = send_reminders(engine, cfg, pengirim)
    with engine.begin() as conn:
        conn.execute(sa.insert(peringatan_pindai).values(jenis="batch", batch_id_sampai=hasil.batch_id_sampai,
                                                         dipindai_at=waktu))
    ringkasan = send_digests(engine, cfg, pengirim, detection.quality_link(base), paksa=paksa_ringkasan)
    summary = {
        "dari_batch": dari, "sampai_batch": hasil.batch_id_sampai, "partisi": len(hasil.partisi),
        "masalah": len(hasil.masalah), **counts, "berkas_ditolak": counts_berkas["baru"],
        "rujukan_tertunda": counts_rujukan["baru"],
        "pengingat_tertunda": pengingat, "ringkasan": ringkasan,
        "terkirim": len(pengirim.terkirim), "tidak_terkirim": len(pengirim.gagal),
        "tanpa_saluran": len(pengirim.tanpa_saluran),
    }
    log.info("alert scan: %s", summary)
    return summary


def check_freshness_and_send(engine: sa.Engine, kode_wilayah: list[str], as_of: datetime,
                        cfg: Konfigurasi | None = None, waktu: datetime | None = None) -> dict:
    """The morning freshness check: open, remind or resolve `terlambat` problems per feed × kab/kota."""
    cfg = cfg or load_konfigurasi()
    pengirim = Sender(engine, cfg, waktu or now())
    masalah, cakupan = detection.check_freshness(engine, cfg, kode_wilayah, as_of, detection.link_base(cfg))
    counts = reconcile(engine, cfg, masalah, cakupan, pengirim)
    summary = {"diperiksa": len(cfg.umpan) * len(kode_wilayah), "terlambat": len(masalah), **counts,
               "terkirim": len(pengirim.terkirim), "tidak_terkirim": len(pengirim.gagal),
               "tanpa_saluran": len(pengirim.tanpa_saluran)}
    log.info("freshness check at %s: %s", as_of.isoformat(), summary)
    return summary
