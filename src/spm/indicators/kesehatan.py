"""Health terlayani (DESIGN §5) from the FHIR facts, inside the warehouse.

A person is a person_key (the HMAC of the NIK, the same in every hub) living in the kab/kota: the
village of their most recently updated Patient record decides, whichever hub holds it
(sql/intermediate/int_pasien_domisili.sql fills a temporary table once per computation), and
their events count from every hub that holds a record of them. Clinical resources join their
patients when the figures are computed, so a resource that arrived before its patient counts as
soon as the patient is loaded.

For every person the query finds the date the standard was first met in the year (the k-th
qualifying encounter or observation; the latest of several required components), so the same result
gives the year-to-date count (met on or before the quarter's end) and the month of first attainment
(mart_terlayani_bulanan: months add up to the year). Events count by their clinical date within the
year, whatever their `meta.lastUpdated`, and only with a status that says they happened
(katalog_layanan.yaml `status_fhir`); a condition counts while its clinicalStatus is active and its
verificationStatus does not withdraw it, whatever its onset. Ages are taken on 31 December of the
year before; `kes_bbl` takes infants born in the year.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from spm.warehouse.tables import fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien

ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
OPEN_AGE = 100  # the last age band is "100 and over", as in the population data

# Per computation (one transaction): every patient record (any hub) of the persons living in the
# kab/kota, with the residence, sex and birth date of their latest record (`utama` marks that
# record: one row per person). Temporary: private to the transaction, so its fresh statistics cost
# no lock that concurrent computations of other kab/kota would wait on.
_TEMP = sa.MetaData()
pasien_domisili = sa.Table(
    "tmp_pasien_domisili", _TEMP,
    sa.Column("kode_hub", sa.String(5), nullable=False),  # the hub holding this record
    sa.Column("pasien_id", sa.String(64), nullable=False),
    sa.Column("person_key", sa.String(64), nullable=False),
    sa.Column("kode_desa", sa.String(13), nullable=False),
    sa.Column("jenis_kelamin", sa.String(1), nullable=False),
    sa.Column("tanggal_lahir", sa.Date, nullable=False),
    sa.Column("utama", sa.Boolean, nullable=False),
    sa.Index("ix_tmp_pasien_domisili_rekam", "kode_hub", "pasien_id"),
    sa.Index("ix_tmp_pasien_domisili_orang", "person_key"),
    prefixes=["TEMPORARY"],
)


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


class Persons:
    """The persons of one computation (tmp_pasien_domisili) and their events."""

    def __init__(self, statuses: dict[str, tuple[str, ...]], dialect: str) -> None:
        self.statuses, self.dialect = statuses, dialect
        self.d = pasien_domisili.c

    def _date(self, column):
        """A clinical date to filter on. SQLite, without statistics, would rather range-scan the
        (hub, date) index once per person than probe the (hub, patient) index: hide the column from
        the date index there (PostgreSQL chooses by its statistics)."""
        return sa.func.coalesce(column, column) if self.dialect == "sqlite" else column

    def _of(self, table: sa.Table):
        """`table` joined to the persons its rows belong to (probing the table's (hub, patient) index
        for each of their records)."""
        d = self.d
        return table.join(pasien_domisili, sa.and_(d.kode_hub == table.c.kode_kab_kota, d.pasien_id == table.c.pasien_id))

    def kth(self, table: sa.Table, date_column, tahun: int, k: int, *conditions) -> sa.Subquery:
        """Per person, the date of the k-th qualifying event in the year."""
        start, end = year_bounds(tahun)
        ranked = sa.select(
            self.d.person_key, date_column.label("tanggal"),
            sa.func.row_number().over(partition_by=self.d.person_key, order_by=date_column).label("urutan"),
        ).select_from(self._of(table)).where(self._date(date_column) >= start, self._date(date_column) < end,
                                             *conditions).subquery()
        return sa.select(ranked.c.person_key, ranked.c.tanggal).where(ranked.c.urutan == k).subquery()

    def encounter_ok(self):
        return fact_kunjungan.c.status.in_(self.statuses["kunjungan"])

    def encounters(self, tahun: int, prefixes: list[str] | None, k: int = 1) -> sa.Subquery:
        e = fact_kunjungan.c
        conditions = [self.encounter_ok()]
        if prefixes is not None:
            conditions += [e.sistem_alasan == ICD10, _prefix_match(e.kode_alasan, prefixes)]
        return self.kth(fact_kunjungan, e.tanggal_mulai, tahun, k, *conditions)

    def observations(self, tahun: int, codes: list[str], k: int = 1) -> sa.Subquery:
        o = fact_observasi.c
        return self.kth(fact_observasi, o.tanggal_efektif, tahun, k, o.status.in_(self.statuses["observasi"]),
                        o.sistem_kode == LOINC, o.kode.in_(codes))

    def with_condition(self, prefixes: list[str]) -> sa.Select:
        c = fact_kondisi.c
        withdrawn = self.statuses["kondisi_verifikasi_tidak_dihitung"]
        verified = sa.or_(c.status_verifikasi.is_(None), c.status_verifikasi.not_in(withdrawn)) if withdrawn \
            else sa.true()
        return sa.select(self.d.person_key).select_from(self._of(fact_kondisi)).where(
            c.sistem_kode == ICD10, c.status_klinis.in_(self.statuses["kondisi_klinis"]), verified,
            _prefix_match(c.kode, prefixes)).distinct()

    def neonatal(self, dialect: str, tahun: int, prefixes: list[str], lo: int, hi: int) -> sa.Subquery:
        """Per infant, the first qualifying visit aged lo..hi days."""
        start, end = year_bounds(tahun)
        e = fact_kunjungan.c
        age_days = _days_between(dialect, e.tanggal_mulai, self.d.tanggal_lahir)
        return sa.select(self.d.person_key, sa.func.min(e.tanggal_mulai).label("tanggal")).select_from(self._of(fact_kunjungan)).where(
            self._date(e.tanggal_mulai) >= start, self._date(e.tanggal_mulai) < end, self.encounter_ok(),
            e.sistem_alasan == ICD10, _prefix_match(e.kode_alasan, prefixes), age_days >= lo, age_days <= hi,
        ).group_by(self.d.person_key).subquery()

    def people(self) -> tuple[sa.Alias, list]:
        """One row per person (their latest record), with the conditions that select them."""
        orang = pasien_domisili.alias("orang")
        return orang, [orang.c.utama.is_(True)]


def _days_between(dialect: str, later, earlier_date):
    if dialect == "sqlite":
        return sa.func.julianday(sa.func.date(later)) - sa.func.julianday(earlier_date)
    return sa.cast(later, sa.Date) - earlier_date


def met_dates(dialect: str, kode_layanan: str, rule: dict[str, Any], persons: Persons, tahun: int) -> sa.Select:
    """(person_key, kode_desa, jenis_kelamin, tanggal_tercapai) of every person living in the kab/kota
    who met the standard in the year."""
    people, extra = persons.people()
    p = people.c
    jenis = rule["jenis"]
    components: list[sa.Subquery] = []
    if jenis == "kunjungan":
        components.append(persons.encounters(tahun, icd_prefixes(rule), int(rule.get("minimal", 1))))
    elif jenis == "observasi_semua":
        for req in rule["loinc_minimal"]:
            components.append(persons.observations(tahun, list(req["kode"]), int(req["minimal"])))
    elif jenis == "kondisi_dan_observasi":
        components.append(persons.observations(tahun, list(rule["loinc_minimal"][0]["kode"]),
                                               int(rule["loinc_minimal"][0]["minimal"])))
        extra.append(p.person_key.in_(persons.with_condition(icd_prefixes(rule))))
    elif jenis == "kondisi_dan_kunjungan":
        components.append(persons.encounters(tahun, None, int(rule.get("minimal", 1))))
        extra.append(p.person_key.in_(persons.with_condition(icd_prefixes(rule))))
    elif jenis == "kunjungan_neonatal":
        start, end = year_bounds(tahun)
        extra.append(p.tanggal_lahir >= start.date())
        extra.append(p.tanggal_lahir < end.date())
        for lo, hi in rule["jendela_hari"]:
            components.append(persons.neonatal(dialect, tahun, icd_prefixes(rule), lo, hi))
    else:
        raise ValueError(f"{kode_layanan}: terlayani jenis {jenis!r} is not implemented")

    if "umur" in rule:  # age on 31 December of the year before: birthdays are all past by then
        age = (tahun - 1) - sa.extract("year", p.tanggal_lahir)
        extra.append(age >= rule["umur"][0])
        if rule["umur"][1] < OPEN_AGE:  # 100 means "100 and over", as in the population data
            extra.append(age <= rule["umur"][1])
    if rule.get("hanya_perempuan"):
        extra.append(p.jenis_kelamin == "P")

    # One row per person and component, then the persons who met every component, on the latest
    # component's date (an aggregate, not a join of the components: planners join those badly).
    parts = sa.union_all(*(sa.select(c.c.person_key, c.c.tanggal) for c in components)).subquery("komponen")
    met = sa.select(parts.c.person_key, sa.func.max(parts.c.tanggal).label("tanggal")) \
        .group_by(parts.c.person_key).having(sa.func.count() == len(components)).subquery("tercapai")
    return sa.select(p.person_key, p.kode_desa, p.jenis_kelamin, met.c.tanggal.label("tanggal_tercapai")) \
        .select_from(met.join(people, p.person_key == met.c.person_key)).where(*extra)


def quarter_end_exclusive(tahun: int, triwulan: int) -> datetime:
    nxt = date(tahun + 1, 1, 1) if triwulan == 4 else date(tahun, 3 * triwulan + 1, 1)
    return datetime.combine(nxt, time(), tzinfo=timezone.utc)


def has_fhir_data(conn: sa.Connection, kode: str) -> bool:
    """Whether the kab/kota's own hub is loaded (without it the figures would miss most services)."""
    return conn.execute(sa.select(fact_pasien.c.pasien_id).where(fact_pasien.c.kode_kab_kota == kode)
                        .limit(1)).first() is not None


def fill_persons(conn: sa.Connection, kode: str, statuses: dict[str, tuple[str, ...]]) -> Persons:
    """Fill tmp_pasien_domisili for the computation (sql/intermediate/int_pasien_domisili.sql)."""
    from spm.warehouse.bulk import refresh_statistics
    from spm.warehouse.sqlfiles import run_sql_file

    clear_persons(conn)
    pasien_domisili.create(conn)
    run_sql_file(conn, "intermediate/int_pasien_domisili.sql", {"awalan_desa": f"{kode}.%"})
    refresh_statistics(conn, pasien_domisili)  # just filled
    return Persons(statuses, conn.dialect.name)


def clear_persons(conn: sa.Connection) -> None:
    """Drop the computation's temporary table (SQLite keeps it for the pooled connection's life)."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {pasien_domisili.name}")


def until_quarter(met: sa.Subquery, tahun: int, triwulan: int):
    return met.c.tanggal_tercapai < quarter_end_exclusive(tahun, triwulan)


def month_of(dialect: str, column):
    if dialect == "sqlite":
        return sa.cast(sa.func.strftime("%m", column), sa.Integer)
    return sa.cast(sa.extract("month", column), sa.Integer)


def end_of_year(tahun: int) -> datetime:
    return year_bounds(tahun)[1] - timedelta(microseconds=1)
