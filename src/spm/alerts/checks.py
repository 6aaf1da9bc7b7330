"""The two checks the alert DAGs run, end to end: detect, reconcile with the stored state, deliver."""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from spm.alerts import deteksi
from spm.alerts.keadaan import Pengirim, kirim_pengingat, kirim_ringkasan, now, rekonsiliasi
from spm.alerts.konfigurasi import Konfigurasi, load_konfigurasi
from spm.warehouse.tables_peringatan import STATUS_RESOLVED, peringatan, peringatan_pindai

log = logging.getLogger(__name__)


def _pindai_terakhir(conn) -> tuple[int, datetime | None]:
    row = conn.execute(sa.select(peringatan_pindai).where(peringatan_pindai.c.jenis == "batch")
                       .order_by(peringatan_pindai.c.pindai_id.desc()).limit(1)).first()
    return (row.batch_id_sampai, deteksi._aware(row.dipindai_at)) if row else (0, None)


def pindai_dan_kirim(engine: sa.Engine, cfg: Konfigurasi | None = None, waktu: datetime | None = None,
                     paksa_ringkasan: bool = False) -> dict:
    """Scan the batches since the last scan, send new/changed/resolved alerts, reminders and the digest."""
    cfg = cfg or load_konfigurasi()
    waktu = waktu or now()
    base = deteksi.base_tautan(cfg)
    pengirim = Pengirim(engine, cfg, waktu)
    with engine.connect() as conn:
        dari, sejak = _pindai_terakhir(conn)
    hasil = deteksi.pindai_batch(engine, cfg, dari, waktu, base)
    counts = rekonsiliasi(engine, cfg, hasil.masalah, deteksi.cakupan_partisi(hasil.partisi), pengirim)

    # A refused file is a one-off event: told once, then closed without a resolution notice.
    berkas = deteksi.berkas_ditolak(engine, cfg, sejak, base)
    counts_berkas = rekonsiliasi(engine, cfg, berkas, None, pengirim, pengingat=False)
    if berkas:
        with engine.begin() as conn:
            conn.execute(sa.update(peringatan).where(
                peringatan.c.fingerprint.in_([m.fingerprint for m in berkas]), peringatan.c.last_sent.is_not(None))
                .values(status=STATUS_RESOLVED, resolved_at=waktu))

    # Resources waiting too long for their patient: a state of the hub, checked at every scan.
    rujukan, cakupan_rujukan = deteksi.periksa_rujukan(engine, cfg, waktu, base)
    counts_rujukan = rekonsiliasi(engine, cfg, rujukan, cakupan_rujukan, pengirim)

    pengingat = kirim_pengingat(engine, cfg, pengirim)
    with engine.begin() as conn:
        conn.execute(sa.insert(peringatan_pindai).values(jenis="batch", batch_id_sampai=hasil.batch_id_sampai,
                                                         dipindai_at=waktu))
    ringkasan = kirim_ringkasan(engine, cfg, pengirim, deteksi.tautan_kualitas(base), paksa=paksa_ringkasan)
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


def kesegaran_dan_kirim(engine: sa.Engine, kode_wilayah: list[str], as_of: datetime,
                        cfg: Konfigurasi | None = None, waktu: datetime | None = None) -> dict:
    """The morning freshness check: open, remind or resolve `terlambat` problems per feed × kab/kota."""
    cfg = cfg or load_konfigurasi()
    pengirim = Pengirim(engine, cfg, waktu or now())
    masalah, cakupan = deteksi.periksa_kesegaran(engine, cfg, kode_wilayah, as_of, deteksi.base_tautan(cfg))
    counts = rekonsiliasi(engine, cfg, masalah, cakupan, pengirim)
    summary = {"diperiksa": len(cfg.umpan) * len(kode_wilayah), "terlambat": len(masalah), **counts,
               "terkirim": len(pengirim.terkirim), "tidak_terkirim": len(pengirim.gagal),
               "tanpa_saluran": len(pengirim.tanpa_saluran)}
    log.info("freshness check at %s: %s", as_of.isoformat(), summary)
    return summary
