"""mart_indeks_spm: the SPM index per jenis layanan, bidang and daerah (DESIGN §5, §7).

For a kab/kota (or a province: the roll-up of the kab/kota SPM from its rows of mart_capaian_spm, mutu
rolled up over the OPD inputs of the kab/kota they cover; and apart from it, `tingkat_pemerintahan`
'provinsi', the index of the province's own SPM with mutu from its own Dinas' input) and quarter, inside the warehouse and in one transaction (the rows by
sql/marts/mart_indeks_spm.sql and sql/intermediate/int_mutu_layanan.sql; the label and the
keterangan of NULL means here, from the configuration):

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
from spm.reference import is_provinsi
from spm.settings import sql_dir
from spm.warehouse import persetujuan
from spm.warehouse.audit import finish_batch, start_batch
from spm.warehouse.sqlfiles import run_sql_file, statements
from spm.warehouse.tables import dim_layanan
from spm.warehouse.tables_marts import mart_capaian_spm
from spm.warehouse.tables_opd import fact_input_mutu, fact_input_penerima, mart_indeks_spm
from spm.warehouse.status import BatchStatus

log = logging.getLogger(__name__)
SOURCE, ENTITY = "spm", "mart_indeks_spm"
CONFIG_FILE = "indeks_spm.yaml"
AGREGASI_DAERAH = ("rata_rata_layanan", "rata_rata_bidang")
# 0.8 × c + 0.2 × m in floating point may land a hair below an exact edge (70 → 69.99999999999999);
# such a nilai still reaches the label of the edge.
TOLERANSI = 1e-9
MART_SQL, MUTU_SQL = "marts/mart_indeks_spm.sql", "intermediate/int_mutu_layanan.sql"
# A province's layanan rows roll up its kab/kota (DESIGN §7); the bidang and daerah means are shared.
MART_PROVINSI_SQL, MEANS_SQL = "marts/mart_indeks_spm_provinsi.sql", "marts/mart_indeks_spm_rerata.sql"



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


def mutu_per_layanan(engine: sa.Engine, kode: str, tahun: int, triwulan: int) -> dict[str, float | None]:
    """mutu % per jenis layanan from the published OPD input (NULL where nothing is needed), by the rule
    of sql/intermediate/int_mutu_layanan.sql (the one the mart uses)."""
    (query,) = statements(sql_dir() / MUTU_SQL)
    with engine.connect() as conn:
        return {r.kode_layanan: r.mutu for r in conn.execute(
            sa.text(query), {"kode_kab_kota": kode, "tahun": tahun, "triwulan": triwulan})}


def _lineage(conn: sa.Connection, kode: str, tahun: int, triwulan: int) -> str:
    m, f = mart_capaian_spm.c, fact_input_mutu.c
    ids: set[int] = set(conn.execute(sa.select(m.batch_id).distinct().where(
        m.kode_kab_kota == kode, m.kode_wilayah == kode, m.tahun == tahun, m.triwulan == triwulan)).scalars())
    # A province's mutu comes from the OPD inputs of its kab/kota, and of its own Dinas for its own SPM.
    of_area = sa.or_(f.kode_kab_kota.like(f"{kode}.%"), f.kode_kab_kota == kode) if is_provinsi(kode) \
        else f.kode_kab_kota == kode
    ids.update(conn.execute(sa.select(f.batch_id).distinct().where(
        of_area, f.tahun == tahun, f.triwulan == triwulan)).scalars())
    return ",".join(str(b) for b in sorted(ids))


def _explain_means(conn: sa.Connection, config: IndeksConfig, batch_id: int) -> None:
    """keterangan of bidang and daerah rows: which members lack which figure."""
    x, p = mart_indeks_spm.c, fact_input_penerima.c
    batch = conn.execute(sa.select(x.kode_kab_kota, x.tahun, x.triwulan).where(x.batch_id == batch_id).limit(1)).first()
    # OPD-entered services with sasaran 0 are not members of the means (marts/mart_indeks_spm_rerata.sql).
    tanpa_sasaran = set(conn.execute(sa.select(p.kode_layanan).where(
        p.kode_kab_kota == batch.kode_kab_kota, p.tahun == batch.tahun, p.triwulan == batch.triwulan,
        p.jumlah_sasaran == 0)).scalars()) if batch else set()
    rows = [r for r in conn.execute(sa.select(x.tingkat_indeks, x.bidang, x.kode_layanan, x.capaian_penerima, x.mutu,
                                              x.nilai, x.tingkat_pemerintahan)
                                    .where(x.batch_id == batch_id).order_by(x.urutan)).all()
            if not (r.kode_layanan in tanpa_sasaran and r.capaian_penerima is None)]
    groups = {}
    for pemerintahan in sorted({r.tingkat_pemerintahan for r in rows}):  # a province's two indices apart
        layanan = [r for r in rows if r.tingkat_indeks == "layanan" and r.tingkat_pemerintahan == pemerintahan]
        bidang = [r for r in rows if r.tingkat_indeks == "bidang" and r.tingkat_pemerintahan == pemerintahan]
        groups.update({(pemerintahan, "bidang", b.bidang): [r for r in layanan if r.bidang == b.bidang]
                       for b in bidang})
        groups[(pemerintahan, "daerah", "semua")] = layanan if config.agregasi_daerah == "rata_rata_layanan" else bidang
    for (pemerintahan, tingkat, name), members in groups.items():
        parts = []
        for figure in ("capaian_penerima", "mutu", "nilai"):
            lacking = [m.kode_layanan or f"bidang {m.bidang}" for m in members if getattr(m, figure) is None]
            if lacking:
                parts.append(f"{figure} kosong: tidak ada nilai untuk {', '.join(lacking)}")
        if not parts:
            continue
        text = "; ".join(parts) + (f" (rata-rata {len(members)} anggota, kosong bila ada anggota yang kosong; "
                                   "lihat barisnya)")
        conn.execute(sa.update(mart_indeks_spm).where(
            x.batch_id == batch_id, x.tingkat_indeks == tingkat, x.bidang == name,
            x.tingkat_pemerintahan == pemerintahan).values(keterangan=text))


def compute_indeks(engine: sa.Engine, kode: str, tahun: int, triwulan: int, run_id: str | None) -> dict[str, Any]:
    """Rebuild mart_indeks_spm for one kab/kota or province (`32`) and quarter in one transaction
    (after its capaian)."""
    if triwulan not in (1, 2, 3, 4):
        raise ConfigError(f"triwulan must be 1-4, not {triwulan!r}")
    config = load_config()
    periode = periode_label(tahun, triwulan)
    return persetujuan.unless_locked(engine, SOURCE, ENTITY, periode, run_id, lambda: _compute_indeks(
        engine, config, periode, kode, tahun, triwulan, run_id))


def _compute_indeks(engine: sa.Engine, config: IndeksConfig, periode: str, kode: str, tahun: int, triwulan: int,
                    run_id: str | None) -> dict[str, Any]:
    x = mart_indeks_spm.c
    with engine.begin() as conn:
        if not conn.execute(sa.select(sa.func.count()).select_from(dim_layanan)).scalar_one():
            raise ConfigError("dim_layanan is empty: run `spm db upgrade`")
        before = persetujuan.locked_figures(conn, kode, tahun, triwulan)  # checked by guard() before commit
        batch_id = start_batch(conn, SOURCE, ENTITY, kode, periode, run_id)
        sql_params = {
            "kode_kab_kota": kode, "tahun": tahun, "triwulan": triwulan, "lokasi": f"{kode} {periode}",
            "awalan_kab_kota": f"{kode}.%", "batch_id": batch_id, "batch_ids": _lineage(conn, kode, tahun, triwulan),
            "bobot_penerima": config.bobot_penerima, "bobot_mutu": config.bobot_mutu,
            "anggota_daerah": "layanan" if config.agregasi_daerah == "rata_rata_layanan" else "bidang"}
        run_sql_file(conn, MART_PROVINSI_SQL if is_provinsi(kode) else MART_SQL, sql_params)
        run_sql_file(conn, MEANS_SQL, sql_params)
        conn.execute(sa.update(mart_indeks_spm).where(x.batch_id == batch_id)
                     .values(label=_label_case(x.nilai, config)))
        _explain_means(conn, config, batch_id)
        persetujuan.guard(conn, kode, tahun, triwulan, before)
        rows = conn.execute(sa.select(x.tingkat_indeks, x.kode_layanan, x.nilai, x.label, x.tingkat_pemerintahan)
                            .where(x.batch_id == batch_id).order_by(x.urutan)).all()
        # The index of the kab/kota SPM (in a province's partition: its roll-up); its own follows.
        daerah = next(r for r in rows if r.tingkat_indeks == "daerah" and r.tingkat_pemerintahan == "kabupaten_kota")
        sendiri = next((r for r in rows if r.tingkat_indeks == "daerah" and r.tingkat_pemerintahan == "provinsi"), None)
        tanpa_nilai = [r.kode_layanan for r in rows if r.tingkat_indeks == "layanan" and r.nilai is None]
        n_layanan = sum(r.tingkat_indeks == "layanan" for r in rows)
        message = (f"{n_layanan - len(tanpa_nilai)} of {n_layanan} jenis layanan with nilai; daerah "
                   + (f"nilai {daerah.nilai:.2f} ({daerah.label})" if daerah.nilai is not None
                      else "nilai NULL (see keterangan)")
                   + ("" if sendiri is None else "; the province's own SPM " + (
                       f"nilai {sendiri.nilai:.2f} ({sendiri.label})" if sendiri.nilai is not None else "nilai NULL"))
                   + f"; indeks_spm.yaml versi {config.versi}")
        finish_batch(conn, batch_id, BatchStatus.PUBLISHED, rows_received=len(rows), rows_published=len(rows), message=message)
    log.info("indeks %s %s: %s", kode, periode, message)
    return {"kode_kab_kota": kode, "periode": periode, "batch_id": batch_id, "status": BatchStatus.PUBLISHED,
            "rows_published": len(rows), "nilai_daerah": daerah.nilai, "label_daerah": daerah.label,
            "tanpa_nilai": tanpa_nilai, "message": message}
