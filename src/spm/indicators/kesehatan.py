"""Health terlayani (DESIGN §5) from the FHIR facts, inside the warehouse.

For every patient of the kab/kota's hub the query finds the date the standard was first met in the
year (the k-th qualifying encounter or observation; the latest of several required components),
so the same result gives the year-to-date count (met on or before the quarter's end) and the
month of first attainment (mart_terlayani_bulanan: months add up to the year). Events count by
their clinical date within the year, whatever their `meta.lastUpdated`; a condition counts while
its clinicalStatus is active, whatever its onset. Ages are taken on 31 December of the year before;
`kes_bbl` takes infants born in the year. A person (person_key) counts once.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from spm.warehouse.tables import fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien

ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
ACTIVE = ("active", "recurrence", "relapse")
OPEN_AGE = 100  # FHIR clinicalStatus codes that mean "has it now"


def year_bounds(tahun: int) -> tuple[datetime, datetime]:
    start = datetime.combine(date(tahun, 1, 1), time(), tzinfo=timezone.utc)
    return start, datetime.combine(date(tahun + 1, 1, 1), time(), tzinfo=timezone.utc)


def icd_prefixes(rule: dict[str, Any]) -> list[str]:
    """ICD-10 prefixes of a rule: `icd10_awalan` as given, `icd10_rentang` [I10, I15] expanded."""
    if "icd10_awalan" in rule:
        return list(rule["icd10_awalan"])
    first, last = rule["icd10_rentang"]
    letter = first[0]
    return [f"{letter}{n:02d}" for n in range(int(first[1:]), int(last[1:]) + 1)]


def _prefix_match(column, prefixes: list[str]):
    return sa.or_(*(column.like(f"{p}%") for p in prefixes))


def _greatest(*columns):
    out = columns[0]
    for col in columns[1:]:
        out = sa.case((col > out, col), else_=out)
    return out


def _kth(table: sa.Table, date_column, kode: str, tahun: int, k: int, *conditions) -> sa.Subquery:
    """Per patient, the date of the k-th qualifying event in the year."""
    start, end = year_bounds(tahun)
    ranked = sa.select(
        table.c.pasien_id,
        date_column.label("tanggal"),
        sa.func.row_number().over(partition_by=table.c.pasien_id, order_by=date_column).label("urutan"),
    ).where(table.c.kode_kab_kota == kode, date_column >= start, date_column < end, *conditions).subquery()
    return sa.select(ranked.c.pasien_id, ranked.c.tanggal).where(ranked.c.urutan == k).subquery()


def _encounters(kode: str, tahun: int, prefixes: list[str] | None, k: int = 1) -> sa.Subquery:
    e = fact_kunjungan.c
    conditions = [] if prefixes is None else [e.sistem_alasan == ICD10, _prefix_match(e.kode_alasan, prefixes)]
    return _kth(fact_kunjungan, e.tanggal_mulai, kode, tahun, k, *conditions)


def _observations(kode: str, tahun: int, codes: list[str], k: int = 1) -> sa.Subquery:
    o = fact_observasi.c
    return _kth(fact_observasi, o.tanggal_efektif, kode, tahun, k, o.sistem_kode == LOINC, o.kode.in_(codes))


def _has_condition(kode: str, prefixes: list[str]) -> sa.Subquery:
    c = fact_kondisi.c
    return sa.select(c.pasien_id).distinct().where(
        c.kode_kab_kota == kode, c.sistem_kode == ICD10, c.status_klinis.in_(ACTIVE),
        _prefix_match(c.kode, prefixes)).subquery()


def _days_between(dialect: str, later, earlier_date):
    if dialect == "sqlite":
        return sa.func.julianday(sa.func.date(later)) - sa.func.julianday(earlier_date)
    return sa.cast(later, sa.Date) - earlier_date


def met_dates(dialect: str, kode_layanan: str, rule: dict[str, Any], kode: str, tahun: int) -> sa.Select:
    """(pasien_id, tanggal_tercapai) for every patient of the hub who met the standard in the year."""
    p = fact_pasien.c
    jenis = rule["jenis"]
    components: list[sa.Subquery] = []
    extra = []
    if jenis == "kunjungan":
        components.append(_encounters(kode, tahun, icd_prefixes(rule), int(rule.get("minimal", 1))))
    elif jenis == "observasi_semua":
        for req in rule["loinc_minimal"]:
            components.append(_observations(kode, tahun, list(req["kode"]), int(req["minimal"])))
    elif jenis == "kondisi_dan_observasi":
        components.append(_observations(kode, tahun, list(rule["loinc_minimal"][0]["kode"]),
                                        int(rule["loinc_minimal"][0]["minimal"])))
        cond = _has_condition(kode, icd_prefixes(rule))
        extra.append(p.pasien_id.in_(sa.select(cond.c.pasien_id)))
    elif jenis == "kondisi_dan_kunjungan":
        components.append(_encounters(kode, tahun, None, int(rule.get("minimal", 1))))
        cond = _has_condition(kode, icd_prefixes(rule))
        extra.append(p.pasien_id.in_(sa.select(cond.c.pasien_id)))
    elif jenis == "kunjungan_neonatal":
        start, end = year_bounds(tahun)
        extra.append(p.tanggal_lahir >= start.date())
        extra.append(p.tanggal_lahir < end.date())
        e = fact_kunjungan.c
        for lo, hi in rule["jendela_hari"]:
            age_days = _days_between(dialect, e.tanggal_mulai, p.tanggal_lahir)
            window = sa.select(e.pasien_id, sa.func.min(e.tanggal_mulai).label("tanggal")).select_from(
                fact_kunjungan.join(fact_pasien, sa.and_(fact_pasien.c.kode_kab_kota == e.kode_kab_kota,
                                                         fact_pasien.c.pasien_id == e.pasien_id))
            ).where(e.kode_kab_kota == kode, e.tanggal_mulai >= start, e.tanggal_mulai < end,
                    e.sistem_alasan == ICD10, _prefix_match(e.kode_alasan, icd_prefixes(rule)),
                    age_days >= lo, age_days <= hi).group_by(e.pasien_id).subquery()
            components.append(window)
    else:
        raise ValueError(f"{kode_layanan}: terlayani jenis {jenis!r} is not implemented")

    if "umur" in rule:  # age on 31 December of the year before: birthdays are all past by then
        age = (tahun - 1) - sa.extract("year", p.tanggal_lahir)
        extra.append(age >= rule["umur"][0])
        if rule["umur"][1] < OPEN_AGE:  # 100 means "100 and over", as in the population data
            extra.append(age <= rule["umur"][1])
    if rule.get("hanya_perempuan"):
        extra.append(p.jenis_kelamin == "P")

    joined = fact_pasien
    for comp in components:
        joined = joined.join(comp, comp.c.pasien_id == p.pasien_id)
    return sa.select(p.pasien_id, _greatest(*(c.c.tanggal for c in components)).label("tanggal_tercapai")) \
        .select_from(joined).where(p.kode_kab_kota == kode, p.kode_desa.like(f"{kode}.%"), *extra)


def quarter_end_exclusive(tahun: int, triwulan: int) -> datetime:
    nxt = date(tahun + 1, 1, 1) if triwulan == 4 else date(tahun, 3 * triwulan + 1, 1)
    return datetime.combine(nxt, time(), tzinfo=timezone.utc)


def has_fhir_data(conn: sa.Connection, kode: str) -> bool:
    return bool(conn.execute(sa.select(sa.func.count()).select_from(fact_pasien).where(
        fact_pasien.c.kode_kab_kota == kode)).scalar_one())


def until_quarter(met: sa.Subquery, tahun: int, triwulan: int):
    return met.c.tanggal_tercapai < quarter_end_exclusive(tahun, triwulan)


def month_of(dialect: str, column):
    if dialect == "sqlite":
        return sa.cast(sa.func.strftime("%m", column), sa.Integer)
    return sa.cast(sa.extract("month", column), sa.Integer)


def end_of_year(tahun: int) -> datetime:
    return year_bounds(tahun)[1] - timedelta(microseconds=1)
