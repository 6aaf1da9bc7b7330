"""Late-arriving patients and who a health window's publication concerns (DESIGN §5, issue 16).

A FHIR Encounter, Observation or Condition names its patient (`subject` Patient/<id>, resolved in the
same hub). A hub may send a resource before its patient, or a warehouse may start loading after the
patient was sent: such a resource is valid data. It is published like any other, it counts as soon
as its patient is loaded (the indicators join patients when they compute; nothing is rerun), and
until then it is listed in `rujukan_pasien_tertunda` with the time it was first published so. Every
published batch reports in dq_result (`rujukan_pasien_tertunda`) how many of the hub's resources of
its type are waiting and the age of the oldest; past `kesehatan.batas_umur_rujukan_hari` the check
fails (a warning: the batch is published) and the alert scan tells the hub's owner.

`affected` says which kab/kota (where the patients live: any hub may serve a resident) and which
service years a window's publication may change, so that only those capaian are recomputed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError
from spm.warehouse.tables import (
    dq_result, fact_kondisi, fact_kunjungan, fact_observasi, fact_pasien, rujukan_pasien_tertunda,
    staging_kondisi, staging_kunjungan, staging_observasi, staging_pasien,
)
from spm.warehouse.audit import aware

EXPECTATION = "rujukan_pasien_tertunda"
# entity -> (staging, fact, resource id column, service date column, GX suite)
CLINICAL = {
    "kunjungan": (staging_kunjungan, fact_kunjungan, "kunjungan_id", "tanggal_mulai", "satusehat_kunjungan"),
    "observasi": (staging_observasi, fact_observasi, "observasi_id", "tanggal_efektif", "satusehat_observasi"),
    "kondisi": (staging_kondisi, fact_kondisi, "kondisi_id", "tanggal_onset", "satusehat_kondisi"),
}


def age_limit_days() -> float:
    value = (load_yaml("kualitas.yaml").get("kesehatan") or {}).get("batas_umur_rujukan_hari")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError("kualitas.yaml: kesehatan.batas_umur_rujukan_hari (days a resource may wait for its "
                          f"patient before the owner is alerted) must be a positive number, not {value!r}")
    return float(value)


def _patient_known(hub_column, pasien_column):
    p = fact_pasien.c
    return sa.exists().where(p.kode_kab_kota == hub_column, p.pasien_id == pasien_column)


def update_pending(conn: sa.Connection, hub: str, batch_ids: dict[str, int], published_at: datetime) -> None:
    """After the window's merges: list its resources whose patient is missing, and strike those whose
    patient is now loaded (the window's own patients, or a reference the window changed).

    Every statement is driven by the small side: the waiting list (few rows) probes the window's
    staging through its (batch_id, id) index, and the window's rows probe the patients' primary key
    before any fact row is read (random probes into a large fact table were most of a backfill's
    publish time)."""
    t = rujukan_pasien_tertunda
    sp = staging_pasien.c
    window_patient = sa.exists().where(sp.batch_id == batch_ids["pasien"], sp.pasien_id == t.c.pasien_id,
                                       sp.lolos.is_(True))
    for entity, (staging, fact, id_col, _, _) in CLINICAL.items():
        s, f = staging.c, fact.c
        in_window = sa.exists().where(s.batch_id == batch_ids[entity], s[id_col] == t.c.resource_id, s.lolos.is_(True))
        # A newer version may name another patient: follow the published row.
        conn.execute(sa.update(t).where(t.c.kode_kab_kota == hub, t.c.entitas == entity, in_window)
                     .values(pasien_id=sa.select(f.pasien_id).where(f.kode_kab_kota == hub, f[id_col] == t.c.resource_id)
                             .scalar_subquery()))
        conn.execute(sa.delete(t).where(
            t.c.kode_kab_kota == hub, t.c.entitas == entity, sa.or_(window_patient, in_window),
            _patient_known(t.c.kode_kab_kota, t.c.pasien_id)))
        # The window's rows whose own patient is unknown, then their published version's patient
        # (a newer version published before may name another one).
        pending = sa.select(
            sa.literal(hub, sa.String), sa.literal(entity, sa.String), f[id_col], f.pasien_id,
            sa.literal(batch_ids[entity], sa.Integer), sa.literal(published_at, sa.DateTime(timezone=True)),
        ).select_from(staging).join(fact, sa.and_(f.kode_kab_kota == hub, f[id_col] == s[id_col])).where(
            s.batch_id == batch_ids[entity], s.lolos.is_(True), ~_patient_known(sa.literal(hub), s.pasien_id),
            ~_patient_known(f.kode_kab_kota, f.pasien_id),
            ~sa.exists().where(t.c.kode_kab_kota == hub, t.c.entitas == entity, t.c.resource_id == f[id_col]))
        conn.execute(sa.insert(t).from_select(
            ["kode_kab_kota", "entitas", "resource_id", "pasien_id", "batch_id", "sejak"], pending))


def pending_summary(conn: sa.Connection, hub: str | None = None) -> list[dict[str, Any]]:
    """Per hub and type: resources waiting for their patient and since when the oldest waits."""
    t = rujukan_pasien_tertunda.c
    q = sa.select(t.kode_kab_kota, t.entitas, sa.func.count(), sa.func.min(t.sejak)) \
        .group_by(t.kode_kab_kota, t.entitas).order_by(t.kode_kab_kota, t.entitas)
    if hub is not None:
        q = q.where(t.kode_kab_kota == hub)
    return [{"kode_kab_kota": k, "entitas": e, "jumlah": n, "sejak": _aware(m)} for k, e, n, m in conn.execute(q)]


_aware = aware  # the warehouse's one reading of stored timestamps


def report(conn: sa.Connection, hub: str, batch_ids: dict[str, int], checked_at: datetime,
           limit_days: float) -> dict[str, dict[str, Any]]:
    """One dq_result row per clinical batch: the hub's resources of its type still waiting for their
    patient, and the oldest one's age against the limit. Returns them per entity."""
    waiting = {r["entitas"]: r for r in pending_summary(conn, hub)}
    out = {}
    for entity, (_, _, _, _, suite) in CLINICAL.items():
        r = waiting.get(entity)
        count = r["jumlah"] if r else 0
        age = (checked_at - r["sejak"]).total_seconds() / 86_400 if r else 0.0
        ok = age <= limit_days
        observed = {"tertunda": count, "umur_maks_hari": round(age, 2), "batas_hari": limit_days}
        conn.execute(sa.insert(dq_result).values(
            batch_id=batch_ids[entity], suite=suite, expectation=EXPECTATION, kolom="pasien_id", severity="warning",
            success=ok, element_count=None, unexpected_count=count, unexpected_percent=None,
            observed_value=json.dumps(observed), details=None, checked_at=checked_at))
        out[entity] = observed
    return out


def affected(conn: sa.Connection, hub: str, batch_ids: dict[str, int]) -> dict[str, set[int]]:
    """kab/kota of residence -> service years that the window's rows may change, as the warehouse
    stands now (run before and after the merge: before finds the old residence of a patient who
    moved, after the new one). A deliberate over-approximation: every kab/kota where a person the
    window concerns lives (the village of any of their Patient records, in any hub) × every year
    of the window's services and of the published services of its patients and of the patients of
    its conditions (a patient arriving late, moving or getting a diagnosis changes figures of
    earlier services; a condition counts with the year's events, whatever its onset)."""
    rekam = fact_pasien.alias("rekam")
    p, rec = fact_pasien.c, rekam.c
    sp = staging_pasien.c
    window = [(staging_pasien, "pasien")] + [(staging, entity) for entity, (staging, *_) in CLINICAL.items()]
    # kab/kota of residence: each kab/kota with a patient record is asked whether a person the window
    # names has a record there, table by table, stopping at the first such person (a backfill names
    # every patient of the hub: one IN over all of them cost seconds).
    candidates = sorted(k for k in conn.execute(sa.select(sa.func.substr(p.kode_desa, 1, 5)).distinct()).scalars()
                        if k)
    kabs = set()
    for kab in candidates:
        for staging, entity in window:
            s = staging.c
            named = sa.select(sa.literal(1)).select_from(staging).join(
                fact_pasien, sa.and_(p.kode_kab_kota == hub, p.pasien_id == s.pasien_id)).join(
                rekam, rec.person_key == p.person_key).where(
                s.batch_id == batch_ids[entity], s.lolos.is_(True), sa.func.substr(rec.kode_desa, 1, 5) == kab).limit(1)
            if conn.execute(named).first() is not None:
                kabs.add(kab)
                break
    if not kabs:
        return {}
    referenced = [sa.select(sp.pasien_id).where(sp.batch_id == batch_ids["pasien"], sp.lolos.is_(True)),
                  sa.select(staging_kondisi.c.pasien_id).where(staging_kondisi.c.batch_id == batch_ids["kondisi"],
                                                               staging_kondisi.c.lolos.is_(True))]
    history = sa.union(*referenced)  # the window's patients, its conditions' patients
    history_persons = sa.select(p.person_key).where(p.kode_kab_kota == hub, p.pasien_id.in_(history))
    years: set[int] = set()
    for entity, (staging, fact, _, date_col, _) in CLINICAL.items():
        if entity == "kondisi":
            continue  # a condition counts with its patient's services of a year, not in its onset year
        s = staging.c
        years.update(int(y) for y in conn.execute(sa.select(sa.extract("year", s[date_col])).distinct().where(
            s.batch_id == batch_ids[entity], s.lolos.is_(True), s[date_col].is_not(None))).scalars() if y is not None)
    for entity, (_, fact, _, date_col, _) in CLINICAL.items():
        if entity == "kondisi" or _published_years(conn, fact, date_col) <= years:
            continue  # nothing published outside the years already named: no need to look
        f = fact.c
        q = sa.select(sa.extract("year", f[date_col])).distinct().select_from(fact).join(
            rekam, sa.and_(rec.kode_kab_kota == f.kode_kab_kota, rec.pasien_id == f.pasien_id)).where(
            rec.person_key.in_(history_persons))
        years.update(int(y) for y in conn.execute(q).scalars() if y is not None)
    return {k: set(years) for k in kabs}


def _published_years(conn: sa.Connection, fact: sa.Table, date_col: str) -> set[int]:
    """Every year from the earliest to the latest published service of each hub (its (kab/kota,
    date) index answers this without reading the rows; the years are read as in `affected`)."""
    f = fact.c
    spans = sa.select(sa.func.min(f[date_col]).label("first"), sa.func.max(f[date_col]).label("last")) \
        .group_by(f.kode_kab_kota).subquery()
    out: set[int] = set()
    for first, last in conn.execute(sa.select(sa.extract("year", spans.c.first), sa.extract("year", spans.c.last))):
        if first is not None and last is not None:
            out.update(range(int(first), int(last) + 1))
    return out


def merge_affected(*parts: dict[str, set[int]]) -> list[dict[str, Any]]:
    """Event partitions: [{"kode_kab_kota", "tahun_layanan"}], one per kab/kota."""
    merged: dict[str, set[int]] = {}
    for part in parts:
        for kode, years in part.items():
            merged.setdefault(kode, set()).update(years)
    return [{"kode_kab_kota": k, "tahun_layanan": sorted(v)} for k, v in sorted(merged.items())]
