"""mart_capaian_spm: sasaran and terlayani per desa and sex, rolled up, for a kab/kota and quarter.

Everything runs inside the warehouse (INSERT ... SELECT built from the catalog's rules, then
sql/marts/mart_capaian_spm.sql). Gates (DESIGN §9): without population for the reference semester
or an earlier one, nothing is computed for the kab/kota; a jenis layanan whose source has no data
for the period is left out (never a 0 standing in for "unknown"); a capaian that moves beyond the
configured bound against the previous period is flagged in dq_result.

Periods (DESIGN §5): a quarter's figures are year-to-date; the sasaran of year Y use population
semester Y-1 semester 2 (or the latest earlier one, recorded in `semester_penduduk`); ages on
31 December of Y-1 on both sides; education uses Dapodik semester (Y-1)2 for quarters 1-2 and Y1
for quarters 3-4.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError
from spm.config.katalog_layanan import Layanan, faktor, fhir_statuses, load_catalog
from spm.warehouse import persetujuan
from spm.warehouse.audit import finish_batch, now, start_batch
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.tables import (
    dim_layanan, dq_result, fact_kelahiran, fact_pasien, fact_penduduk, fact_peserta_didik,
)
from spm.warehouse.tables_marts import mart_capaian_spm, work_capaian_desa, work_terlayani_bulanan_desa
from spm.warehouse.status import BatchStatus

log = logging.getLogger(__name__)
SOURCE, ENTITY = "spm", "mart_capaian_spm"


def periode_label(tahun: int, triwulan: int) -> str:
    return f"{tahun}-T{triwulan}"


def dapodik_semester(tahun: int, triwulan: int) -> int:
    """The latest Dapodik semester started on or before the quarter's end."""
    return (tahun - 1) * 10 + 2 if triwulan <= 2 else tahun * 10 + 1


def quarter_end(tahun: int, triwulan: int) -> date:
    return {1: date(tahun, 3, 31), 2: date(tahun, 6, 30), 3: date(tahun, 9, 30), 4: date(tahun, 12, 31)}[triwulan]


def reference_semester(conn: sa.Connection, kode: str, tahun: int) -> tuple[int, int] | None:
    """Semester 2 of Y-1, else the latest earlier semester with population for the kab/kota."""
    rows = conn.execute(
        sa.select(fact_penduduk.c.tahun, fact_penduduk.c.semester).distinct()
        .where(fact_penduduk.c.kode_kab_kota == kode)
    ).all()
    eligible = sorted((t, s) for t, s in rows if (t, s) <= (tahun - 1, 2))
    return eligible[-1] if eligible else None


@dataclass
class _Context:
    conn: sa.Connection
    batch_id: int
    kode: str
    tahun: int
    triwulan: int
    ref: tuple[int, int]
    lineage: set[int]
    skipped: dict[str, str]
    health_met: dict[str, sa.Subquery] = field(default_factory=dict)
    persons: Any = None  # spm.indicators.kesehatan.Persons, filled with the first health layanan
    partition: str = ""  # the mart partition the rows go to (a province's own layanan); default the kab/kota

    def literals(self, kode_layanan: str) -> list:
        return [sa.literal(self.batch_id, sa.Integer), sa.literal(self.partition or self.kode, sa.String),
                sa.literal(self.tahun, sa.Integer), sa.literal(self.triwulan, sa.Integer),
                sa.literal(kode_layanan, sa.String)]

    def insert(self, kode_layanan: str, desa, jenis_kelamin, sasaran, terlayani, source: sa.Select) -> None:
        select = source.with_only_columns(
            *self.literals(kode_layanan), desa, jenis_kelamin, sasaran, terlayani, maintain_column_froms=True)
        self.conn.execute(sa.insert(work_capaian_desa).from_select(
            ["batch_id", "kode_kab_kota", "tahun", "triwulan", "kode_layanan", "kode_desa", "jenis_kelamin",
             "sasaran", "terlayani"], select))


def _of_kab(column, kode: str):
    return column.like(f"{kode}.%")


def _population(ctx: _Context, umur: list[int]) -> sa.Select:
    fp = fact_penduduk.c
    return (sa.select(fp.kode_desa).where(
        fp.kode_kab_kota == ctx.kode, fp.tahun == ctx.ref[0], fp.semester == ctx.ref[1],
        fp.umur >= umur[0], fp.umur <= umur[1]).group_by(fp.kode_desa, fp.jenis_kelamin))


def _factor_expr(f, column):
    return sa.case((column == "L", f.L), else_=f.P)


def learner_conditions(rule: dict[str, Any], semester_id: int, tahun: int) -> list:
    """The rows of fact_peserta_didik a Dapodik terlayani rule counts (residence aside): the semester,
    the status, the form of education, aged (on 31 Dec of the year before) within the rule's band."""
    pd = fact_peserta_didik.c
    age = tahun - 1 - pd.tahun_lahir  # everyone has had their birthday by 31 December
    conditions = [pd.semester_id == semester_id, age >= rule["umur"][0], age <= rule["umur"][1],
                  pd.status.in_(rule.get("status", ["aktif"]))]
    if "bentuk_pendidikan" in rule:
        conditions.append(pd.bentuk_pendidikan.in_(rule["bentuk_pendidikan"]))
    if "program_kesetaraan" in rule:
        conditions.append(pd.program_kesetaraan.in_(rule["program_kesetaraan"]))
    return conditions


def _learners(ctx: _Context, rule: dict[str, Any], semester_id: int) -> sa.Select:
    """Distinct learners by residence desa and sex, aged (on 31 Dec Y-1) within the rule's band."""
    pd = fact_peserta_didik.c
    return sa.select(pd.kode_desa_tinggal).where(
        *learner_conditions(rule, semester_id, ctx.tahun), _of_kab(pd.kode_desa_tinggal, ctx.kode),
    ).group_by(pd.kode_desa_tinggal, pd.jenis_kelamin)


def _sasaran(ctx: _Context, layanan: Layanan) -> bool:
    rule, fp = layanan.sasaran, fact_penduduk.c
    jenis = rule["jenis"]
    zero = sa.literal(0, sa.Integer)
    if jenis in ("penduduk", "penduduk_tidak_sekolah_formal", "prevalensi"):
        amount = sa.func.sum(fp.jumlah)
        if jenis == "prevalensi":
            f = faktor(rule["faktor"], ctx.kode, ctx.tahun)
            amount = amount * _factor_expr(f, fp.jenis_kelamin)
        ctx.insert(layanan.kode, fp.kode_desa, fp.jenis_kelamin, sa.cast(amount, sa.Float), zero,
                   _population(ctx, rule["umur"]))
        if jenis == "penduduk_tidak_sekolah_formal":
            semester_id = dapodik_semester(ctx.tahun, ctx.triwulan)
            if not _has_learners(ctx, semester_id):
                ctx.skipped[layanan.kode] = f"no Dapodik semester {semester_id} for {ctx.kode}"
                return False
            pd = fact_peserta_didik.c
            formal = {"umur": rule["umur"], "status": ["aktif"], "bentuk_pendidikan": rule["bentuk_formal"]}
            ctx.insert(layanan.kode, pd.kode_desa_tinggal, pd.jenis_kelamin,
                       sa.cast(-sa.func.count(sa.distinct(pd.person_key)), sa.Float), zero,
                       _learners(ctx, formal, semester_id))
        return True
    if jenis == "kelahiran_tahun_lalu":
        fk = fact_kelahiran.c
        has = ctx.conn.execute(sa.select(sa.func.count()).select_from(fact_kelahiran).where(
            fk.kode_kab_kota == ctx.kode, fk.tahun == ctx.tahun - 1)).scalar_one()
        if not has:
            ctx.skipped[layanan.kode] = f"no registered births of {ctx.tahun - 1} for {ctx.kode}"
            return False
        f = faktor(rule["faktor"], ctx.kode, ctx.tahun)
        ctx.insert(layanan.kode, fk.kode_desa, fk.jenis_kelamin,
                   sa.cast(sa.func.sum(fk.jumlah) * _factor_expr(f, fk.jenis_kelamin), sa.Float), zero,
                   sa.select(fk.kode_desa).where(fk.kode_kab_kota == ctx.kode, fk.tahun == ctx.tahun - 1)
                   .group_by(fk.kode_desa, fk.jenis_kelamin))
        return True
    raise ConfigError(f"{layanan.kode}: sasaran jenis {jenis!r} is not implemented")


def _has_learners(ctx: _Context, semester_id: int) -> bool:
    pd = fact_peserta_didik.c
    return bool(ctx.conn.execute(sa.select(sa.func.count()).select_from(fact_peserta_didik).where(
        pd.semester_id == semester_id, pd.kode_kab_kota == ctx.kode)).scalar_one())


def _terlayani(ctx: _Context, layanan: Layanan) -> bool:
    rule = layanan.terlayani
    if rule["sumber"] == "dapodik":
        semester_id = dapodik_semester(ctx.tahun, ctx.triwulan)
        if not _has_learners(ctx, semester_id):
            ctx.skipped[layanan.kode] = f"no Dapodik semester {semester_id} for {ctx.kode}"
            return False
        pd = fact_peserta_didik.c
        ctx.insert(layanan.kode, pd.kode_desa_tinggal, pd.jenis_kelamin, sa.literal(0.0, sa.Float),
                   sa.func.count(sa.distinct(pd.person_key)), _learners(ctx, rule, semester_id))
        return True
    from spm.indicators import kesehatan

    if not kesehatan.has_fhir_data(ctx.conn, ctx.kode):
        ctx.skipped[layanan.kode] = f"no FHIR data from the {ctx.kode} hub"
        return False
    if ctx.persons is None:
        ctx.persons = kesehatan.fill_persons(ctx.conn, ctx.kode, fhir_statuses())
    met = kesehatan.met_dates(ctx.conn.dialect.name, layanan.kode, rule, ctx.persons, ctx.tahun).subquery()
    ctx.insert(layanan.kode, met.c.kode_desa, met.c.jenis_kelamin, sa.literal(0.0, sa.Float),
               sa.func.count(sa.distinct(met.c.person_key)),
               sa.select(met.c.kode_desa).where(kesehatan.until_quarter(met, ctx.tahun, ctx.triwulan))
               .group_by(met.c.kode_desa, met.c.jenis_kelamin))
    ctx.health_met[layanan.kode] = met
    return True


def _terlayani_bulanan(ctx: _Context) -> None:
    """Month of first attainment over the whole year known so far (quarter reports read months <= q)."""
    from spm.indicators.kesehatan import month_of

    w = work_terlayani_bulanan_desa
    ctx.conn.execute(sa.delete(w).where(w.c.kode_kab_kota == ctx.kode, w.c.tahun == ctx.tahun))
    for kode_layanan, met in ctx.health_met.items():
        bulan = month_of(ctx.conn.dialect.name, met.c.tanggal_tercapai)
        select = sa.select(
            sa.literal(ctx.batch_id, sa.Integer), sa.literal(ctx.kode, sa.String), sa.literal(ctx.tahun, sa.Integer),
            bulan, sa.literal(kode_layanan, sa.String), met.c.kode_desa, met.c.jenis_kelamin,
            sa.func.count(sa.distinct(met.c.person_key)),
        ).group_by(bulan, met.c.kode_desa, met.c.jenis_kelamin)
        ctx.conn.execute(sa.insert(w).from_select(
            ["batch_id", "kode_kab_kota", "tahun", "bulan", "kode_layanan", "kode_desa", "jenis_kelamin",
             "terlayani_baru"], select))
    run_sql_file(ctx.conn, "marts/mart_terlayani_bulanan.sql",
                 {"kode_kab_kota": ctx.kode, "tahun": ctx.tahun, "batch_id": ctx.batch_id, "benar": True})


def _lineage(ctx: _Context) -> str:
    fp, fk, pd = fact_penduduk.c, fact_kelahiran.c, fact_peserta_didik.c
    queries = [
        sa.select(fp.batch_id).distinct().where(fp.kode_kab_kota == ctx.kode, fp.tahun == ctx.ref[0],
                                                fp.semester == ctx.ref[1]),
        sa.select(fk.batch_id).distinct().where(fk.kode_kab_kota == ctx.kode, fk.tahun == ctx.tahun - 1),
        sa.select(pd.batch_id).distinct().where(pd.semester_id == dapodik_semester(ctx.tahun, ctx.triwulan),
                                                _of_kab(pd.kode_desa_tinggal, ctx.kode)),
    ]
    if ctx.health_met:
        from spm.warehouse.tables import fact_kondisi, fact_kunjungan, fact_observasi
        from spm.indicators.kesehatan import pasien_domisili

        # Every hub holding a record of a resident feeds the figures.
        hubs = sa.select(pasien_domisili.c.kode_hub).distinct()
        for table in (fact_pasien, fact_kunjungan, fact_observasi, fact_kondisi):
            queries.append(sa.select(table.c.batch_id).distinct().where(table.c.kode_kab_kota.in_(hubs)))
    for q in queries:
        ctx.lineage.update(ctx.conn.execute(q).scalars())
    return ",".join(str(b) for b in sorted(ctx.lineage))


def clear_work_rows(conn: sa.Connection, partition: str, tahun: int, triwulan: int) -> None:
    w = work_capaian_desa.c
    conn.execute(sa.delete(work_capaian_desa).where(
        w.kode_kab_kota == partition, w.tahun == tahun, w.triwulan == triwulan))


def add_desa_rows(ctx: _Context, catalog: list[Layanan]) -> list[str]:
    """work_capaian_desa rows of every layanan of `catalog` for the context's kab/kota; returns the
    layanan computed. A layanan is computed only when both sides have data; otherwise it is left out
    (ctx.skipped says why)."""
    computed = []
    for layanan in catalog:
        savepoint = ctx.conn.begin_nested()
        if _sasaran(ctx, layanan) and _terlayani(ctx, layanan):
            savepoint.commit()
            computed.append(layanan.kode)
        else:
            savepoint.rollback()
    return computed


def province_own_rows(conn: sa.Connection, batch_id: int, kode_provinsi: str, kab_kota: list[str],
                      tahun: int, triwulan: int) -> dict[str, Any]:
    """The province's own layanan (katalog tingkat_pemerintahan provinsi) per desa of each of its
    kab/kota with population for the year, rolled up to desa, kecamatan and kab/kota rows of the
    province's partition (sql/marts/mart_capaian_spm.sql), by the same rules as the kab/kota SPM."""
    # Those the Dinas Provinsi enters (sumber opd) have no desa figures: spm.indicators.provinsi.
    catalog = [lay for lay in load_catalog("provinsi") if lay.sumber != "opd"]
    clear_work_rows(conn, kode_provinsi, tahun, triwulan)
    lineage: set[int] = set()
    skipped: dict[str, str] = {}
    refs: dict[str, str] = {}
    computed: set[str] = set()
    for kode in kab_kota:
        ref = reference_semester(conn, kode, tahun)
        if ref is None or not catalog:
            continue
        ctx = _Context(conn, batch_id, kode, tahun, triwulan, ref, lineage, skipped, partition=kode_provinsi)
        done = add_desa_rows(ctx, catalog)
        if done:
            computed.update(done)
            refs[kode] = f"{ref[0]}-{ref[1]}"
            _lineage(ctx)
    run_sql_file(conn, "marts/mart_capaian_spm.sql", {
        "kode_kab_kota": kode_provinsi, "tahun": tahun, "triwulan": triwulan, "batch_id": batch_id,
        "semester_penduduk": "-", "batch_ids": ",".join(str(b) for b in sorted(lineage)), "benar": True})
    m = mart_capaian_spm.c
    for kode, semester in refs.items():  # each kab/kota's rows name the population semester it used
        conn.execute(sa.update(mart_capaian_spm).where(
            m.kode_kab_kota == kode_provinsi, m.tahun == tahun, m.triwulan == triwulan,
            sa.or_(m.kode_wilayah == kode, m.kode_wilayah.like(f"{kode}.%"))).values(semester_penduduk=semester))
    return {"computed": sorted(computed), "semester_penduduk": sorted(set(refs.values()))}


def compute_capaian(engine: sa.Engine, kode: str, tahun: int, triwulan: int, run_id: str | None) -> dict[str, Any]:
    """Rebuild mart_capaian_spm for one kab/kota and quarter in one transaction."""
    if triwulan not in (1, 2, 3, 4):
        raise ConfigError(f"triwulan must be 1-4, not {triwulan!r}")
    catalog = load_catalog()
    periode = periode_label(tahun, triwulan)
    return persetujuan.unless_locked(engine, SOURCE, ENTITY, periode, run_id, lambda: _compute_capaian(
        engine, catalog, periode, kode, tahun, triwulan, run_id))


def _compute_capaian(engine: sa.Engine, catalog, periode: str, kode: str, tahun: int, triwulan: int,
                     run_id: str | None) -> dict[str, Any]:
    with engine.begin() as conn:
        if not conn.execute(sa.select(sa.func.count()).select_from(dim_layanan)).scalar_one():
            raise ConfigError("dim_layanan is empty: run `spm db upgrade`")
        batch_id = start_batch(conn, SOURCE, ENTITY, kode, periode, run_id)
        ref = reference_semester(conn, kode, tahun)
        if ref is None:
            msg = (f"no population of {kode} for semester {tahun - 1}-2 or earlier: no capaian computed "
                   "(never against a missing denominator)")
            finish_batch(conn, batch_id, BatchStatus.MISSING, message=msg)
            return {"kode_kab_kota": kode, "periode": periode, "batch_id": batch_id, "status": BatchStatus.MISSING,
                    "message": msg}
        before = persetujuan.locked_figures(conn, kode, tahun, triwulan)  # checked by guard() before commit
        clear_work_rows(conn, kode, tahun, triwulan)
        ctx = _Context(conn, batch_id, kode, tahun, triwulan, ref, set(), {})
        computed = add_desa_rows(ctx, catalog)
        semester_penduduk = f"{ref[0]}-{ref[1]}"
        if ctx.health_met:
            _terlayani_bulanan(ctx)
        run_sql_file(conn, "marts/mart_capaian_spm.sql", {
            "kode_kab_kota": kode, "tahun": tahun, "triwulan": triwulan, "batch_id": batch_id,
            "semester_penduduk": semester_penduduk, "batch_ids": _lineage(ctx), "benar": True})
        if ctx.persons is not None:
            from spm.indicators.kesehatan import clear_persons

            clear_persons(conn)
        rows = conn.execute(sa.select(sa.func.count()).select_from(mart_capaian_spm).where(
            mart_capaian_spm.c.batch_id == batch_id)).scalar_one()
        persetujuan.guard(conn, kode, tahun, triwulan, before)
        flagged = flag_jumps(conn, batch_id, kode, tahun, triwulan)
        notes = [f"{len(computed)} jenis layanan computed with population {semester_penduduk}"]
        if ref != (tahun - 1, 2):
            notes.append(f"population {tahun - 1}-2 missing: used {semester_penduduk}")
        if ctx.skipped:
            by_reason: dict[str, list[str]] = {}
            for kode_layanan, reason in ctx.skipped.items():
                by_reason.setdefault(reason, []).append(kode_layanan)
            notes.append("not computed: " + "; ".join(f"{', '.join(k)} ({r})" for r, k in by_reason.items()))
        if flagged:
            notes.append(f"capaian jump flagged for {', '.join(flagged)}")
        finish_batch(conn, batch_id, BatchStatus.PUBLISHED, rows_received=rows, rows_published=rows, message="; ".join(notes))
    log.info("capaian %s %s: %s", kode, periode, "; ".join(notes))
    return {"kode_kab_kota": kode, "periode": periode, "batch_id": batch_id, "status": BatchStatus.PUBLISHED,
            "rows_published": rows, "computed": computed, "skipped": ctx.skipped,
            "semester_penduduk": semester_penduduk, "flagged": flagged}


def _previous_period(tahun: int, triwulan: int) -> tuple[int, int]:
    # Year-to-date figures restart each January: compare Q1 with Q1 of the year before.
    return (tahun - 1, 1) if triwulan == 1 else (tahun, triwulan - 1)


def flag_jumps(conn: sa.Connection, batch_id: int, kode: str, tahun: int, triwulan: int) -> list[str]:
    bound = float(load_yaml("kualitas.yaml")["indikator"]["lonjakan_capaian_poin"])
    m = mart_capaian_spm.c
    prev_t, prev_q = _previous_period(tahun, triwulan)

    def kab_rows(t, q):
        return {r.kode_layanan: r.capaian for r in conn.execute(
            sa.select(m.kode_layanan, m.capaian).where(  # the partition too: a province holds 32.71 rows
                m.kode_kab_kota == kode, m.kode_wilayah == kode, m.jenis_kelamin == "semua", m.tahun == t,
                m.triwulan == q))}

    now_rows, prev_rows = kab_rows(tahun, triwulan), kab_rows(prev_t, prev_q)
    flagged, checked_at = [], now()
    for kode_layanan, capaian in sorted(now_rows.items()):
        before = prev_rows.get(kode_layanan)
        if capaian is None or before is None:
            continue
        jump = abs(capaian - before) > bound
        conn.execute(sa.insert(dq_result).values(
            batch_id=batch_id, suite="lintas_sumber", expectation="capaian_stabil_terhadap_periode_lalu",
            kolom=kode_layanan, severity="warning", success=not jump, element_count=1,
            unexpected_count=int(jump), observed_value=json.dumps(
                {"capaian": round(capaian, 2), "sebelumnya": round(before, 2),
                 "periode_sebelumnya": periode_label(prev_t, prev_q), "batas_poin": bound}),
            details=None, checked_at=checked_at))
        if jump:
            flagged.append(kode_layanan)
    return flagged
