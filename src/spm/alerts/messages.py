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

from spm.reference import is_provinsi

_LONG_DIGITS = re.compile(r"\d{10,}")

KIND_TITLES = {
    "kritis": "Ekspektasi kritis gagal",
    "karantina": "Batch ditolak: terlalu banyak baris dikarantina",
    "penyebut_hilang": "Capaian tidak dihitung: data penduduk (penyebut) tidak ada",
    "lonjakan_capaian": "Lonjakan capaian",
    "catatan_mutu": "Data diterbitkan dengan catatan mutu",
    "terlambat": "Data belum masuk",
    "rujukan_tertunda": "Rekam kesehatan menunggu data pasien",
    "berkas_ditolak": "Berkas inbox ditolak",
    "triwulan_terkunci": "Perhitungan ulang ditolak: triwulan sudah disetujui",
    "teknis": "Kegagalan teknis",
}
MESSAGE_TITLES = {
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
    """One problem as detected now. `content` is what the problem currently is: its hash is stored as
    `isi_hash` and a change re-alerts. `jenis`, `pemilik` and `ringkasan` carry the `peringatan` columns
    of the same names."""

    fingerprint: str
    jenis: str
    pemilik: str
    ringkasan: str
    lines: tuple[str, ...] = ()
    source: str | None = None
    entity: str | None = None
    kode_wilayah: str | None = None
    periode: str | None = None
    batch_id: int | None = None
    content: Any = None
    link: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def isi_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Message:
    jenis_pesan: str  # baru | berubah | pengingat | selesai | ringkasan
    pemilik: str
    judul: str  # stored, masked, as peringatan_kirim.judul
    lines: tuple[str, ...]
    link: str | None = None
    fingerprint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # structured form for JSON webhooks (same safe fields)

    @property
    def text(self) -> str:
        parts = [self.judul, "", *self.lines]
        if self.link:
            parts += ["", f"Laporan kualitas data: {self.link}"]
        return mask_digits("\n".join(parts))

    @property
    def html(self) -> str:
        items = "".join(f"<li>{html.escape(b)}</li>" for b in self.lines)
        link = (f'<p>Laporan kualitas data: <a href="{html.escape(self.link)}">{html.escape(self.link)}</a></p>'
                if self.link else "")
        return mask_digits(f"<h3>{html.escape(self.judul)}</h3><ul>{items}</ul>{link}"
                        "<p><small>Pesan otomatis pipeline SPM. Tanpa data pribadi: hanya jumlah, nama ekspektasi, "
                        "kode wilayah, periode dan nomor batch.</small></p>")

    @property
    def subject(self) -> str:
        return mask_digits(self.judul)


def location_of(m: Finding) -> str:
    bits = []
    if m.source:
        bits.append(f"sumber {m.source}" + (f"/{m.entity}" if m.entity else ""))
    if m.kode_wilayah:
        bits.append(f"{'provinsi' if is_provinsi(m.kode_wilayah) else 'kab/kota'} {m.kode_wilayah}")
    if m.periode:
        bits.append(f"periode {m.periode}")
    if m.batch_id is not None:
        bits.append(f"batch {m.batch_id}")
    return ", ".join(bits)


def _format_time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t else "-"


def problem_message(kind: str, m: Finding, owner_name: str, first_seen: datetime | None = None,
                  times_seen: int | None = None) -> Message:
    title = f"[SPM] {MESSAGE_TITLES[kind]} — {KIND_TITLES.get(m.jenis, m.jenis)}: {m.ringkasan}"
    lines = [f"Pemilik data: {owner_name}"]
    if location_of(m):
        lines.append("Lokasi: " + location_of(m))
    lines += list(m.lines)
    if first_seen is not None and kind != "baru":
        lines.append(f"Pertama terlihat: {_format_time(first_seen)}" +
                     (f"; terlihat {times_seen} kali" if times_seen else ""))
    data = {"jenis_pesan": kind, "jenis": m.jenis, "pemilik": m.pemilik, "fingerprint": m.fingerprint,
            "source": m.source, "entity": m.entity, "kode_wilayah": m.kode_wilayah, "periode": m.periode,
            "batch_id": m.batch_id, "ringkasan": m.ringkasan, **m.detail}
    return Message(kind, m.pemilik, title, tuple(lines), m.link, m.fingerprint, data)


def resolved_message(row, owner_name: str, link: str | None, extra_lines: tuple[str, ...] = ()) -> Message:
    """Resolution notice from the stored state row (the problem is no longer detected)."""
    m = Finding(row.fingerprint, row.jenis, row.pemilik, row.ringkasan, (), row.source, row.entity,
                row.kode_wilayah, row.periode, row.batch_id, link=link)
    lines = [f"Pemilik data: {owner_name}"]
    if location_of(m):
        lines.append("Lokasi: " + location_of(m))
    lines += [f"Terbuka sejak {_format_time(row.first_seen)}, terakhir terlihat {_format_time(row.last_seen)}.",
              *extra_lines]
    title = f"[SPM] {MESSAGE_TITLES['selesai']} — {KIND_TITLES.get(row.jenis, row.jenis)}: {row.ringkasan}"
    data = {"jenis_pesan": "selesai", "jenis": row.jenis, "pemilik": row.pemilik, "fingerprint": row.fingerprint,
            "source": row.source, "entity": row.entity, "kode_wilayah": row.kode_wilayah, "periode": row.periode,
            "batch_id": row.batch_id, "ringkasan": row.ringkasan}
    return Message("selesai", row.pemilik, title, tuple(lines), link, row.fingerprint, data)


def digest_message(owner: str, owner_name: str, day: str, rows: list, resolved_24h: int,
                    link: str | None) -> Message:
    """The daily digest: open problems of an owner (for the data team: of everyone), grouped by kind."""
    title = f"[SPM] {MESSAGE_TITLES['ringkasan']} {day} — {owner_name}: {len(rows)} masalah terbuka"
    lines: list[str] = []
    by_kind: dict[str, list] = {}
    for r in rows:
        by_kind.setdefault(r.jenis, []).append(r)
    for kind in sorted(by_kind):
        items = by_kind[kind]
        lines.append(f"{KIND_TITLES.get(kind, kind)}: {len(items)}")
        for r in sorted(items, key=lambda x: (x.first_seen, x.fingerprint)):
            owner_note = f" [{r.pemilik}]" if r.pemilik != owner else ""
            lines.append(f"  - {r.ringkasan}{owner_note} (sejak {_format_time(r.first_seen)})")
    if not rows:
        lines.append("Tidak ada masalah terbuka.")
    lines.append(f"Selesai dalam 24 jam terakhir: {resolved_24h}")
    data = {"jenis_pesan": "ringkasan", "pemilik": owner, "tanggal": day, "terbuka": len(rows),
            "per_jenis": {k: len(v) for k, v in by_kind.items()}, "selesai_24_jam": resolved_24h,
            "masalah": [r.fingerprint for r in rows]}
    return Message("ringkasan", owner, title, tuple(lines), link, None, data)
