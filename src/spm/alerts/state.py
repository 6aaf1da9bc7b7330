"""Alert state in the warehouse: grouping, reminders, resolution and the daily digest.

`reconcile` compares what a check detects now with the stored open problems it is responsible
for (its scope): a new problem is sent; an open one is sent again only when its content changed or
the reminder interval (`pengingat_jam`) has passed since it was last delivered; an open problem in
scope that is no longer detected is resolved and announced once. A problem whose delivery failed on
every channel keeps `last_sent` empty and is retried by the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from spm.alerts import channels
from spm.config.peringatan import Konfigurasi
from spm.alerts.messages import Finding, Message, problem_message, digest_message, resolved_message
from spm.warehouse.tables_peringatan import STATUS_OPEN, STATUS_RESOLVED, peringatan, peringatan_kirim
from spm.warehouse.audit import aware

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(timezone.utc)


_aware = aware  # the warehouse's one reading of stored timestamps


@dataclass
class Sender:
    """Sends messages to an owner's channels, logs each attempt, falls back to the data team."""

    engine: sa.Engine
    cfg: Konfigurasi
    at: datetime
    delivered: list[Message] = field(default_factory=list)  # delivered messages of this run
    refused: list[Message] = field(default_factory=list)  # a configured channel refused and none delivered
    unrouted: list[Message] = field(default_factory=list)  # no channel configured anywhere (kept for later)

    def _log(self, owner: str, p: Message, results: list[channels.SendResult]) -> None:
        # Channels not configured in this deployment are not deliveries: logged by Python only.
        results = [h for h in results if not h.skipped]
        if not results:
            return
        with self.engine.begin() as conn:
            conn.execute(sa.insert(peringatan_kirim), [
                {"dikirim_at": self.at, "pemilik": owner, "saluran": h.saluran.jenis,
                 "referensi": h.saluran.referensi, "jenis_pesan": p.jenis_pesan, "fingerprint": p.fingerprint,
                 "judul": p.subject, "berhasil": h.berhasil,
                 "galat": h.galat}
                for h in results])

    def send(self, p: Message, fallback: bool = True) -> bool:
        owner = self.cfg.pemilik[p.pemilik]
        results = channels.send(owner.saluran, p)
        self._log(p.pemilik, p, results)
        ok = any(h.berhasil for h in results)
        any_refused = any(not h.skipped and not h.berhasil for h in results)
        if not ok and fallback and p.pemilik != self.cfg.tim_data:
            # Nobody at the owner could be reached: the data team must know instead of nobody.
            relay = Message(p.jenis_pesan, self.cfg.tim_data, f"{p.judul} (tidak terkirim ke {owner.nama})", p.lines,
                          p.link, p.fingerprint, {**p.data, "diteruskan_dari": p.pemilik})
            results = channels.send(self.cfg.pemilik[self.cfg.tim_data].saluran, relay)
            self._log(self.cfg.tim_data, relay, results)
            ok = any(h.berhasil for h in results)
            any_refused = any_refused or any(not h.skipped and not h.berhasil for h in results)
            p = relay if ok else p
        if ok:
            self.delivered.append(p)
        elif any_refused:
            self.refused.append(p)
        else:
            log.warning("no channel configured for %s: %s (kept open, sent once a channel exists)",
                        p.pemilik, p.judul)
            self.unrouted.append(p)
        return ok


def _owner_name(cfg: Konfigurasi, owner: str) -> str:
    return cfg.pemilik[owner].nama if owner in cfg.pemilik else owner


def _values(m: Finding) -> dict:
    return {"jenis": m.jenis, "pemilik": m.pemilik, "source": m.source, "entity": m.entity,
            "kode_wilayah": m.kode_wilayah, "periode": m.periode, "isi_hash": m.isi_hash,
            "ringkasan": m.ringkasan, "batch_id": m.batch_id,
            "detail": {"baris": list(m.lines), "tautan": m.link, **m.detail}}


def reconcile(engine: sa.Engine, cfg: Konfigurasi, findings: list[Finding], scope, sender: Sender,
                 remind: bool = True) -> dict[str, int]:
    """Bring the state of `scope` (a where-clause on peringatan, or None) in line with `findings`.

    Returns counts per message kind sent (or attempted) and `diam` (seen again, nothing sent).
    """
    at = sender.at
    counts = {"baru": 0, "berubah": 0, "pengingat": 0, "selesai": 0, "diam": 0}
    detected = {m.fingerprint: m for m in findings}
    with engine.connect() as conn:
        existing = {r.fingerprint: r for r in conn.execute(
            sa.select(peringatan).where(peringatan.c.fingerprint.in_(list(detected))))} if detected else {}
        stale = [] if scope is None else [r for r in conn.execute(
            sa.select(peringatan).where(peringatan.c.status == STATUS_OPEN, scope))
            if r.fingerprint not in detected]

    for fp, m in detected.items():
        row = existing.get(fp)
        if row is None or row.status == STATUS_RESOLVED:
            kind = "baru"
        elif row.isi_hash != m.isi_hash:
            kind = "berubah"
        elif row.last_sent is None:
            kind = "baru"  # never delivered: try again
        elif remind and at - _aware(row.last_sent) >= cfg.pengingat:
            kind = "pengingat"
        else:
            kind = None
        sent = False
        if kind:
            first = None if row is None or row.status == STATUS_RESOLVED else _aware(row.first_seen)
            seen = None if first is None else row.jumlah_terlihat + 1
            sent = sender.send(problem_message(kind, m, _owner_name(cfg, m.pemilik), first, seen))
            counts[kind] += 1
        else:
            counts["diam"] += 1
        values = _values(m) | {"status": STATUS_OPEN, "last_seen": at}
        with engine.begin() as conn:
            if row is None:
                conn.execute(sa.insert(peringatan).values(
                    fingerprint=fp, first_seen=at, last_sent=at if sent else None, resolved_at=None,
                    jumlah_terlihat=1, jumlah_kirim=int(sent), **values))
            else:
                reopened = row.status == STATUS_RESOLVED
                update = values | {
                    "jumlah_terlihat": 1 if reopened else row.jumlah_terlihat + 1,
                    "jumlah_kirim": row.jumlah_kirim + int(sent),
                }
                if reopened:
                    update |= {"first_seen": at, "resolved_at": None, "last_sent": at if sent else None}
                elif sent:
                    update["last_sent"] = at
                elif kind == "berubah":
                    update["last_sent"] = None  # the change was not delivered: keep retrying
                conn.execute(sa.update(peringatan).where(peringatan.c.fingerprint == fp).values(**update))

    for row in stale:
        if row.last_sent is not None:  # announce only what was announced as a problem
            link = (row.detail or {}).get("tautan")
            sender.send(resolved_message(row, _owner_name(cfg, row.pemilik), link))
            counts["selesai"] += 1
        with engine.begin() as conn:
            conn.execute(sa.update(peringatan).where(peringatan.c.fingerprint == row.fingerprint)
                         .values(status=STATUS_RESOLVED, resolved_at=at))
    return counts


def problem_from_row(row) -> Finding:
    detail = dict(row.detail or {})
    lines, link = tuple(detail.pop("baris", ()) or ()), detail.pop("tautan", None)
    return Finding(row.fingerprint, row.jenis, row.pemilik, row.ringkasan, lines, row.source, row.entity,
                   row.kode_wilayah, row.periode, row.batch_id, link=link, detail=detail)


def send_reminders(engine: sa.Engine, cfg: Konfigurasi, sender: Sender, exclude: tuple[str, ...] = ("teknis",)
                    ) -> int:
    """Remind owners of open problems not re-detected lately (no new batch), and retry undelivered ones."""
    cutoff = sender.at - cfg.pengingat
    with engine.connect() as conn:
        rows = conn.execute(sa.select(peringatan).where(
            peringatan.c.status == STATUS_OPEN, peringatan.c.jenis.not_in(exclude),
            peringatan.c.last_seen < sender.at,  # those seen in this run were just handled
            sa.or_(peringatan.c.last_sent.is_(None), peringatan.c.last_sent <= cutoff))).all()
    for row in rows:
        kind = "baru" if row.last_sent is None else "pengingat"
        first = None if kind == "baru" else _aware(row.first_seen)
        ok = sender.send(problem_message(kind, problem_from_row(row), _owner_name(cfg, row.pemilik), first,
                                          row.jumlah_terlihat))
        if ok:
            with engine.begin() as conn:
                conn.execute(sa.update(peringatan).where(peringatan.c.fingerprint == row.fingerprint).values(
                    last_sent=sender.at, jumlah_kirim=row.jumlah_kirim + 1))
    return len(rows)


def send_digests(engine: sa.Engine, cfg: Konfigurasi, sender: Sender, link: str | None,
                    force: bool = False) -> list[str]:
    """The daily digest per owner, once per local day from `ringkasan.jam`; returns the owners sent to."""
    zone = ZoneInfo(cfg.ringkasan_zona)
    local = sender.at.astimezone(zone)
    if local.hour < cfg.ringkasan_jam and not force:
        return []
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    with engine.connect() as conn:
        already_sent = set(conn.execute(sa.select(peringatan_kirim.c.pemilik).distinct().where(
            peringatan_kirim.c.jenis_pesan == "ringkasan", peringatan_kirim.c.dikirim_at >= day_start)).scalars())
        open_rows = conn.execute(sa.select(peringatan).where(peringatan.c.status == STATUS_OPEN)).all()
        resolved_owners = conn.execute(sa.select(peringatan.c.pemilik).where(
            peringatan.c.status == STATUS_RESOLVED,
            peringatan.c.resolved_at >= sender.at - timedelta(hours=24))).scalars().all()
    sent_to = []
    for owner in cfg.pemilik:
        if owner in already_sent and not force:
            continue
        everyone = owner == cfg.tim_data  # the data team watches every owner's problems
        rows = [r for r in open_rows if everyone or r.pemilik == owner]
        if not rows and not cfg.ringkasan_jika_kosong:
            continue
        n_resolved = sum(1 for o in resolved_owners if everyone or o == owner)
        p = digest_message(owner, _owner_name(cfg, owner), local.date().isoformat(), rows, n_resolved, link)
        sender.send(p, fallback=False)
        sent_to.append(owner)
    return sent_to
