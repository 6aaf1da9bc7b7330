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


def scan_and_send(engine: sa.Engine, cfg: Konfigurasi | None = None, at: datetime | None = None,
                     force_digest: bool = False) -> dict:
    """Scan the batches since the last scan, send new/changed/resolved alerts, reminders and the digest."""
    cfg = cfg or load_konfigurasi()
    at = at or now()
    base = detection.link_base(cfg)
    sender = Sender(engine, cfg, at)
    with engine.connect() as conn:
        from_batch, since = _last_scan(conn)
    scan = detection.scan_batches(engine, cfg, from_batch, at, base)
    counts = reconcile(engine, cfg, scan.findings, detection.partition_scope(scan.partitions), sender)

    # A refused file is a one-off event: told once, then closed without a resolution notice.
    rejected = detection.rejected_files(engine, cfg, since, base)
    counts_rejected = reconcile(engine, cfg, rejected, None, sender, remind=False)
    if rejected:
        with engine.begin() as conn:
            conn.execute(sa.update(peringatan).where(
                peringatan.c.fingerprint.in_([m.fingerprint for m in rejected]), peringatan.c.last_sent.is_not(None))
                .values(status=STATUS_RESOLVED, resolved_at=at))

    # Resources waiting too long for their patient: a state of the hub, checked at every scan.
    pending, pending_scope = detection.check_references(engine, cfg, at, base)
    counts_pending = reconcile(engine, cfg, pending, pending_scope, sender)

    reminders = send_reminders(engine, cfg, sender)
    with engine.begin() as conn:
        conn.execute(sa.insert(peringatan_pindai).values(jenis="batch", batch_id_sampai=scan.batch_id_sampai,
                                                         dipindai_at=at))
    digests = send_digests(engine, cfg, sender, detection.quality_link(base), force=force_digest)
    summary = {
        "dari_batch": from_batch, "sampai_batch": scan.batch_id_sampai, "partisi": len(scan.partitions),
        "masalah": len(scan.findings), **counts, "berkas_ditolak": counts_rejected["baru"],
        "rujukan_tertunda": counts_pending["baru"],
        "pengingat_tertunda": reminders, "ringkasan": digests,
        "terkirim": len(sender.delivered), "tidak_terkirim": len(sender.refused),
        "tanpa_saluran": len(sender.unrouted),
    }
    log.info("alert scan: %s", summary)
    return summary


def check_freshness_and_send(engine: sa.Engine, kode_wilayah: list[str], as_of: datetime,
                        cfg: Konfigurasi | None = None, at: datetime | None = None) -> dict:
    """The morning freshness check: open, remind or resolve `terlambat` problems per feed × kab/kota."""
    cfg = cfg or load_konfigurasi()
    sender = Sender(engine, cfg, at or now())
    findings, scope = detection.check_freshness(engine, cfg, kode_wilayah, as_of, detection.link_base(cfg))
    counts = reconcile(engine, cfg, findings, scope, sender)
    summary = {"diperiksa": len(cfg.umpan) * len(kode_wilayah), "terlambat": len(findings), **counts,
               "terkirim": len(sender.delivered), "tidak_terkirim": len(sender.refused),
               "tanpa_saluran": len(sender.unrouted)}
    log.info("freshness check at %s: %s", as_of.isoformat(), summary)
    return summary
