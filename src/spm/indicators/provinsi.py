"""Provinsi rows of mart_capaian_spm and mart_terlayani_bulanan (DESIGN §7 "Provinsi rows"), and
the province's own jenis pelayanan dasar (katalog `tingkat_pemerintahan: provinsi`).

Where kab/kota of one province are loaded, the province's row of every kab/kota indicator is
computed after theirs, in one transaction, from what they published for the quarter:
- the kab/kota a row covers are those with a kab/kota row of that jenis layanan for the quarter
  (`kab_kota_dimuat`, of `kab_kota_total` in dim_wilayah on the quarter's last day);
- sasaran = the sum of their sasaran (sql/marts/mart_capaian_spm_provinsi.sql);
- terlayani = the distinct persons (person_key) served in any of them, recounted from the facts
  by the same catalog rules: a learner listed in two kab/kota, or a patient whose records sit in
  two hubs, counts once. Persons are placed by residence as in the kab/kota rows (the learner's
  desa tinggal, the patient's latest village), so those living in a kab/kota the row does not
  cover are not counted;
- mart_terlayani_bulanan: the month each of those persons first met the standard, so the months
  still add up to the year.
The province's own layanan of education (pendidikan menengah, pendidikan khusus) are first computed
per desa of each of its kab/kota with population, by the kab/kota rules, into desa, kecamatan and
kab/kota rows of the province's partition (kode_kab_kota = the province's code); their provinsi row
then follows the same rule as the others. Its own health services (krisis kesehatan akibat bencana,
KLB; katalog `sumber: opd`) are what the Dinas Kesehatan Provinsi entered in the penerima sheet of
its OPD workbook (fact_input_penerima; sql/marts/mart_capaian_spm_input_opd.sql), months included.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from spm.config.katalog_layanan import fhir_statuses, load_catalog
from spm.errors import ConfigError
from spm.indicators.capaian import (
    dapodik_semester, flag_jumps, learner_conditions, periode_label, province_own_rows, quarter_end,
)
from spm.warehouse import persetujuan
from spm.warehouse.audit import finish_batch, start_batch
from spm.warehouse.sqlfiles import run_sql_file
from spm.warehouse.status import BatchStatus
from spm.warehouse.tables import fact_peserta_didik
from spm.warehouse.tables_marts import mart_capaian_spm, mart_terlayani_bulanan, work_capaian_provinsi
from spm.warehouse.tables_opd import fact_input_penerima, mart_indeks_spm
from spm.warehouse.wilayah import kab_kota_of
from spm.reference import is_provinsi

log = logging.getLogger(__name__)
SOURCE, ENTITY = "spm", "mart_capaian_spm"


def provinsi_of(kode_kab_kota: str) -> str:
    return kode_kab_kota.split(".")[0]


def provinces_of(kode_kab_kota: list[str]) -> list[str]:
    """The provinces of the given kab/kota, once each, in code order."""
    return sorted({provinsi_of(k) for k in kode_kab_kota})


def _covered(conn: sa.Connection, kode_provinsi: str, tahun: int, triwulan: int) -> dict[str, list[str]]:
    """kode_layanan -> the province's kab/kota with a kab/kota row of it for the quarter."""
    m = mart_capaian_spm.c
    covered: dict[str, list[str]] = {}
    for kode_layanan, kode in conn.execute(sa.select(m.kode_layanan, m.kode_wilayah).where(
            m.tingkat_wilayah == "kabupaten_kota", m.jenis_kelamin == "semua", m.tahun == tahun,
            m.triwulan == triwulan, m.kode_wilayah.like(f"{kode_provinsi}.%")).order_by(m.kode_wilayah)):
        covered.setdefault(kode_layanan, []).append(kode)
    return covered


def _lineage(conn: sa.Connection, kode_provinsi: str, tahun: int, triwulan: int) -> str:
    """The kab/kota computations the row is built from and every source batch they used."""
    m = mart_capaian_spm.c
    ids: set[int] = set()
    for batch_ids, batch_id in conn.execute(sa.select(m.batch_ids, m.batch_id).distinct().where(
            m.tingkat_wilayah == "kabupaten_kota", m.tahun == tahun, m.triwulan == triwulan,
            m.kode_wilayah.like(f"{kode_provinsi}.%"))):
        ids.add(batch_id)
        ids.update(int(b) for b in (batch_ids or "").split(",") if b)
    return ",".join(str(b) for b in sorted(ids))


def _kab_of(column):
    """The kab/kota code (`32.71`) of a desa code column (`32.71.01.1001`)."""
    return sa.func.substr(column, 1, 5)


def _insert_distinct(conn: sa.Connection, literals: list, persons: sa.Select, split_by_sex: bool) -> None:
    """work_capaian_provinsi rows of one jenis layanan from (person_key, jenis_kelamin) rows: the
    distinct persons per sex (when the layanan is split by sex) and over both (semua)."""
    base = persons.subquery()
    counted = sa.func.count(sa.distinct(base.c.person_key))
    selects = [sa.select(*literals, sa.literal("semua", sa.String), counted)]
    if split_by_sex:
        selects.append(sa.select(*literals, base.c.jenis_kelamin, counted).group_by(base.c.jenis_kelamin))
    w = work_capaian_provinsi.c
    conn.execute(sa.insert(work_capaian_provinsi).from_select(
        [w.batch_id, w.kode_provinsi, w.tahun, w.triwulan, w.kode_layanan, w.jenis_kelamin, w.terlayani],
        sa.union_all(*selects)))


def _learner_correction(conn: sa.Connection, batch_id: int, kode_provinsi: str, layanan, kabs: list[str],
                        tahun: int, triwulan: int) -> None:
    """A sasaran net of the formal learners (pend_kesetaraan): each kab/kota subtracted, per desa and
    sex, the distinct learners living there, so one listed in two kab/kota was subtracted twice;
    the province subtracts the distinct learners once (work_capaian_provinsi.sasaran_koreksi)."""
    rule = layanan.sasaran
    pd = fact_peserta_didik.c
    formal = {"umur": rule["umur"], "status": ["aktif"], "bentuk_pendidikan": rule["bentuk_formal"]}
    where = [*learner_conditions(formal, dapodik_semester(tahun, triwulan), tahun), _kab_of(pd.kode_desa_tinggal).in_(kabs)]
    cells = sa.select(pd.person_key, pd.kode_desa_tinggal, pd.jenis_kelamin).where(*where).distinct().subquery()
    subtracted = dict(conn.execute(sa.select(cells.c.jenis_kelamin, sa.func.count()).group_by(cells.c.jenis_kelamin)).all())
    once = dict(conn.execute(sa.select(pd.jenis_kelamin, sa.func.count(sa.distinct(pd.person_key))).where(*where)
                             .group_by(pd.jenis_kelamin)).all())
    once_all = conn.execute(sa.select(sa.func.count(sa.distinct(pd.person_key))).where(*where)).scalar_one()
    koreksi = {sex: float(subtracted.get(sex, 0) - once.get(sex, 0)) for sex in ("L", "P")}
    koreksi["semua"] = float(sum(subtracted.values()) - once_all)
    w, kode_layanan = work_capaian_provinsi.c, layanan.kode
    for sex, value in koreksi.items():
        if not value:
            continue
        done = conn.execute(sa.update(work_capaian_provinsi).where(
            w.batch_id == batch_id, w.kode_layanan == kode_layanan, w.jenis_kelamin == sex)
            .values(sasaran_koreksi=value)).rowcount
        if not done:  # nobody served of that sex: a row for the correction alone
            conn.execute(sa.insert(work_capaian_provinsi).values(
                batch_id=batch_id, kode_provinsi=kode_provinsi, tahun=tahun, triwulan=triwulan,
                kode_layanan=kode_layanan, jenis_kelamin=sex, terlayani=0, sasaran_koreksi=value))


# Per computation (one transaction): every person of the covered kab/kota who met a health
# standard in the year, per jenis layanan, with the date: the year-to-date counts and the months are
# read from it, so each rule's query runs once. Temporary: private to the transaction.
_TEMP = sa.MetaData()
tercapai = sa.Table(
    "tmp_tercapai_provinsi", _TEMP,
    sa.Column("kode_layanan", sa.String(32), nullable=False),
    sa.Column("person_key", sa.String(64), nullable=False),
    sa.Column("jenis_kelamin", sa.String(1), nullable=False),
    sa.Column("tanggal_tercapai", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_tmp_tercapai_provinsi_layanan", "kode_layanan"),
    prefixes=["TEMPORARY"],
)


def _drop_tercapai(conn: sa.Connection) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {tercapai.name}")  # SQLite keeps it for the connection's life


def _penerima(conn: sa.Connection, kode_provinsi: str, tahun: int, triwulan: int) -> list:
    """The penerima the province's OPD entered for the quarter (its own `sumber: opd` layanan)."""
    f = fact_input_penerima.c
    return conn.execute(sa.select(fact_input_penerima).where(
        f.kode_kab_kota == kode_provinsi, f.tahun == tahun, f.triwulan == triwulan)
        .order_by(f.kode_layanan)).all()


def _penerima_terakhir(conn: sa.Connection, kode_provinsi: str, tahun: int) -> list:
    """Per OPD-entered layanan, the year's latest workbook: its months are what the OPD knows now
    (like the health months, which come from every record of the year), so recomputing an earlier
    quarter never drops the later months."""
    f = fact_input_penerima.c
    latest = sa.select(f.kode_layanan, sa.func.max(f.triwulan).label("triwulan")).where(
        f.kode_kab_kota == kode_provinsi, f.tahun == tahun).group_by(f.kode_layanan).subquery()
    return conn.execute(sa.select(fact_input_penerima).join(latest, sa.and_(
        latest.c.kode_layanan == f.kode_layanan, latest.c.triwulan == f.triwulan)).where(
        f.kode_kab_kota == kode_provinsi, f.tahun == tahun).order_by(f.kode_layanan)).all()


def _monthly(conn: sa.Connection, batch_id: int, kode_provinsi: str, tahun: int,
             health: dict[str, bool], penerima: list) -> None:
    """mart_terlayani_bulanan of the province: each person in the month the standard was first met;
    for the OPD-entered layanan, the persons the OPD reported first served in each month."""
    from spm.indicators.kesehatan import month_of

    t, met = mart_terlayani_bulanan.c, tercapai.c
    # Only the layanan rebuilt here: a computation without health data keeps the health months.
    rebuilt = [*health, *(r.kode_layanan for r in penerima)]
    conn.execute(sa.delete(mart_terlayani_bulanan).where(
        t.kode_kab_kota == kode_provinsi, t.tahun == tahun, t.kode_layanan.in_(rebuilt)))
    rows = [{"tahun": tahun, "bulan": m, "kode_wilayah": kode_provinsi, "jenis_kelamin": "semua",
             "kode_layanan": r.kode_layanan, "tingkat_wilayah": "provinsi", "kode_kab_kota": kode_provinsi,
             "terlayani_baru": getattr(r, f"terlayani_{m:02d}"), "batch_id": batch_id}
            for r in penerima for m in range(1, 13) if getattr(r, f"terlayani_{m:02d}") is not None]
    if rows:
        conn.execute(sa.insert(mart_terlayani_bulanan), rows)
    for kode_layanan, split_by_sex in health.items():
        bulan = month_of(conn.dialect.name, met.tanggal_tercapai)
        fixed = [sa.literal(tahun, sa.Integer), bulan, sa.literal(kode_provinsi, sa.String)]
        tail = [sa.literal(kode_layanan, sa.String), sa.literal("provinsi", sa.String),
                sa.literal(kode_provinsi, sa.String), sa.func.count(sa.distinct(met.person_key)),
                sa.literal(batch_id, sa.Integer)]
        where = met.kode_layanan == kode_layanan
        selects = [sa.select(*fixed, sa.literal("semua", sa.String), *tail).where(where).group_by(bulan)]
        if split_by_sex:
            selects.append(sa.select(*fixed, met.jenis_kelamin, *tail).where(where)
                           .group_by(bulan, met.jenis_kelamin))
        conn.execute(sa.insert(mart_terlayani_bulanan).from_select(
            [t.tahun, t.bulan, t.kode_wilayah, t.jenis_kelamin, t.kode_layanan, t.tingkat_wilayah,
             t.kode_kab_kota, t.terlayani_baru, t.batch_id], sa.union_all(*selects)))


def compute_capaian_provinsi(engine: sa.Engine, kode_provinsi: str, tahun: int, triwulan: int,
                             run_id: str | None) -> dict[str, Any]:
    """Rebuild the province's rows of mart_capaian_spm (and its months in mart_terlayani_bulanan)
    for one quarter, in one transaction, from its kab/kota computed for that quarter."""
    if not is_provinsi(kode_provinsi):
        raise ConfigError(f"kode provinsi must be two digits (e.g. 32), not {kode_provinsi!r}")
    if triwulan not in (1, 2, 3, 4):
        raise ConfigError(f"triwulan must be 1-4, not {triwulan!r}")
    periode = periode_label(tahun, triwulan)
    return persetujuan.unless_locked(engine, SOURCE, ENTITY, periode, run_id, lambda: _compute_capaian_provinsi(
        engine, kode_provinsi, periode, tahun, triwulan, run_id), kode_key="kode_provinsi")


def _compute_capaian_provinsi(engine: sa.Engine, kode_provinsi: str, periode: str, tahun: int, triwulan: int,
                              run_id: str | None) -> dict[str, Any]:
    with engine.begin() as conn:
        before = persetujuan.locked_figures(conn, kode_provinsi, tahun, triwulan)  # checked by guard() before commit
        kab_kota = kab_kota_of(conn, kode_provinsi, quarter_end(tahun, triwulan))
        if not kab_kota:
            raise ConfigError(f"{kode_provinsi} is no provinsi with kab/kota in dim_wilayah: load the region "
                              "codes (DAG spm_muat_wilayah or `spm wilayah load`)")
        batch_id = start_batch(conn, SOURCE, ENTITY, kode_provinsi, periode, run_id)
        own = province_own_rows(conn, batch_id, kode_provinsi, kab_kota, tahun, triwulan)
        covered = _covered(conn, kode_provinsi, tahun, triwulan)
        penerima = _penerima(conn, kode_provinsi, tahun, triwulan)
        if not covered and not penerima:
            msg = (f"no kab/kota of provinsi {kode_provinsi} has capaian for {periode} and its OPD entered no "
                   "penerima: no provinsi row")
            x = mart_indeks_spm.c  # an index of figures no longer there would outlive them
            conn.execute(sa.delete(mart_indeks_spm).where(
                x.kode_kab_kota == kode_provinsi, x.tahun == tahun, x.triwulan == triwulan))
            persetujuan.guard(conn, kode_provinsi, tahun, triwulan, before)
            finish_batch(conn, batch_id, BatchStatus.MISSING, message=msg)
            return {"kode_provinsi": kode_provinsi, "periode": periode, "batch_id": batch_id,
                    "status": BatchStatus.MISSING, "message": msg}
        w = work_capaian_provinsi.c
        conn.execute(sa.delete(work_capaian_provinsi).where(
            w.kode_provinsi == kode_provinsi, w.tahun == tahun, w.triwulan == triwulan))
        persons, health = None, {}
        for layanan in load_catalog(None):  # the kab/kota SPM and the province's own
            kabs = covered.get(layanan.kode)
            if not kabs:
                continue
            literals = [sa.literal(batch_id, sa.Integer), sa.literal(kode_provinsi, sa.String),
                        sa.literal(tahun, sa.Integer), sa.literal(triwulan, sa.Integer),
                        sa.literal(layanan.kode, sa.String)]
            if layanan.sumber == "dapodik":
                pd = fact_peserta_didik.c
                served = sa.select(pd.person_key, pd.jenis_kelamin).where(
                    *learner_conditions(layanan.terlayani, dapodik_semester(tahun, triwulan), tahun),
                    _kab_of(pd.kode_desa_tinggal).in_(kabs))
            else:
                from spm.indicators import kesehatan

                if persons is None:  # every resident of the province, once for all health layanan
                    persons = kesehatan.fill_persons(conn, kode_provinsi, fhir_statuses())
                    _drop_tercapai(conn)
                    tercapai.create(conn)
                met = kesehatan.met_dates(conn.dialect.name, layanan.kode, layanan.terlayani, persons,
                                          tahun).subquery()
                conn.execute(sa.insert(tercapai).from_select(
                    ["kode_layanan", "person_key", "jenis_kelamin", "tanggal_tercapai"],
                    sa.select(sa.literal(layanan.kode, sa.String), met.c.person_key, met.c.jenis_kelamin,
                              met.c.tanggal_tercapai).where(_kab_of(met.c.kode_desa).in_(kabs))))
                t = tercapai.c
                served = sa.select(t.person_key, t.jenis_kelamin).where(
                    t.kode_layanan == layanan.kode,
                    t.tanggal_tercapai < kesehatan.quarter_end_exclusive(tahun, triwulan))
                health[layanan.kode] = layanan.pembagian_jenis_kelamin
            _insert_distinct(conn, literals, served, layanan.pembagian_jenis_kelamin)
            if layanan.sasaran["jenis"] == "penduduk_tidak_sekolah_formal":
                _learner_correction(conn, batch_id, kode_provinsi, layanan, kabs, tahun, triwulan)
        run_sql_file(conn, "marts/mart_capaian_spm_provinsi.sql", {
            "kode_provinsi": kode_provinsi, "awalan_kab_kota": f"{kode_provinsi}.%", "tahun": tahun,
            "triwulan": triwulan, "batch_id": batch_id, "kab_kota_total": len(kab_kota),
            "batch_ids": _lineage(conn, kode_provinsi, tahun, triwulan)})
        run_sql_file(conn, "marts/mart_capaian_spm_input_opd.sql", {
            "kode_provinsi": kode_provinsi, "tahun": tahun, "triwulan": triwulan, "batch_id": batch_id,
            "kab_kota_total": len(kab_kota)})
        if health or penerima:
            _monthly(conn, batch_id, kode_provinsi, tahun, health, _penerima_terakhir(conn, kode_provinsi, tahun))
        if persons is not None:
            from spm.indicators.kesehatan import clear_persons

            clear_persons(conn)
            _drop_tercapai(conn)
        m = mart_capaian_spm.c
        rows = conn.execute(sa.select(sa.func.count()).select_from(mart_capaian_spm).where(
            m.batch_id == batch_id)).scalar_one()
        persetujuan.guard(conn, kode_provinsi, tahun, triwulan, before)
        flagged = flag_jumps(conn, batch_id, kode_provinsi, tahun, triwulan)
        loaded = sorted({k for kabs in covered.values() for k in kabs})
        notes = [f"{len(covered)} jenis layanan over {len(loaded)} of {len(kab_kota)} kab/kota ({', '.join(loaded)})",
                 "the province's own: " + (", ".join(own["computed"]) or "none (no population and Dapodik data)"),
                 "entered by its OPD: " + (", ".join(r.kode_layanan for r in penerima) or "none (no penerima sheet "
                                           "published for the quarter)")]
        if len(own["semester_penduduk"]) > 1:
            notes.append(f"population semesters differ between kab/kota: {', '.join(own['semester_penduduk'])}")
        partial = sorted(k for k, kabs in covered.items() if len(kabs) < len(kab_kota))
        if partial:
            notes.append(f"part of the province only: {', '.join(partial)}")
        if flagged:
            notes.append(f"capaian jump flagged for {', '.join(flagged)}")
        finish_batch(conn, batch_id, BatchStatus.PUBLISHED, rows_received=rows, rows_published=rows,
                     message="; ".join(notes))
    log.info("capaian provinsi %s %s: %s", kode_provinsi, periode, "; ".join(notes))
    return {"kode_provinsi": kode_provinsi, "periode": periode, "batch_id": batch_id,
            "status": BatchStatus.PUBLISHED, "rows_published": rows,
            "computed": sorted({*covered, *(r.kode_layanan for r in penerima)}),
            "kab_kota_dimuat": loaded, "kab_kota_total": len(kab_kota), "own": own["computed"], "flagged": flagged}
