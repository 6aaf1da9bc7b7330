"""Verification, approval, lock and revision of a quarter's figures (docs/persetujuan.md).

The figures of a quarter are drafted by the nightly computation. The Kepala OPD (or a delegate, role
`verifikator` of a bidang) verifies the bidang; when every bidang of the quarter is verified at the
figures it shows now, the Bagian Tata Pemerintahan (role `penyetuju`) approves; the published files
then say FINAL with the revision, who and when. An approved quarter is locked: a later computation
that would change any of its figures is rolled back whole, recorded as a rejected batch and alerted
(`QuarterLocked`); only re-opening it, with a reason, starts the next revision as a draft.

`figures` is what is locked: every mart_capaian_spm row of the quarter (sasaran, terlayani per
wilayah, jenis layanan and sex) and every mart_indeks_spm row (capaian_penerima, mutu, nilai), rounded
to 6 decimals so the same inputs give the same fingerprint on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from spm.errors import SpmError
from spm.warehouse.audit import aware, finish_batch, now, start_batch
from spm.warehouse.status import BatchStatus
from spm.warehouse.tables import dim_layanan, dq_result
from spm.warehouse.tables_marts import mart_capaian_spm
from spm.warehouse.tables_opd import mart_indeks_spm
from spm.warehouse.tables_persetujuan import (
    STATUS_DIBUKA, STATUS_DISETUJUI, STATUS_DRAF, persetujuan_triwulan, verifikasi_bidang)

log = logging.getLogger(__name__)

SUITE, EXPECTATION = "persetujuan", "triwulan_disetujui_tidak_berubah"
MIN_ALASAN = 10  # characters: a reason someone reading the revision later can understand


class Ditolak(SpmError):
    """The account may not do this (HTTP 403)."""


class Konflik(SpmError):
    """The quarter is not in a state that allows it (HTTP 409)."""


class QuarterLocked(SpmError):
    """A computation would change an approved quarter; nothing of it was written."""

    def __init__(self, kode: str, tahun: int, triwulan: int, revisi: int, changed: list[tuple], bidang: list[str]):
        self.kode, self.tahun, self.triwulan, self.revisi = kode, tahun, triwulan, revisi
        self.changed, self.bidang = changed, bidang
        super().__init__(
            f"{kode} {tahun} triwulan {triwulan} is approved (revisi {revisi}): recomputation would change "
            f"{len(changed)} figures ({', '.join(bidang) or '-'}); kept the approved figures; re-open the quarter "
            "to revise them")


@dataclass(frozen=True)
class Akun:
    """A signed-in dashboard account (no password here)."""
    username: str
    nama: str
    peran: str
    kode_wilayah: str | None
    bidang: str | None

    def covers(self, kode: str) -> bool:
        return self.kode_wilayah is None or kode == self.kode_wilayah


@dataclass
class Status:
    kode: str
    tahun: int
    triwulan: int
    revisi: int
    status: str  # draf | disetujui
    sidik: str | None = None
    disetujui_oleh: str | None = None
    disetujui_at: datetime | None = None
    verifikasi: dict[str, tuple[str, datetime, str]] = field(default_factory=dict)  # bidang -> (oleh, pada, sidik)
    riwayat: list[dict] = field(default_factory=list)  # closed revisions, oldest first

    @property
    def terkunci(self) -> bool:
        return self.status == STATUS_DISETUJUI


def _r(v) -> str:
    return "" if v is None else f"{float(v):.6f}"


def figures(conn: sa.Connection, kode: str, tahun: int, triwulan: int, bidang: str | None = None) -> dict[tuple, tuple]:
    """The quarter's locked figures (of one bidang when given), keyed by what they are of."""
    c, x, d = mart_capaian_spm.c, mart_indeks_spm.c, dim_layanan.c
    q = sa.select(c.kode_wilayah, c.kode_layanan, c.jenis_kelamin, c.sasaran, c.terlayani, c.kab_kota_dimuat,
                  c.kab_kota_total).where(c.kode_kab_kota == kode, c.tahun == tahun, c.triwulan == triwulan)
    if bidang is not None:
        q = q.where(c.kode_layanan.in_(sa.select(d.kode_layanan).where(d.bidang == bidang)))
    out = {("capaian", r.kode_wilayah, r.kode_layanan, r.jenis_kelamin):
           (_r(r.sasaran), str(r.terlayani), str(r.kab_kota_dimuat), str(r.kab_kota_total)) for r in conn.execute(q)}
    q = sa.select(x.kode_wilayah, x.tingkat_pemerintahan, x.tingkat_indeks, x.bidang, x.kode_layanan,
                  x.capaian_penerima, x.mutu, x.nilai, x.label).where(
        x.kode_kab_kota == kode, x.tahun == tahun, x.triwulan == triwulan)
    if bidang is not None:
        q = q.where(x.bidang == bidang)
    out.update({("indeks", r.kode_wilayah, r.tingkat_pemerintahan, r.tingkat_indeks, r.bidang, r.kode_layanan or ""):
                (_r(r.capaian_penerima), _r(r.mutu), _r(r.nilai), r.label or "") for r in conn.execute(q)})
    return out


def fingerprint(conn: sa.Connection, kode: str, tahun: int, triwulan: int, bidang: str | None = None) -> str:
    """The sidik of the quarter's figures now (of one bidang when given)."""
    return sidik(figures(conn, kode, tahun, triwulan, bidang))


def sidik(figs: dict[tuple, tuple]) -> str:
    h = hashlib.sha256()
    for k in sorted(figs):
        h.update(repr((k, figs[k])).encode())
    return h.hexdigest()


def bidang_of(conn: sa.Connection, kode: str, tahun: int, triwulan: int) -> list[str]:
    """The bidang with figures in the quarter: each needs its OPD's verification."""
    c, d = mart_capaian_spm.c, dim_layanan.c
    rows = conn.execute(sa.select(d.bidang).distinct().select_from(
        mart_capaian_spm.join(dim_layanan, d.kode_layanan == c.kode_layanan)).where(
        c.kode_kab_kota == kode, c.tahun == tahun, c.triwulan == triwulan)).scalars().all()
    return sorted(rows)


def status_of(conn: sa.Connection, kode: str, tahun: int, triwulan: int) -> Status:
    p, v = persetujuan_triwulan.c, verifikasi_bidang.c
    rows = conn.execute(sa.select(persetujuan_triwulan).where(
        p.kode_kab_kota == kode, p.tahun == tahun, p.triwulan == triwulan).order_by(p.revisi)).all()
    if not rows:
        return Status(kode, tahun, triwulan, 1, STATUS_DRAF)
    cur = rows[-1]
    s = Status(kode, tahun, triwulan, cur.revisi, cur.status, cur.sidik, cur.disetujui_oleh, aware(cur.disetujui_at))
    s.riwayat = [{"revisi": r.revisi, "disetujui_oleh": r.disetujui_oleh, "disetujui_at": aware(r.disetujui_at),
                  "dibuka_oleh": r.dibuka_oleh, "dibuka_at": aware(r.dibuka_at), "alasan_buka": r.alasan_buka}
                 for r in rows[:-1]]
    for r in conn.execute(sa.select(verifikasi_bidang).where(
            v.kode_kab_kota == kode, v.tahun == tahun, v.triwulan == triwulan, v.revisi == cur.revisi)):
        s.verifikasi[r.bidang] = (r.oleh, aware(r.pada), r.sidik)
    return s


def lock_quarter(conn: sa.Connection, kode: str, tahun: int, triwulan: int, at: datetime | None = None) -> Status:
    """Serialise the quarter's approval steps and computations: its current revision row is written
    (created as a draft if missing), which holds a row lock on PostgreSQL and the write lock on
    SQLite until the transaction ends; the status is read after that."""
    p = persetujuan_triwulan.c
    key = (p.kode_kab_kota == kode, p.tahun == tahun, p.triwulan == triwulan)
    exists = conn.execute(sa.select(p.revisi).where(*key).limit(1)).first()
    if exists is None:
        conn.execute(sa.insert(persetujuan_triwulan).values(
            kode_kab_kota=kode, tahun=tahun, triwulan=triwulan, revisi=1, status=STATUS_DRAF, dibuat_at=at or now()))
    else:
        conn.execute(sa.update(persetujuan_triwulan).where(*key).values(status=p.status))
    return status_of(conn, kode, tahun, triwulan)


CHANGED_SINCE_SHOWN = "Angka berubah sejak halaman ini dibuka (perhitungan baru): muat ulang, periksa, lalu ulangi."


def verifikasi(engine: sa.Engine, akun: Akun, kode: str, tahun: int, triwulan: int, bidang: str,
               at: datetime | None = None, shown: str | None = None) -> Status:
    """The bidang's OPD confirms its figures as they are now (`shown`: the fingerprint of the figures
    the page showed; a recomputation since makes it a conflict, never a verification of unseen figures)."""
    at = at or now()
    if akun.peran != "verifikator" or akun.bidang != bidang or not akun.covers(kode):
        raise Ditolak(f"Akun {akun.username} tidak berwenang memverifikasi bidang {bidang} untuk {kode}.")
    with engine.begin() as conn:
        if bidang not in bidang_of(conn, kode, tahun, triwulan):
            raise Konflik(f"Bidang {bidang} belum punya angka pada triwulan ini: tidak ada yang diverifikasi.")
        s = lock_quarter(conn, kode, tahun, triwulan, at)
        if s.terkunci:
            raise Konflik(f"Triwulan ini sudah disetujui (revisi {s.revisi}); buka kembali dahulu untuk mengubahnya.")
        now_sidik = fingerprint(conn, kode, tahun, triwulan, bidang)
        if shown is not None and shown != now_sidik:
            raise Konflik(CHANGED_SINCE_SHOWN)
        v = verifikasi_bidang.c
        conn.execute(sa.delete(verifikasi_bidang).where(
            v.kode_kab_kota == kode, v.tahun == tahun, v.triwulan == triwulan, v.revisi == s.revisi, v.bidang == bidang))
        conn.execute(sa.insert(verifikasi_bidang).values(
            kode_kab_kota=kode, tahun=tahun, triwulan=triwulan, revisi=s.revisi, bidang=bidang,
            sidik=now_sidik, oleh=akun.username, pada=at))
        return status_of(conn, kode, tahun, triwulan)


def belum_siap(conn: sa.Connection, s: Status) -> list[str]:
    """Why the quarter cannot be approved yet: bidang unverified, or changed since verification."""
    why = []
    bidang = bidang_of(conn, s.kode, s.tahun, s.triwulan)
    if not bidang:
        why.append("Belum ada angka capaian pada triwulan ini.")
    for b in bidang:
        v = s.verifikasi.get(b)
        if v is None:
            why.append(f"Bidang {b} belum diverifikasi.")
        elif v[2] != fingerprint(conn, s.kode, s.tahun, s.triwulan, b):
            why.append(f"Angka bidang {b} berubah setelah diverifikasi {v[0]}: perlu diverifikasi ulang.")
    return why


def setujui(engine: sa.Engine, akun: Akun, kode: str, tahun: int, triwulan: int, at: datetime | None = None,
            shown: str | None = None) -> Status:
    """The approver approves the quarter as every bidang verified it (`shown`: the fingerprint of the
    figures on the page); from now on it is locked."""
    at = at or now()
    if akun.peran != "penyetuju" or not akun.covers(kode):
        raise Ditolak(f"Akun {akun.username} tidak berwenang menyetujui laporan {kode}.")
    with engine.begin() as conn:
        s = lock_quarter(conn, kode, tahun, triwulan, at)  # no computation commits between this and the end
        if s.terkunci:
            raise Konflik(f"Triwulan ini sudah disetujui (revisi {s.revisi}).")
        why = belum_siap(conn, s)
        if why:
            raise Konflik("Belum dapat disetujui: " + " ".join(why))
        now_sidik = fingerprint(conn, kode, tahun, triwulan)
        if shown is not None and shown != now_sidik:
            raise Konflik(CHANGED_SINCE_SHOWN)
        p = persetujuan_triwulan.c
        conn.execute(sa.update(persetujuan_triwulan).where(
            p.kode_kab_kota == kode, p.tahun == tahun, p.triwulan == triwulan, p.revisi == s.revisi,
            p.status == STATUS_DRAF).values(
            status=STATUS_DISETUJUI, sidik=now_sidik, disetujui_oleh=akun.username, disetujui_at=at))
        return status_of(conn, kode, tahun, triwulan)


def buka_kembali(engine: sa.Engine, akun: Akun, kode: str, tahun: int, triwulan: int, alasan: str,
                 at: datetime | None = None) -> Status:
    """Re-open an approved quarter: the revision closes with who/when/why, the next starts as a draft."""
    at = at or now()
    alasan = (alasan or "").strip()
    if akun.peran != "penyetuju" or not akun.covers(kode):
        raise Ditolak(f"Akun {akun.username} tidak berwenang membuka kembali laporan {kode}.")
    if len(alasan) < MIN_ALASAN:
        raise Konflik(f"Tuliskan alasan membuka kembali (paling sedikit {MIN_ALASAN} karakter).")
    with engine.begin() as conn:
        s = lock_quarter(conn, kode, tahun, triwulan, at)
        if not s.terkunci:
            raise Konflik("Triwulan ini belum disetujui: tidak ada yang perlu dibuka kembali.")
        p = persetujuan_triwulan.c
        conn.execute(sa.update(persetujuan_triwulan).where(
            p.kode_kab_kota == kode, p.tahun == tahun, p.triwulan == triwulan, p.revisi == s.revisi).values(
            status=STATUS_DIBUKA, dibuka_oleh=akun.username, dibuka_at=at, alasan_buka=alasan))
        conn.execute(sa.insert(persetujuan_triwulan).values(
            kode_kab_kota=kode, tahun=tahun, triwulan=triwulan, revisi=s.revisi + 1, status=STATUS_DRAF, dibuat_at=at))
        return status_of(conn, kode, tahun, triwulan)


def locked_figures(conn: sa.Connection, kode: str, tahun: int, triwulan: int) -> dict[tuple, tuple] | None:
    """The figures of an approved quarter as a computation starts (None when it is not approved)."""
    return figures(conn, kode, tahun, triwulan) if status_of(conn, kode, tahun, triwulan).terkunci else None


def guard(conn: sa.Connection, kode: str, tahun: int, triwulan: int, before: dict[tuple, tuple] | None) -> None:
    """Inside a computation's transaction, after it wrote and before it commits: raise QuarterLocked
    (rolling it back) if the quarter is approved and its figures are no longer the approved ones.
    The quarter's approval row is locked first, so an approval cannot commit in between; `before`
    (the figures when the computation started, if it was locked then) only says which changed."""
    p = persetujuan_triwulan.c
    key = (p.kode_kab_kota == kode, p.tahun == tahun, p.triwulan == triwulan)
    if conn.execute(sa.update(persetujuan_triwulan).where(*key).values(status=p.status)).rowcount == 0:
        return  # nobody has verified or approved anything of this quarter
    s = status_of(conn, kode, tahun, triwulan)
    if not s.terkunci:
        return
    after = figures(conn, kode, tahun, triwulan)
    if sidik(after) == s.sidik:
        return
    before = before or {}
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)) if before \
        else sorted(after)
    layanan = {k[2] for k in changed if k[0] == "capaian"}
    bidang = set(conn.execute(sa.select(dim_layanan.c.bidang).where(
        dim_layanan.c.kode_layanan.in_(layanan))).scalars()) if layanan else set()
    bidang |= {k[4] for k in changed if k[0] == "indeks" and k[4] != "semua"}
    raise QuarterLocked(kode, tahun, triwulan, s.revisi, changed, sorted(bidang))


def unless_locked(engine: sa.Engine, source: str, entity: str, periode: str, run_id: str | None, compute,
                  kode_key: str = "kode_kab_kota") -> dict:
    """`compute()` (one computation in one transaction), or, when it raised QuarterLocked and was rolled
    back, the refused computation recorded as a rejected batch: the approved figures stand."""
    try:
        return compute()
    except QuarterLocked as e:
        batch_id = record_locked(engine, source, entity, periode, run_id, e)
        log.warning("%s %s %s: %s", entity, e.kode, periode, e)
        return {kode_key: e.kode, "periode": periode, "batch_id": batch_id, "status": BatchStatus.REJECTED,
                "message": str(e)}


def record_locked(engine: sa.Engine, source: str, entity: str, periode: str, run_id: str | None,
                  e: QuarterLocked) -> int:
    """The refused computation as a rejected batch with its failed check, for the alert scan."""
    with engine.begin() as conn:
        batch_id = start_batch(conn, source, entity, e.kode, periode, run_id)
        conn.execute(sa.insert(dq_result).values(
            batch_id=batch_id, suite=SUITE, expectation=EXPECTATION, kolom=",".join(e.bidang) or None,
            severity="critical", success=False, element_count=None, unexpected_count=len(e.changed),
            observed_value=str(len(e.changed)), details={"revisi": e.revisi, "bidang": e.bidang}, checked_at=now()))
        finish_batch(conn, batch_id, BatchStatus.REJECTED, rows_received=0, rows_published=0, message=str(e))
    return batch_id


def refused_since(conn: sa.Connection, s: Status) -> list[dict]:
    """Computations refused because the quarter is locked, since its current approval (newest first):
    what the approver weighs before re-opening."""
    from spm.warehouse.tables import etl_batch

    if not s.terkunci or s.disetujui_at is None:
        return []
    b, q = etl_batch.c, dq_result.c
    rows = conn.execute(sa.select(b.batch_id, b.entity, b.finished_at, q.unexpected_count, q.details).select_from(
        etl_batch.join(dq_result, q.batch_id == b.batch_id)).where(
        b.kode_wilayah == s.kode, b.periode == f"{s.tahun}-T{s.triwulan}", b.status == BatchStatus.REJECTED,
        q.suite == SUITE, q.expectation == EXPECTATION, b.finished_at >= s.disetujui_at)
        .order_by(b.batch_id.desc())).all()
    return [{"batch_id": r.batch_id, "entity": r.entity, "pada": aware(r.finished_at), "berubah": r.unexpected_count,
             "bidang": (r.details or {}).get("bidang", [])} for r in rows]
