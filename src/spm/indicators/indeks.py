"""mart_indeks_spm: the SPM index per jenis layanan, bidang and daerah (DESIGN §5, §7).

For a kab/kota and quarter, inside the warehouse and in one transaction:

- per jenis layanan of the catalog (dim_layanan): `capaian_penerima` = `capaian_dibatasi` of the
  kab/kota `semua` row of mart_capaian_spm (so a capaian above 100 counts as 100); `mutu` from the OPD
  input (fact_input_mutu) = Σ min(jumlah_tersedia, jumlah_dibutuhkan) ÷ Σ jumlah_dibutuhkan × 100 over
  the items of the jenis layanan: each item counts at most as fully met, so a surplus of one item
  (more books than needed) cannot hide the shortfall of another (missing midwives), and mutu never
  exceeds 100; `nilai` = bobot.capaian_penerima × capaian_penerima + bobot.mutu × mutu
  (config/indeks_spm.yaml; default 0.8 / 0.2);
- per bidang: the mean of its jenis layanan; for the daerah (bidang `semua`): the mean over every jenis
  layanan (or over the bidang values, by configuration);
- `label` from the configured thresholds (nilai ≥ minimal, highest first).

Nothing missing is ever replaced by 0 or 100: a jenis layanan without a capaian (not computed for the
quarter, or sasaran 0) or without OPD input for the quarter keeps NULL in the affected figures, and
`keterangan` says why. A bidang or daerah figure is NULL when any of its members is NULL, and its
keterangan names those members: a mean over part of the services would pass for the whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError
from spm.indicators.capaian import periode_label
from spm.warehouse.audit import finish_batch, start_batch
from spm.warehouse.tables import dim_layanan
from spm.warehouse.tables_marts import mart_capaian_spm
from spm.warehouse.tables_opd import fact_input_mutu, mart_indeks_spm

log = logging.getLogger(__name__)
SOURCE, ENTITY = "spm", "mart_indeks_spm"
CONFIG_FILE = "indeks_spm.yaml"
AGREGASI_DAERAH = ("rata_rata_layanan", "rata_rata_bidang")
# 0.8 × c + 0.2 × m in floating point may land a hair below an exact edge (70 → 69.99999999999999);
# such a nilai still reaches the label of the edge.
TOLERANSI = 1e-9
URUTAN_BIDANG, URUTAN_DAERAH = 1000, 9999


@dataclass(frozen=True)
class IndeksConfig:
    bobot_penerima: float
    bobot_mutu: float
    agregasi_daerah: str
    label: tuple[tuple[str, float], ...]  # (label, minimal), highest minimal first
    versi: int


def load_config() -> IndeksConfig:
    data = load_yaml(CONFIG_FILE)
    try:
        bobot, agregasi, labels = data["bobot"], data["agregasi"], data["label"]
        w_penerima, w_mutu = float(bobot["capaian_penerima"]), float(bobot["mutu"])
        pairs = tuple((str(item["label"]), float(item["minimal"])) for item in labels)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{CONFIG_FILE}: needs bobot.capaian_penerima, bobot.mutu, agregasi and a label list "
                          f"of {{label, minimal}} ({exc})") from None
    if min(w_penerima, w_mutu) < 0 or abs(w_penerima + w_mutu - 1.0) > 1e-9:
        raise ConfigError(f"{CONFIG_FILE}: bobot must be >= 0 and add up to 1 (got {w_penerima} + {w_mutu})")
    if agregasi.get("bidang") != "rata_rata_layanan":
        raise ConfigError(f"{CONFIG_FILE}: agregasi.bidang must be rata_rata_layanan")
    if agregasi.get("daerah") not in AGREGASI_DAERAH:
        raise ConfigError(f"{CONFIG_FILE}: agregasi.daerah must be one of {', '.join(AGREGASI_DAERAH)}")
    minima = [m for _, m in pairs]
    if not pairs or minima != sorted(minima, reverse=True) or len(set(minima)) != len(minima) or minima[-1] != 0:
        raise ConfigError(f"{CONFIG_FILE}: labels must go from the highest minimal down to a last one with minimal 0")
    return IndeksConfig(w_penerima, w_mutu, agregasi["daerah"], pairs, int(data.get("versi", 0)))


def label_for(nilai: float | None, config: IndeksConfig | None = None) -> str | None:
    """The label of a nilai (the same rule the mart applies in SQL); None for a missing nilai."""
    if nilai is None:
        return None
    config = config or load_config()
    return next(label for label, minimal in config.label if nilai >= minimal - TOLERANSI)


def _label_case(column, config: IndeksConfig):
    *ranked, (last, _) = config.label
    return sa.case(*((column >= sa.literal(minimal - TOLERANSI, sa.Float), sa.literal(label))
                     for label, minimal in ranked), else_=sa.case((column.is_not(None), sa.literal(last))))


def mutu_select(kode: str, tahun: int, triwulan: int) -> sa.Select:
    """Per jenis layanan with OPD input for the quarter: items met (capped per item), needed, mutu %."""
    f = fact_input_mutu.c
    terpenuhi = sa.func.sum(sa.case((f.jumlah_tersedia < f.jumlah_dibutuhkan, f.jumlah_tersedia),
                                    else_=f.jumlah_dibutuhkan))
    dibutuhkan = sa.func.sum(f.jumlah_dibutuhkan)
    mutu = sa.case((dibutuhkan > 0, sa.cast(terpenuhi * 100, sa.Float) / sa.cast(dibutuhkan, sa.Float)))
    return (sa.select(f.kode_layanan, f.bidang, terpenuhi.label("terpenuhi"), dibutuhkan.label("dibutuhkan"),
                      sa.func.count().label("jumlah_item"), sa.func.max(f.batch_id).label("batch_id"),
                      mutu.label("mutu"))
            .where(f.kode_kab_kota == kode, f.tahun == tahun, f.triwulan == triwulan)
            .group_by(f.kode_layanan, f.bidang))


def mutu_per_layanan(engine: sa.Engine, kode: str, tahun: int, triwulan: int) -> dict[str, float | None]:
    """mutu % per jenis layanan from the published OPD input (NULL where nothing is needed)."""
    with engine.connect() as conn:
        return {r.kode_layanan: r.mutu for r in conn.execute(mutu_select(kode, tahun, triwulan))}


def _lineage(conn: sa.Connection, kode: str, tahun: int, triwulan: int) -> str:
    m, f = mart_capaian_spm.c, fact_input_mutu.c
    ids: set[int] = set(conn.execute(sa.select(m.batch_id).distinct().where(
        m.kode_wilayah == kode, m.tahun == tahun, m.triwulan == triwulan)).scalars())
    ids.update(conn.execute(sa.select(f.batch_id).distinct().where(
        f.kode_kab_kota == kode, f.tahun == tahun, f.triwulan == triwulan)).scalars())
    return ",".join(str(b) for b in sorted(ids))


def _common(batch_id: int, kode: str, tahun: int, triwulan: int, batch_ids: str) -> dict[str, Any]:
    return {"tahun": sa.literal(tahun, sa.Integer), "triwulan": sa.literal(triwulan, sa.Integer),
            "kode_wilayah": sa.literal(kode, sa.String), "kode_kab_kota": sa.literal(kode, sa.String),
            "batch_ids": sa.literal(batch_ids, sa.Text), "batch_id": sa.literal(batch_id, sa.Integer)}


def _insert(conn: sa.Connection, columns: dict[str, Any], source: sa.Select) -> None:
    select = source.with_only_columns(*(expr.label(name) for name, expr in columns.items()),
                                      maintain_column_froms=True)
    conn.execute(sa.insert(mart_indeks_spm).from_select(list(columns), select))


def _insert_layanan(conn, config: IndeksConfig, common: dict, kode: str, tahun: int, triwulan: int) -> None:
    m, l = mart_capaian_spm.c, dim_layanan.c
    periode = periode_label(tahun, triwulan)
    cap = sa.select(m.kode_layanan, m.capaian_dibatasi).where(
        m.kode_wilayah == kode, m.jenis_kelamin == "semua", m.tahun == tahun, m.triwulan == triwulan).subquery("cap")
    mt = mutu_select(kode, tahun, triwulan).subquery("mt")
    f = fact_input_mutu.c
    opd = sa.select(f.bidang).distinct().where(
        f.kode_kab_kota == kode, f.tahun == tahun, f.triwulan == triwulan).subquery("opd")
    capaian, mutu = cap.c.capaian_dibatasi, mt.c.mutu
    nilai = sa.case((sa.and_(capaian.is_not(None), mutu.is_not(None)),
                     sa.literal(config.bobot_penerima, sa.Float) * capaian
                     + sa.literal(config.bobot_mutu, sa.Float) * mutu))
    sebab_capaian = sa.case(
        (cap.c.kode_layanan.is_(None),
         sa.literal(f"capaian penerima not computed for {kode} {periode} (no row in mart_capaian_spm)")),
        (capaian.is_(None), sa.literal("capaian penerima undefined: sasaran 0")))
    sebab_mutu = sa.case(
        (opd.c.bidang.is_(None), sa.literal("no OPD input (mutu) of bidang ") + l.bidang
         + sa.literal(f" for {kode} {periode}")),
        (mt.c.kode_layanan.is_(None),
         sa.literal("the OPD input of the quarter has no mutu item for this jenis layanan")),
        (mutu.is_(None), sa.literal("every mutu item of this jenis layanan has jumlah_dibutuhkan 0")))
    keterangan = sa.case(
        (sa.and_(sebab_capaian.is_not(None), sebab_mutu.is_not(None)), sebab_capaian + sa.literal("; ") + sebab_mutu),
        (sebab_capaian.is_not(None), sebab_capaian), else_=sebab_mutu)
    source = sa.select(l.kode_layanan).select_from(
        dim_layanan.outerjoin(cap, cap.c.kode_layanan == l.kode_layanan)
        .outerjoin(mt, mt.c.kode_layanan == l.kode_layanan)
        .outerjoin(opd, opd.c.bidang == l.bidang))
    _insert(conn, {**common, "bidang": l.bidang, "kode_layanan": l.kode_layanan,
                   "tingkat_indeks": sa.literal("layanan"), "capaian_penerima": capaian, "mutu": mutu,
                   "nilai": nilai, "keterangan": keterangan, "urutan": l.urutan}, source)


def _mean(column):
    # NULL unless every member has a value: COUNT(column) skips NULLs, COUNT(*) does not.
    return sa.case((sa.func.count(column) == sa.func.count(), sa.func.avg(column)))


def _insert_means(conn, config: IndeksConfig, common: dict, batch_id: int) -> None:
    x = mart_indeks_spm.c
    of_batch = sa.select(x.bidang).where(x.batch_id == batch_id)
    figures = {"capaian_penerima": _mean(x.capaian_penerima), "mutu": _mean(x.mutu), "nilai": _mean(x.nilai)}
    _insert(conn, {**common, "bidang": x.bidang, "kode_layanan": sa.null(), "tingkat_indeks": sa.literal("bidang"),
                   **figures, "urutan": sa.literal(URUTAN_BIDANG, sa.Integer) + sa.func.min(x.urutan)},
            of_batch.where(x.tingkat_indeks == "layanan").group_by(x.bidang))
    members = "layanan" if config.agregasi_daerah == "rata_rata_layanan" else "bidang"
    _insert(conn, {**common, "bidang": sa.literal("semua"), "kode_layanan": sa.null(),
                   "tingkat_indeks": sa.literal("daerah"), **figures,
                   "urutan": sa.literal(URUTAN_DAERAH, sa.Integer)},
            of_batch.where(x.tingkat_indeks == members))


def _explain_means(conn: sa.Connection, config: IndeksConfig, batch_id: int) -> None:
    """keterangan of bidang and daerah rows: which members lack which figure."""
    x = mart_indeks_spm.c
    rows = conn.execute(sa.select(x.tingkat_indeks, x.bidang, x.kode_layanan, x.capaian_penerima, x.mutu, x.nilai)
                        .where(x.batch_id == batch_id).order_by(x.urutan)).all()
    layanan = [r for r in rows if r.tingkat_indeks == "layanan"]
    bidang = [r for r in rows if r.tingkat_indeks == "bidang"]
    groups = {("bidang", b.bidang): [r for r in layanan if r.bidang == b.bidang] for b in bidang}
    if config.agregasi_daerah == "rata_rata_layanan":
        groups[("daerah", "semua")] = layanan
    else:
        groups[("daerah", "semua")] = bidang
    for (tingkat, name), members in groups.items():
        parts = []
        for figure in ("capaian_penerima", "mutu", "nilai"):
            lacking = [m.kode_layanan or f"bidang {m.bidang}" for m in members if getattr(m, figure) is None]
            if lacking:
                parts.append(f"{figure} NULL: no value for {', '.join(lacking)}")
        if not parts:
            continue
        text = "; ".join(parts) + f" (mean over {len(members)} members, NULL when any member is NULL; see their rows)"
        conn.execute(sa.update(mart_indeks_spm).where(
            x.batch_id == batch_id, x.tingkat_indeks == tingkat, x.bidang == name).values(keterangan=text))


def compute_indeks(engine: sa.Engine, kode: str, tahun: int, triwulan: int, run_id: str | None) -> dict[str, Any]:
    """Rebuild mart_indeks_spm for one kab/kota and quarter in one transaction (after compute_capaian)."""
    if triwulan not in (1, 2, 3, 4):
        raise ConfigError(f"triwulan must be 1-4, not {triwulan!r}")
    config = load_config()
    periode = periode_label(tahun, triwulan)
    x = mart_indeks_spm.c
    with engine.begin() as conn:
        if not conn.execute(sa.select(sa.func.count()).select_from(dim_layanan)).scalar_one():
            raise ConfigError("dim_layanan is empty: run `spm db upgrade`")
        batch_id = start_batch(conn, SOURCE, ENTITY, kode, periode, run_id)
        conn.execute(sa.delete(mart_indeks_spm).where(
            x.kode_kab_kota == kode, x.tahun == tahun, x.triwulan == triwulan))
        common = _common(batch_id, kode, tahun, triwulan, _lineage(conn, kode, tahun, triwulan))
        _insert_layanan(conn, config, common, kode, tahun, triwulan)
        _insert_means(conn, config, common, batch_id)
        conn.execute(sa.update(mart_indeks_spm).where(x.batch_id == batch_id)
                     .values(label=_label_case(x.nilai, config)))
        _explain_means(conn, config, batch_id)
        rows = conn.execute(sa.select(x.tingkat_indeks, x.kode_layanan, x.nilai, x.label)
                            .where(x.batch_id == batch_id).order_by(x.urutan)).all()
        daerah = next(r for r in rows if r.tingkat_indeks == "daerah")
        tanpa_nilai = [r.kode_layanan for r in rows if r.tingkat_indeks == "layanan" and r.nilai is None]
        n_layanan = sum(r.tingkat_indeks == "layanan" for r in rows)
        message = (f"{n_layanan - len(tanpa_nilai)} of {n_layanan} jenis layanan with nilai; daerah "
                   + (f"nilai {daerah.nilai:.2f} ({daerah.label})" if daerah.nilai is not None
                      else "nilai NULL (see keterangan)") + f"; indeks_spm.yaml versi {config.versi}")
        finish_batch(conn, batch_id, "published", rows_received=len(rows), rows_published=len(rows), message=message)
    log.info("indeks %s %s: %s", kode, periode, message)
    return {"kode_kab_kota": kode, "periode": periode, "batch_id": batch_id, "status": "published",
            "rows_published": len(rows), "nilai_daerah": daerah.nilai, "label_daerah": daerah.label,
            "tanpa_nilai": tanpa_nilai, "message": message}
