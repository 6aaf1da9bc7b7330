"""The data-quality status the report and the dashboard show (issue 20): per source feed its freshness
when the figures were computed and the rows of the batches they used; per bidang whether the OPD's
workbook of the quarter arrived; and every warning the batches used were published with (a warning
never stops a load, so whoever reads the figures must see it beside them). Expectation names,
columns and counts only: never a row's content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache

import sqlalchemy as sa

from spm.warehouse.audit import aware
from spm.warehouse.status import SETTLED
from spm.warehouse.tables import dq_result, etl_batch

OPD = "opd"


@dataclass(frozen=True)
class StatusUmpan:
    """Data-quality status of one source feed at the time the figures were computed. `sumber`, `entitas`
    and `maks_umur_jam` are the feed's keys in config/peringatan.yaml `umpan`; an OPD workbook
    (`jenis` "triwulan") is due once a quarter, not within hours: it has no age limit."""
    sumber: str
    entitas: str
    last_success: datetime | None
    age_hours: float | None
    maks_umur_jam: float | None
    fresh: bool
    batches_used: int
    rows_received: int
    rows_quarantined: int
    jenis: str = "harian"

    @property
    def status(self) -> str:
        if self.jenis == "triwulan":
            return "buku kerja triwulan ini diterima" if self.batches_used else "belum ada buku kerja triwulan ini"
        if not self.batches_used:
            return "tidak ada data yang dipakai triwulan ini"
        return "segar" if self.fresh else "basi"


@dataclass(frozen=True)
class CatatanMutu:
    """A warning expectation that failed on a batch the figures used."""
    sumber: str
    entitas: str
    kode_wilayah: str
    periode: str
    batch_id: int
    pemeriksaan: str  # the expectation's name in its suite
    uraian: str  # what it means, in Indonesian (the suite's meta.uraian)
    kolom: str | None
    baris: int | None  # rows it flagged; None: it judged the batch as a whole


def feed_status(conn, kode: str | list[str], used: set[int], as_of: datetime,
                bidang: list[str] | tuple[str, ...] = (), opd_wilayah: str | None = None) -> list[StatusUmpan]:
    """Freshness of each configured feed at `as_of` and the counts of the batches the figures used. For
    several kab/kota (a province's), a feed is as fresh as its stalest kab/kota. Then one row per
    `bidang` for the workbook of the quarter from the OPD of `opd_wilayah` (the report's own daerah)."""
    from spm.config.peringatan import load_konfigurasi

    b = etl_batch.c
    codes = [kode] if isinstance(kode, str) else list(kode)
    used_rows = conn.execute(sa.select(b.source, b.entity, b.kode_wilayah, b.rows_received, b.rows_quarantined, b.finished_at)
                             .where(b.batch_id.in_(sorted(used)))).all() if used else []
    out = []
    for feed in load_konfigurasi().umpan:
        latest = [aware(conn.execute(sa.select(sa.func.max(b.finished_at)).where(
            b.source == feed.sumber, b.entity.like(feed.entitas.replace("*", "%")), b.kode_wilayah == code,
            b.status.in_(SETTLED), b.finished_at <= as_of)).scalar_one()) for code in codes]
        last = None if not latest or None in latest else min(latest)
        mine = [r for r in used_rows if r.source == feed.sumber and fnmatchcase(r.entity, feed.entitas)]
        age = (as_of - last).total_seconds() / 3600 if last is not None else None
        out.append(StatusUmpan(feed.sumber, feed.entitas, last, age, feed.maks_umur_jam,
                               age is not None and age <= feed.maks_umur_jam, len(mine),
                               sum(r.rows_received for r in mine), sum(r.rows_quarantined for r in mine)))
    for name in bidang:
        mine = [r for r in used_rows if r.source == OPD and r.entity == name and r.kode_wilayah == opd_wilayah]
        last = max((aware(r.finished_at) for r in mine if r.finished_at is not None), default=None)
        out.append(StatusUmpan(OPD, name, last, (as_of - last).total_seconds() / 3600 if last else None, None,
                               bool(mine), len(mine), sum(r.rows_received for r in mine),
                               sum(r.rows_quarantined for r in mine), jenis="triwulan"))
    return out


# Checks made in code rather than a suite file (spm.indicators.capaian).
URAIAN_LINTAS_SUMBER = {
    "capaian_stabil_terhadap_periode_lalu": "capaian berubah lebih dari batas poin dibanding triwulan sebelumnya",
}
# What an expectation of a type means when its suite gives no meta.uraian ({kolom}: its column).
URAIAN_JENIS = {
    "expect_column_values_to_not_be_null": "kolom {kolom} kosong",
    "expect_column_values_to_be_in_set": "nilai kolom {kolom} di luar daftar yang dikenal",
    "expect_column_values_to_be_between": "nilai kolom {kolom} di luar rentang yang wajar",
    "expect_column_values_to_match_regex": "format kolom {kolom} tidak sesuai",
    "expect_column_value_lengths_to_be_between": "isi kolom {kolom} terlalu panjang",
    "expect_column_sum_to_be_between": "jumlah kolom {kolom} di luar rentang yang diharapkan",
    "expect_column_mean_to_be_between": "rata-rata kolom {kolom} di luar batas",
    "expect_table_row_count_to_be_between": "banyaknya baris di luar rentang yang diharapkan",
}


@lru_cache(maxsize=None)
def _uraian(suite: str) -> dict[str, str]:
    """Expectation name -> its meaning, in Indonesian."""
    from spm.errors import ConfigError
    from spm.quality.gx_runner import load_suite_file

    if suite == "lintas_sumber":
        return URAIAN_LINTAS_SUMBER
    try:
        expectations = load_suite_file(suite).get("expectations", [])
    except ConfigError:  # a suite no longer shipped: its name still says what failed
        return {}
    out = {}
    for e in expectations:
        meta = e.get("meta") or {}
        column = (e.get("kwargs") or {}).get("column", "")
        out[meta.get("name")] = meta.get("uraian") or URAIAN_JENIS.get(e.get("type"), "").format(kolom=column)
    return out


def catatan_mutu(conn, used: set[int]) -> list[CatatanMutu]:
    """Every failed warning on the batches used, by source, batch and expectation."""
    if not used:
        return []
    b, d = etl_batch.c, dq_result.c
    rows = conn.execute(sa.select(b.source, b.entity, b.kode_wilayah, b.periode, b.batch_id, d.suite, d.expectation,
                                  d.kolom, d.unexpected_count)
                        .join(etl_batch, etl_batch.c.batch_id == dq_result.c.batch_id)
                        .where(d.batch_id.in_(sorted(used)), d.success.is_(False), d.severity == "warning")
                        .order_by(b.source, b.entity, b.batch_id, d.expectation)).all()
    return [CatatanMutu(r.source, r.entity, r.kode_wilayah, r.periode, r.batch_id, r.expectation,
                        _uraian(r.suite).get(r.expectation, ""), r.kolom, r.unexpected_count) for r in rows]


def umur_sekarang(engine: sa.Engine, data, now: datetime) -> dict[tuple[str, str], float | None]:
    """Per configured feed (sumber, entitas): hours since its last settled load, now (the dashboard is a
    live view; the report's Umur is as of when its figures were computed, so a rerun gives the same file).
    A province's feed is as old as its stalest loaded kab/kota."""
    codes = sorted(data.indeks_kab_kota) if data.is_provinsi else [data.kode_kab_kota]
    with engine.connect() as conn:
        return {(u.sumber, u.entitas): u.age_hours for u in feed_status(conn, codes, set(), now)}
