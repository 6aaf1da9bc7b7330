"""The indicator catalog (config/katalog_layanan.yaml) and sasaran factors (config/faktor_sasaran.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from spm.config import load_yaml
from spm.errors import ConfigError

CATALOG_FILE = "katalog_layanan.yaml"
FAKTOR_FILE = "faktor_sasaran.yaml"
SASARAN_JENIS = ("penduduk", "penduduk_tidak_sekolah_formal", "kelahiran_tahun_lalu", "prevalensi", "input_opd")
NOMENKLATUR = re.compile(r"\d(\.\d{2}){2}\.\d\.\d{2}(\.\d{4})?(; \d(\.\d{2}){2}\.\d\.\d{2}(\.\d{4})?)*")
SUMBER = ("dapodik", "satusehat", "opd")  # source ids, as etl_batch.source names them
SUMBER_LAMA = {"fhir": "satusehat"}  # the id a catalog copied before docs/naming.md may still use
TINGKAT_PEMERINTAHAN = ("kabupaten_kota", "provinsi")  # whose SPM a layanan is


@dataclass(frozen=True)
class Layanan:
    kode: str
    bidang: str
    nama: str
    pembagian_jenis_kelamin: bool
    terlayani: dict[str, Any]
    sasaran: dict[str, Any]
    tingkat_pemerintahan: str = "kabupaten_kota"
    kode_nomenklatur: str | None = None  # planning code(s) of the kegiatan/sub-kegiatan, "; "-separated

    @property
    def sumber(self) -> str:
        return self.terlayani["sumber"]


def tingkat_of(item: dict[str, Any], data: dict[str, Any]) -> str:
    """A catalog entry's level of government: its own `tingkat_pemerintahan`, else the file's."""
    tingkat = item.get("tingkat_pemerintahan") or data.get("tingkat_pemerintahan") or "kabupaten_kota"
    if tingkat not in TINGKAT_PEMERINTAHAN:
        raise ConfigError(f"{CATALOG_FILE}: {item.get('kode_layanan')}: tingkat_pemerintahan must be one of "
                          f"{', '.join(TINGKAT_PEMERINTAHAN)}, not {tingkat!r}")
    return tingkat


def load_catalog(tingkat: str | None = "kabupaten_kota") -> list[Layanan]:
    """The catalog's layanan of one level of government (None: every level), in report order."""
    data = load_yaml(CATALOG_FILE)
    out = []
    for item in data["layanan"]:
        kode = item["kode_layanan"]
        level = tingkat_of(item, data)
        if tingkat is not None and level != tingkat:
            continue
        terlayani, sasaran = item.get("terlayani"), item.get("sasaran")
        if terlayani and terlayani.get("sumber") in SUMBER_LAMA:
            terlayani = {**terlayani, "sumber": SUMBER_LAMA[terlayani["sumber"]]}
        if not terlayani or terlayani.get("sumber") not in SUMBER:
            raise ConfigError(f"{CATALOG_FILE}: {kode}: terlayani.sumber must be one of {SUMBER}")
        if not sasaran or sasaran.get("jenis") not in SASARAN_JENIS:
            raise ConfigError(f"{CATALOG_FILE}: {kode}: sasaran.jenis must be one of {SASARAN_JENIS}")
        if (terlayani["sumber"] == "opd") != (sasaran["jenis"] == "input_opd"):
            raise ConfigError(f"{CATALOG_FILE}: {kode}: terlayani.sumber opd goes with sasaran.jenis input_opd "
                              "(the OPD enters both), and only with it")
        for rule in (terlayani, sasaran):
            if "umur" in rule and not (isinstance(rule["umur"], list) and len(rule["umur"]) == 2
                                       and 0 <= rule["umur"][0] <= rule["umur"][1] <= 100):
                raise ConfigError(f"{CATALOG_FILE}: {kode}: umur must be [from, to] within 0..100")
        nomenklatur = item.get("kode_nomenklatur")
        if nomenklatur is not None and not NOMENKLATUR.fullmatch(str(nomenklatur)):
            raise ConfigError(f"{CATALOG_FILE}: {kode}: kode_nomenklatur {nomenklatur!r} is not a code like "
                              "1.02.02.2.02.0001 (several separated by '; ')")
        out.append(Layanan(kode, item["bidang"], item["nama"], bool(item["pembagian_jenis_kelamin"]),
                           terlayani, sasaran, level, nomenklatur))
    return out


STATUS_KEYS = ("kunjungan", "observasi", "kondisi_klinis", "kondisi_verifikasi_tidak_dihitung")


def fhir_statuses() -> dict[str, tuple[str, ...]]:
    """katalog_layanan.yaml `status_fhir`: which FHIR statuses count (DESIGN §5), checked."""
    data = load_yaml(CATALOG_FILE).get("status_fhir")
    if not isinstance(data, dict):
        raise ConfigError(f"{CATALOG_FILE}: status_fhir (the FHIR statuses that count) is missing")
    out = {}
    for key in STATUS_KEYS:
        values = data.get(key)
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values) or (
                not values and key != "kondisi_verifikasi_tidak_dihitung"):
            raise ConfigError(f"{CATALOG_FILE}: status_fhir.{key} must be a list of FHIR status codes")
        out[key] = tuple(values)
    unknown = sorted(set(data) - set(STATUS_KEYS))
    if unknown:
        raise ConfigError(f"{CATALOG_FILE}: status_fhir.{unknown[0]} is not a known key ({', '.join(STATUS_KEYS)})")
    return out


@dataclass(frozen=True)
class Faktor:
    L: float
    P: float
    sumber: str

    def for_sex(self, jenis_kelamin: str) -> float:
        return self.L if jenis_kelamin == "L" else self.P


def faktor(name: str, kode_kab_kota: str, tahun: int) -> Faktor:
    """The factor `name` for a kab/kota and year: its own entry, else the default."""
    data = load_yaml(FAKTOR_FILE)
    own = ((data.get("kab_kota") or {}).get(kode_kab_kota) or {})
    entry = (own.get(tahun) or own.get(str(tahun)) or {}).get(name) or (data.get("bawaan") or {}).get(name)
    if not entry:
        raise ConfigError(f"{FAKTOR_FILE}: no factor {name!r} for {kode_kab_kota} {tahun} and no default")
    if not entry.get("sumber"):
        raise ConfigError(f"{FAKTOR_FILE}: factor {name!r} for {kode_kab_kota} {tahun} has no sumber")
    if "nilai" in entry:
        return Faktor(float(entry["nilai"]), float(entry["nilai"]), entry["sumber"])
    try:
        return Faktor(float(entry["L"]), float(entry["P"]), entry["sumber"])
    except KeyError:
        raise ConfigError(f"{FAKTOR_FILE}: factor {name!r} needs nilai, or L and P") from None
