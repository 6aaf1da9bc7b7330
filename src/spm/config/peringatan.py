"""The alert configuration (`config/peringatan.yaml`): owners, their channels, routing and thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from spm.config import load_yaml
from spm.errors import ConfigError

CONFIG_FILE = "peringatan.yaml"
JENIS_SALURAN = ("email", "webhook", "telegram")


@dataclass(frozen=True)
class Saluran:
    jenis: str
    koneksi: str
    kepada_variable: str | None = None  # email recipients
    chat_id_variable: str | None = None  # telegram chat
    format: str = "teks"  # webhook body: teks ({"text"}) or json (adds the structured alert)
    ringkasan: bool = True  # carries the daily digest

    @property
    def referensi(self) -> str:
        """The names (never the values) this channel reads, for the delivery log."""
        return ",".join(x for x in (self.koneksi, self.kepada_variable, self.chat_id_variable) if x)


@dataclass(frozen=True)
class Pemilik:
    id: str
    nama: str
    saluran: tuple[Saluran, ...]


@dataclass(frozen=True)
class Umpan:
    sumber: str
    entitas: str
    maks_umur_jam: float


@dataclass(frozen=True)
class Konfigurasi:
    pemilik: dict[str, Pemilik]
    rute: tuple[dict[str, Any], ...]
    bidang_pemilik: dict[str, str]
    penyebut_pemilik: str
    tim_data: str
    pengingat: timedelta
    tugas_mutu_data: frozenset[str]
    ringkasan_jam: int
    ringkasan_zona: str
    ringkasan_jika_kosong: bool
    kesegaran_jadwal: str
    kesegaran_zona: str
    umpan: tuple[Umpan, ...]
    tautan_laporan_variable: str | None
    versi: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def pemilik_sumber(self, source: str, entity: str | None = None) -> str:
        """The owner of a source's data; unknown sources go to the data team."""
        for rule in self.rute:
            sumber = rule["sumber"] if isinstance(rule["sumber"], list) else [rule["sumber"]]
            if source not in sumber:
                continue
            pattern = rule.get("entitas")
            if pattern and not fnmatchcase(entity or "", pattern):
                continue
            return rule["pemilik"]
        return self.tim_data

    def pemilik_bidang(self, bidang: str | None) -> str:
        return self.bidang_pemilik.get(bidang or "", self.tim_data)


def _saluran(owner: str, raw: dict[str, Any]) -> Saluran:
    jenis = raw.get("jenis")
    if jenis not in JENIS_SALURAN:
        raise ConfigError(f"{CONFIG_FILE}: owner {owner!r} has a channel of kind {jenis!r}; "
                          f"use one of {', '.join(JENIS_SALURAN)}")
    if not raw.get("koneksi"):
        raise ConfigError(f"{CONFIG_FILE}: owner {owner!r}, {jenis} channel needs `koneksi` (a connection id)")
    if jenis == "email" and not raw.get("kepada_variable"):
        raise ConfigError(f"{CONFIG_FILE}: owner {owner!r}, email channel needs `kepada_variable`")
    if jenis == "telegram" and not raw.get("chat_id_variable"):
        raise ConfigError(f"{CONFIG_FILE}: owner {owner!r}, telegram channel needs `chat_id_variable`")
    fmt = raw.get("format", "teks")
    if fmt not in ("teks", "json"):
        raise ConfigError(f"{CONFIG_FILE}: owner {owner!r}, webhook format must be teks or json, not {fmt!r}")
    return Saluran(jenis, raw["koneksi"], raw.get("kepada_variable"), raw.get("chat_id_variable"), fmt,
                   bool(raw.get("ringkasan", True)))


def parse(data: dict[str, Any]) -> Konfigurasi:
    try:
        owners = {
            oid: Pemilik(oid, o.get("nama", oid), tuple(_saluran(oid, s) for s in o.get("saluran") or ()))
            for oid, o in (data["pemilik"] or {}).items()
        }
        tim_data = data["tim_data"]
        cfg = Konfigurasi(
            pemilik=owners,
            rute=tuple(data.get("rute") or ()),
            bidang_pemilik=dict(data.get("bidang_pemilik") or {}),
            penyebut_pemilik=data.get("penyebut_pemilik", tim_data),
            tim_data=tim_data,
            pengingat=timedelta(hours=float(data["pengingat_jam"])),
            tugas_mutu_data=frozenset(data.get("tugas_mutu_data") or ()),
            ringkasan_jam=int(data["ringkasan"]["jam"]),
            ringkasan_zona=data["ringkasan"].get("zona_waktu", "UTC"),
            ringkasan_jika_kosong=bool(data["ringkasan"].get("kirim_jika_kosong", False)),
            kesegaran_jadwal=data["kesegaran"]["jadwal"],
            kesegaran_zona=data["kesegaran"].get("zona_waktu", "UTC"),
            umpan=tuple(Umpan(u["sumber"], u.get("entitas", "*"), float(u["maks_umur_jam"]))
                        for u in data["kesegaran"].get("umpan") or ()),
            tautan_laporan_variable=data.get("tautan_laporan_variable"),
            versi=int(data.get("versi", 1)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{CONFIG_FILE}: missing or malformed setting ({exc})") from None
    referenced = {tim_data, cfg.penyebut_pemilik, *cfg.bidang_pemilik.values(), *(r["pemilik"] for r in cfg.rute)}
    unknown = sorted(referenced - set(owners))
    if unknown:
        raise ConfigError(f"{CONFIG_FILE}: owners {', '.join(unknown)} are routed to but not defined under `pemilik`")
    return cfg


def load_konfigurasi(data: dict[str, Any] | None = None) -> Konfigurasi:
    """The shipped configuration, or `data` (tests, other deployments) parsed the same way."""
    return parse(data if data is not None else load_yaml(CONFIG_FILE))
