"""Problems and the messages sent about them.

Privacy (DESIGN §4): a message is built only from counts, expectation names, batch ids, kab/kota
codes, periods, task ids and a link. Nothing reads quarantine.row_data, natural keys, staging rows or
free-text batch messages (a source's error text can quote a row). As a last guard every text passes
`mask_digits`, which masks any run of 10 or more digits (a NIK has 16, a NISN 10; codes are dotted).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_LONG_DIGITS = re.compile(r"\d{10,}")

JUDUL_JENIS = {
    "kritis": "Ekspektasi kritis gagal",
    "karantina": "Batch ditolak: terlalu banyak baris dikarantina",
    "penyebut_hilang": "Capaian tidak dihitung: data penduduk (penyebut) tidak ada",
    "lonjakan_capaian": "Lonjakan capaian",
    "catatan_mutu": "Data diterbitkan dengan catatan mutu",
    "terlambat": "Data belum masuk",
    "rujukan_tertunda": "Rekam kesehatan menunggu data pasien",
    "berkas_ditolak": "Berkas inbox ditolak",
    "teknis": "Kegagalan teknis",
}
JUDUL_PESAN = {
    "baru": "MASALAH BARU",
    "berubah": "MASALAH BERUBAH",
    "pengingat": "PENGINGAT",
    "selesai": "SELESAI",
    "ringkasan": "RINGKASAN HARIAN",
}


def mask_digits(text: str) -> str:
    return _LONG_DIGITS.sub("[angka disamarkan]", text)


@dataclass(frozen=True)
class Finding:
    """One problem as detected now. `isi` is what identifies its current content (a change re-alerts)."""

    fingerprint: str
    jenis: str
    pemilik: str
    ringkasan: str
    baris: tuple[str, ...] = ()
    source: str | None = None
    entity: str | None = None
    kode_wilayah: str | None = None
    periode: str | None = None
    batch_id: int | None = None
    isi: Any = None
    tautan: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def isi_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.isi, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Message:
    jenis_pesan: str  # baru | berubah | pengingat | selesai | ringkasan
    pemilik: str
    judul: str
    baris: tuple[str, ...]
    tautan: str | None = None
    fingerprint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # structured form for JSON webhooks (same safe fields)

    @property
    def teks(self) -> str:
        parts = [self.judul, "", *self.baris]
        if self.tautan:
            parts += ["", f"Laporan kualitas data: {self.tautan}"]
        return mask_digits("\n".join(parts))

    @property
    def html(self) -> str:
        items = "".join(f"<li>{html.escape(b)}</li>" for b in self.baris)
        link = (f'<p>Laporan kualitas data: <a href="{html.escape(self.tautan)}">{html.escape(self.tautan)}</a></p>'
                if self.tautan else "")
        return mask_digits(f"<h3>{html.escape(self.judul)}</h3><ul>{items}</ul>{link}"
                        "<p><small>Pesan otomatis pipeline SPM. Tanpa data pribadi: hanya jumlah, nama ekspektasi, "
                        "kode wilayah, periode dan nomor batch.</small></p>")

    @property
    def subjek(self) -> str:
        return mask_digits(self.judul)


def lokasi(m: Finding) -> str:
    bits = []
    if m.source:
        bits.append(f"sumber {m.source}" + (f"/{m.entity}" if m.entity else ""))
    if m.kode_wilayah:
        bits.append(f"kab/kota {m.kode_wilayah}")
    if m.periode:
        bits.append(f"periode {m.periode}")
    if m.batch_id is not None:
        bits.append(f"batch {m.batch_id}")
    return ", ".join(bits)


def _waktu(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else "-"


def problem_message(jenis_pesan: str, m: Finding, nama_pemilik: str, first_seen: datetime | None = None,
                  jumlah_terlihat: int | None = None) -> Message:
    judul = f"[SPM] {JUDUL_PESAN[jenis_pesan]} — {JUDUL_JENIS.get(m.jenis, m.jenis)}: {m.ringkasan}"
    baris = [f"Pemilik data: {nama_pemilik}"]
    if lokasi(m):
        baris.append("Lokasi: " + lokasi(m))
    baris += list(m.baris)
    if first_seen is not None and jenis_pesan != "baru":
        baris.append(f"Pertama terlihat: {_waktu(first_seen)}" +
                     (f"; terlihat {jumlah_terlihat} kali" if jumlah_terlihat else ""))
    data = {"jenis_pesan": jenis_pesan, "jenis": m.jenis, "pemilik": m.pemilik, "fingerprint": m.fingerprint,
            "source": m.source, "entity": m.entity, "kode_wilayah": m.kode_wilayah, "periode": m.periode,
            "batch_id": m.batch_id, "ringkasan": m.ringkasan, **m.detail}
    return Message(jenis_pesan, m.pemilik, judul, tuple(baris), m.tautan, m.fingerprint, data)


def resolved_message(row, nama_pemilik: str, tautan: str | None, baris_tambahan: tuple[str, ...] = ()) -> Message:
    """Resolution notice from the stored state row (the problem is no longer detected)."""
    m = Finding(row.fingerprint, row.jenis, row.pemilik, row.ringkasan, (), row.source, row.entity,
                row.kode_wilayah, row.periode, row.batch_id, tautan=tautan)
    baris = [f"Pemilik data: {nama_pemilik}"]
    if lokasi(m):
        baris.append("Lokasi: " + lokasi(m))
    baris += [f"Terbuka sejak {_waktu(row.first_seen)}, terakhir terlihat {_waktu(row.last_seen)}.", *baris_tambahan]
    judul = f"[SPM] {JUDUL_PESAN['selesai']} — {JUDUL_JENIS.get(row.jenis, row.jenis)}: {row.ringkasan}"
    data = {"jenis_pesan": "selesai", "jenis": row.jenis, "pemilik": row.pemilik, "fingerprint": row.fingerprint,
            "source": row.source, "entity": row.entity, "kode_wilayah": row.kode_wilayah, "periode": row.periode,
            "batch_id": row.batch_id, "ringkasan": row.ringkasan}
    return Message("selesai", row.pemilik, judul, tuple(baris), tautan, row.fingerprint, data)


def digest_message(pemilik: str, nama_pemilik: str, tanggal: str, rows: list, selesai_24_jam: int,
                    tautan: str | None) -> Message:
    """The daily digest: open problems of an owner (for the data team: of everyone), grouped by kind."""
    judul = f"[SPM] {JUDUL_PESAN['ringkasan']} {tanggal} — {nama_pemilik}: {len(rows)} masalah terbuka"
    baris: list[str] = []
    by_kind: dict[str, list] = {}
    for r in rows:
        by_kind.setdefault(r.jenis, []).append(r)
    for jenis in sorted(by_kind):
        items = by_kind[jenis]
        baris.append(f"{JUDUL_JENIS.get(jenis, jenis)}: {len(items)}")
        for r in sorted(items, key=lambda x: (x.first_seen, x.fingerprint)):
            owner_note = f" [{r.pemilik}]" if r.pemilik != pemilik else ""
            baris.append(f"  - {r.ringkasan}{owner_note} (sejak {_waktu(r.first_seen)})")
    if not rows:
        baris.append("Tidak ada masalah terbuka.")
    baris.append(f"Selesai dalam 24 jam terakhir: {selesai_24_jam}")
    data = {"jenis_pesan": "ringkasan", "pemilik": pemilik, "tanggal": tanggal, "terbuka": len(rows),
            "per_jenis": {k: len(v) for k, v in by_kind.items()}, "selesai_24_jam": selesai_24_jam,
            "masalah": [r.fingerprint for r in rows]}
    return Message("ringkasan", pemilik, judul, tuple(baris), tautan, None, data)
