"""Validation of an education partition: the parameters of the two GX suites (the kab/kota's desa,
the known desa of the learners' domisili, the least share of valid NIK, the band the learner count
may move in from the previous semester, from kualitas.yaml `pendidikan`), both suites run, and the
partition failed whole when either batch is refused (the partition is one unit)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError
from spm.ingest.kependudukan import desa_codes
from spm.ingest.pendidikan_spec import PESERTA_DIDIK, SOURCE, SPECS, Partition, fail_both, previous_semester_id
from spm.ingest.wap import validate
from spm.warehouse.tables import dim_wilayah, etl_batch, staging_peserta_didik
from spm.warehouse.status import BatchStatus, REFUSED, SETTLED


def nik_valid_min() -> float:
    return _percent("nik_valid_min_persen", 100) / 100.0


def known_desa(engine: sa.Engine, batch_id: int) -> list[str]:
    """The current desa codes (anywhere in the country: a learner may live in another kab/kota) among
    the batch's domisili codes. Equivalent to checking against all ~84,000 codes, at a fraction of
    the cost of handing GX a value set that large."""
    t, w = staging_peserta_didik, dim_wilayah
    used = sa.select(t.c.kode_wilayah_domisili).where(t.c.batch_id == batch_id).distinct().subquery()
    with engine.connect() as conn:
        return list(conn.execute(
            sa.select(w.c.kode).join(used, used.c.kode_wilayah_domisili == w.c.kode)
            .where(w.c.tingkat == "desa_kelurahan", w.c.berlaku_sampai.is_(None)).order_by(w.c.kode)).scalars())


def validation_parameters(engine: sa.Engine, p: Partition, entity: str, batch_id: int) -> dict[str, Any]:
    params: dict[str, Any] = {"desa_kab_kota": desa_codes(engine, p.kode_kab_kota)}
    if entity == "peserta_didik":
        # GX refuses an empty value set; the kab/kota's desa are as good when no used code is known.
        params["desa_dikenal"] = known_desa(engine, batch_id) or params["desa_kab_kota"]
        params["nik_valid_min"] = nik_valid_min()
        previous = previous_learner_rows(engine, p)
        tolerance = _percent("toleransi_jumlah_semester_persen") / 100.0
        params["jumlah_min"], params["jumlah_max"] = (0, 10**12) if previous is None else (
            int(previous * (1 - tolerance)), int(previous * (1 + tolerance)) + 1)
    return params


def _percent(key: str, high: float = 1000) -> float:
    cfg = load_yaml("kualitas.yaml").get("pendidikan") or {}
    try:
        value = float(cfg[key])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"kualitas.yaml: pendidikan.{key} (a percentage) is missing or not a number") from None
    if not 0 <= value <= high:
        raise ConfigError(f"kualitas.yaml: pendidikan.{key} {value} is not between 0 and {high:g}")
    return value


def previous_learner_rows(engine: sa.Engine, p: Partition) -> int | None:
    """Learner rows received for the kab/kota's previous semester, as published, or None."""
    with engine.connect() as conn:
        return conn.execute(sa.select(etl_batch.c.rows_received).where(
            etl_batch.c.source == SOURCE, etl_batch.c.entity == PESERTA_DIDIK.entity,
            etl_batch.c.kode_wilayah == p.kode_kab_kota, etl_batch.c.periode == str(previous_semester_id(p.semester_id)),
            etl_batch.c.status.in_(SETTLED)).order_by(etl_batch.c.batch_id.desc()).limit(1)
        ).scalar_one_or_none()


def _quarantine_row(rec: dict) -> dict:
    # Staging holds no NIK, NISN or name; this drops anything such a column could ever add.
    return {k: v for k, v in rec.items() if k not in ("nik", "nisn", "nama", "tanggal_lahir", "peserta_didik_id")}


def validate_partition(engine: sa.Engine, extracted: dict[str, Any]) -> dict[str, Any]:
    """Run both suites; when either batch fails, the other is failed too (the partition is one unit)."""
    p = Partition.from_dict(extracted)
    out = dict(extracted)
    for name, spec in SPECS.items():
        staged = extracted[name]
        if staged["status"] != BatchStatus.STAGED:
            continue
        try:
            params = validation_parameters(engine, p, name, staged["batch_id"])
        except ConfigError as exc:
            fail_both(engine, extracted["sekolah"], extracted["peserta_didik"], str(exc))
            raise
        result = validate(engine, spec, staged["batch_id"], params,
                          row_data=_quarantine_row if name == "peserta_didik" else None)
        out[name] = {**result.to_dict(), "rows_received": staged["rows_received"]}
    bad = [name for name in SPECS if out[name]["status"] in REFUSED]
    if bad:
        fail_both(engine, out["sekolah"], out["peserta_didik"],
                  f"partition not published: {bad[0]} batch {out[bad[0]]['status']}: {out[bad[0]]['message']}")
        for name in SPECS:
            if out[name]["status"] == BatchStatus.VALIDATED:
                out[name] = {**out[name], "status": BatchStatus.FAILED}
    return out


def failed_message(result: dict[str, Any]) -> str | None:
    """One line naming what failed in a validated partition, or None."""
    for name in SPECS:
        r = result[name]
        if r["status"] in REFUSED and r.get("message"):
            return (f"{name} {result['kode_kab_kota']} semester {result['semester_id']}: {r['message']} "
                    f"(batch {r['batch_id']}, see `spm status`)")
    return None
