"""What a health window is: the four FHIR entities (staging and published tables, suites, merge
SQL), the kab/kota × `_lastUpdated` window and its defaults, the hub connection of each kab/kota,
and the chunk sizes of the stream (spm.ingest.kesehatan runs the window)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta, timezone
from typing import Any


from spm.config import load_yaml
from spm.errors import ConfigError
from spm.ingest.wap import EntitySpec
from spm.sources.fhir_resources import WIB
from spm.sources.satusehat import CONN_ID, RESOURCE_TYPES, conn_id_for
from spm.warehouse.tables import (
    fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien, staging_kondisi, staging_kunjungan,
    staging_observasi, staging_pasien,
)

SOURCE = "satusehat"

FLUSH_ROWS = 20_000  # staged rows per transaction (a batch left to validate after the download)
PARSED_PAGES = 4  # downloaded and parsed pages (~5 MB of dicts each) waiting to be flattened
PREFETCH_PAGES = 64  # flattened pages (~0.5 MB each) waiting while the loader validates and stages a chunk
# Rows validated (then staged) at once: small enough to overlap the download, few GX runs (each has
# ~0.3 s of fixed cost). 200k against 100k: stream 10 % shorter, peak +130 MB (scale 0.2, SQLite).
VALIDATE_CHUNK = 200_000
CHUNK_ENV = "SPM_HEALTH_VALIDATE_CHUNK_ROWS"  # a smaller chunk (tests: several chunks from a small window)

PASIEN = EntitySpec(
    source=SOURCE, entity="pasien", staging=staging_pasien,
    columns=("pasien_id", "last_updated", "person_key", "jenis_id", "nik_valid", "jenis_kelamin",
             "tanggal_lahir", "kode_desa"),
    suite="satusehat_pasien", publish_sql="core/fact_pasien_merge.sql", natural_key=("pasien_id",), fact=fact_pasien,
)
KUNJUNGAN = EntitySpec(
    source=SOURCE, entity="kunjungan", staging=staging_kunjungan,
    columns=("kunjungan_id", "last_updated", "pasien_id", "status", "kelas", "tanggal_mulai", "organisasi_id",
             "kode_alasan", "sistem_alasan"),
    suite="satusehat_kunjungan", publish_sql="core/fact_kunjungan_merge.sql", natural_key=("kunjungan_id",),
    fact=fact_kunjungan,
)
OBSERVASI = EntitySpec(
    source=SOURCE, entity="observasi", staging=staging_observasi,
    columns=("observasi_id", "last_updated", "pasien_id", "status", "tanggal_efektif", "kode", "sistem_kode",
             "nilai", "satuan", "nilai_sistolik", "nilai_diastolik", "nilai_kode"),
    suite="satusehat_observasi", publish_sql="core/fact_observasi_merge.sql", natural_key=("observasi_id",),
    fact=fact_observasi,
)
KONDISI = EntitySpec(
    source=SOURCE, entity="kondisi", staging=staging_kondisi,
    columns=("kondisi_id", "last_updated", "pasien_id", "status_klinis", "status_verifikasi", "tanggal_onset", "kode",
             "sistem_kode"),
    suite="satusehat_kondisi", publish_sql="core/fact_kondisi_merge.sql", natural_key=("kondisi_id",),
    fact=fact_kondisi,
)
# The order batches are judged and reported in (patients first); they stream in STREAM_ORDER.
SPECS = {"pasien": PASIEN, "kunjungan": KUNJUNGAN, "observasi": OBSERVASI, "kondisi": KONDISI}
ENTITY_OF = dict(zip(RESOURCE_TYPES, SPECS))  # Patient -> pasien, ...
TYPE_OF = {entity: kind for kind, entity in ENTITY_OF.items()}
# The order the types stream in: the largest first (observations outnumber the rest several times
# over), so that on PostgreSQL its merge runs while the others stream instead of after them.
# Nothing else depends on it: no type's checks read another's rows.
STREAM_ORDER = ("observasi", "pasien", "kunjungan", "kondisi")



# --- windows -----------------------------------------------------------------------------------

def validate_chunk_rows() -> int:
    """Rows per validation chunk: VALIDATE_CHUNK, or a positive integer in $SPM_HEALTH_VALIDATE_CHUNK_ROWS."""
    text = os.environ.get(CHUNK_ENV)
    if not text:
        return VALIDATE_CHUNK
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(f"{CHUNK_ENV}={text!r}: expected a positive number of rows")
    return int(text)


def parse_instant(value: Any, name: str) -> datetime:
    """An ISO date (midnight WIB) or date-time (without a zone: WIB) as an aware datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, dtime.min)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = (datetime.combine(date.fromisoformat(text), dtime.min) if len(text) == 10
                      else datetime.fromisoformat(text))
        except ValueError:
            raise ConfigError(f"{name} {value!r} is not an ISO date or date-time (e.g. 2025-01-01 or "
                              "2025-01-01T00:00:00+07:00)") from None
    else:
        raise ConfigError(f"{name} {value!r} is not an ISO date or date-time")
    return moment.replace(tzinfo=WIB) if moment.tzinfo is None else moment


def default_window(run_after: datetime) -> tuple[datetime, datetime]:
    """The calendar day (WIB) before the run's date: what a nightly run loads."""
    if run_after.tzinfo is None:
        run_after = run_after.replace(tzinfo=timezone.utc)
    hari = run_after.astimezone(WIB).date()
    sampai = datetime.combine(hari, dtime.min, tzinfo=WIB)
    return sampai - timedelta(days=1), sampai


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Window:
    kode_kab_kota: str
    dari: datetime
    sampai: datetime
    conn_id: str = CONN_ID

    @property
    def periode(self) -> str:
        return f"{utc_text(self.dari)}/{utc_text(self.sampai)}"

    def to_dict(self) -> dict[str, str]:
        return {"kode_kab_kota": self.kode_kab_kota, "dari": self.dari.isoformat(),
                "sampai": self.sampai.isoformat(), "conn_id": self.conn_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Window":
        return cls(d["kode_kab_kota"], parse_instant(d["dari"], "dari"), parse_instant(d["sampai"], "sampai"),
                   d.get("conn_id") or CONN_ID)

    def label(self) -> str:
        return f"{self.kode_kab_kota} {self.periode}"


def _check_kab_kota(kode: str) -> None:
    parts = str(kode).split(".")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ConfigError(f"{kode!r} is not a kabupaten/kota code (PP.KK, e.g. 32.71)")


def connection_defined(conn_id: str) -> bool:
    from spm.sources.connections import get_connection

    try:
        get_connection(conn_id)
    except ConfigError as exc:
        if "is not defined" in str(exc):
            return False
        raise
    return True


def hub_connections(kode_wilayah: list[str], defined: Callable[[str], bool] = connection_defined) -> dict[str, str]:
    """kab/kota -> connection id of its FHIR hub: `spm_satusehat_<PPKK>` when defined, else `spm_satusehat`.
    A hub serves one kab/kota, so the shared `spm_satusehat` may stand for one of them only."""
    out = {kode: conn_id_for(kode) if defined(conn_id_for(kode)) else CONN_ID for kode in kode_wilayah}
    shared = [kode for kode, conn in out.items() if conn == CONN_ID]
    if len(shared) > 1:
        raise ConfigError(
            f"kab/kota {', '.join(shared)} would all read the one hub of connection {CONN_ID!r}: a FHIR hub "
            "serves one kab/kota; define " + ", ".join(conn_id_for(k) for k in shared) + " (one per hub)")
    return out


def max_window_days() -> int:
    value = (load_yaml("kualitas.yaml").get("kesehatan") or {}).get("jendela_maks_hari")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"kualitas.yaml: kesehatan.jendela_maks_hari {value!r} is not a positive number of days")
    return value


def windows(kode_wilayah: list[str], dari: Any, sampai: Any, conn_ids: dict[str, str] | None = None) -> list[dict]:
    """One window per kab/kota (same bounds for all)."""
    start, end = parse_instant(dari, "dari"), parse_instant(sampai, "sampai")
    if start >= end:
        raise ConfigError(f"dari {start.isoformat()} must be before sampai {end.isoformat()}")
    longest = max_window_days()
    if end - start > timedelta(days=longest):
        raise ConfigError(f"dari {start.date()} .. sampai {end.date()} spans {(end - start).days} days, more than "
                          f"kualitas.yaml kesehatan.jendela_maks_hari ({longest}): load it in shorter windows")
    out = []
    for kode in kode_wilayah:
        _check_kab_kota(kode)
        out.append(Window(kode, start, end, (conn_ids or {}).get(kode, CONN_ID)).to_dict())
    return out
