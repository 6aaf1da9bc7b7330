"""What one quarterly SPM report shows, read from the published tables only (DESIGN §6-§7).

Every output (e-SPM workbook, HTML/PDF report, dashboard) is drawn from one `LaporanData`, so a figure
cannot differ between them. Nothing here reads a fact table with person rows: marts, OPD input facts,
dim_* and etl_batch counts only (DESIGN §4).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from spm.errors import InputError
from spm.reporting.penerapan import Penerapan, load_penerapan
from spm.reporting.sebab import SEBAB_KOSONG, sebab_tanpa_capaian
from spm.reporting.umpan import CatatanMutu, StatusUmpan, catatan_mutu, feed_status
from spm.reporting.charts import format_number
from spm.reference import Wilayah
from spm.warehouse.tables import dim_layanan, dim_wilayah, etl_batch
from spm.warehouse.tables_marts import mart_capaian_spm, mart_terlayani_bulanan
from spm.warehouse.tables_opd import fact_input_anggaran, fact_input_mutu, mart_indeks_spm
from spm.warehouse.audit import aware
from spm.warehouse.persetujuan import status_of

MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
BIDANG_NAMES = {"pendidikan": "Pendidikan", "kesehatan": "Kesehatan"}
MUTU_COMPONENT_NAMES = {"barang_jasa": "Barang dan/atau jasa", "sdm": "Sumber daya manusia",
                 "petunjuk_teknis": "Petunjuk teknis / SOP"}


@dataclass(frozen=True)
class Layanan:
    kode: str
    nama: str
    bidang: str
    satuan: str
    sasaran_uraian: str
    pembagian_jenis_kelamin: bool
    urutan: int
    sumber: str = ""  # the catalog's terlayani.sumber: dapodik, satusehat or opd
    tingkat_pemerintahan: str = "kabupaten_kota"  # whose SPM: a province's report holds both
    kode_nomenklatur: str | None = None  # the catalog's planning code(s), printed beside the name


@dataclass(frozen=True)
class Capaian:
    kode_wilayah: str
    tingkat_wilayah: str
    jenis_kelamin: str
    kode_layanan: str
    sasaran: float
    terlayani: int
    belum_terlayani: float
    capaian: float | None
    capaian_dibatasi: float | None


@dataclass(frozen=True)
class Spread:
    """Best and worst served kecamatan of one jenis layanan (raw capaian, percentage points apart)."""
    kode_layanan: str
    best: Capaian
    worst: Capaian
    spread: float


@dataclass(frozen=True)
class Target:
    """Progress against the target of the layanan's source (`model`, LaporanData.target_model)."""
    kode_layanan: str
    target_percent: float
    capaian: float | None
    gap: float | None  # capaian - target, percentage points
    behind: bool
    opd: str
    model: str = "garis_lurus"  # garis_lurus | semester


@dataclass
class LaporanData:
    kode_kab_kota: str
    nama_kab_kota: str
    nama_provinsi: str
    tahun: int
    triwulan: int
    computed_at: datetime  # when mart_capaian_spm of the quarter was computed (not the wall clock)
    semester_penduduk: str
    layanan: list[Layanan]
    opd: dict[str, str]  # bidang -> OPD name
    wilayah: dict[str, Wilayah]  # kecamatan and desa of the kab/kota
    capaian: dict[tuple[str, str, str], Capaian]  # (kode_wilayah, jenis_kelamin, kode_layanan)
    monthly: dict[str, list[int | None]]  # kode_layanan -> terlayani_baru Jan..Des (None: not reported)
    indeks: list[dict[str, Any]]
    mutu: list[dict[str, Any]]
    anggaran: list[dict[str, Any]]
    umpan: list[StatusUmpan]
    batch_ids: list[int]  # every source batch the figures come from
    source_batches: list[dict[str, Any]]  # those batches: source, entity, periode, checksum, counts (lineage)
    notes: list[str] = field(default_factory=list)
    # jenis layanan whose sasaran were computed without quarantined denominator rows -> those rows
    sasaran_kurang: dict[str, int] = field(default_factory=dict)
    # A province's report (spm.reporting.data_provinsi): its areas are its kab/kota and their kecamatan.
    tingkat: str = "kabupaten_kota"
    cakupan: dict[str, tuple[int, int]] = field(default_factory=dict)  # kode_layanan -> (kab/kota dimuat, total)
    indeks_kab_kota: dict[str, dict[str, Any]] = field(default_factory=dict)  # kab/kota -> its daerah index row
    sebab: dict[str, str] = field(default_factory=dict)  # kode_layanan without figures -> why, in Indonesian
    sasaran_kecil: float = field(default_factory=lambda: sasaran_kecil())  # indeks_spm.yaml tampilan
    penerapan: Penerapan = field(default_factory=Penerapan)
    catatan_mutu: list[CatatanMutu] = field(default_factory=list)  # failed warnings on the batches used  # what the OPD wrote: permasalahan, tahapan, rencana aksi
    persetujuan: Any = None  # spm.warehouse.persetujuan.Status: draft or approved, which revision

    # --- views used by the outputs ------------------------------------------------------------------

    @property
    def bidang(self) -> list[str]:
        return _bidang_of(self.layanan)

    def layanan_bidang(self, bidang: str) -> list[Layanan]:
        return [lay for lay in self.layanan if lay.bidang == bidang]

    def kab_kota(self, kode_layanan: str, jenis_kelamin: str = "semua") -> Capaian | None:
        return self.capaian.get((self.kode_kab_kota, jenis_kelamin, kode_layanan))

    def kecamatan(self) -> list[Wilayah]:
        return sorted((w for w in self.wilayah.values() if w.tingkat == "kecamatan"), key=lambda w: w.kode)

    def desa(self, kode_kecamatan: str) -> list[Wilayah]:
        return sorted((w for w in self.wilayah.values() if w.tingkat != "kecamatan"
                       and w.kode_induk == kode_kecamatan), key=lambda w: w.kode)

    @property
    def is_provinsi(self) -> bool:
        return self.tingkat == "provinsi"

    @property
    def sub_area_name(self) -> str:
        return "kab/kota" if self.is_provinsi else "kecamatan"

    @property
    def child_name(self) -> str:
        return "kecamatan" if self.is_provinsi else "desa/kelurahan"

    def sub_areas(self) -> list[Wilayah]:
        """The areas one level down: a kab/kota's kecamatan, a province's kab/kota."""
        level = "kabupaten_kota" if self.is_provinsi else "kecamatan"
        return sorted((w for w in self.wilayah.values() if w.tingkat == level), key=lambda w: w.kode)

    def children(self, kode: str) -> list[Wilayah]:
        """The areas inside a sub-area: a kecamatan's desa, a kab/kota's kecamatan."""
        return sorted((w for w in self.wilayah.values() if w.kode_induk == kode), key=lambda w: w.kode)

    def partial(self, kode_layanan: str) -> bool:
        """Whether a province's figure covers only part of its kab/kota."""
        dimuat, total = self.cakupan.get(kode_layanan, (0, 0))
        return self.is_provinsi and dimuat < total

    def keterangan(self, text: str | None) -> str:
        """A mart keterangan as OPD staff read it: jenis layanan by name, not by code."""
        if not text:
            return ""
        names = {lay.kode: lay.nama for lay in self.layanan}
        text = re.sub(r"\b(?:pend|kes)_[a-z_]+\b", lambda m: names.get(m.group(0), m.group(0)), text)
        return text.replace("capaian_penerima", "capaian penerima")

    def capaian_at(self, kode_wilayah: str, kode_layanan: str) -> Capaian | None:
        return self.capaian.get((kode_wilayah, "semua", kode_layanan))

    @property
    def target_percent(self) -> float:
        """The straight-line target of the quarter: 25 % of the year's sasaran per quarter."""
        return 25.0 * self.triwulan

    @staticmethod
    def target_model(lay: Layanan) -> str:
        """Services counted over the year (health, OPD-entered penerima) accrue through it: a straight
        line. A Dapodik figure is the state of a semester (learners aktif in it), not a count that
        grows: its target is all of the sasaran in every quarter of the semester."""
        return "semester" if lay.sumber == "dapodik" else "garis_lurus"

    def target_of(self, lay: Layanan) -> float:
        return 100.0 if self.target_model(lay) == "semester" else self.target_percent

    def target_bidang(self, bidang: str) -> float | None:
        """The target line of a bidang's chart, when all its layanan share one."""
        targets = {self.target_of(lay) for lay in self.layanan_bidang(bidang)}
        return targets.pop() if len(targets) == 1 else None

    def kecil(self, c: Capaian | None) -> bool:
        """A capaian over too few entitled persons to read as a percentage."""
        return c is not None and c.sasaran < self.sasaran_kecil

    def sel(self, c: Capaian | None, decimals: int = 1) -> str:
        """A drill-down cell: the percentage with the counts beside it (`62,5 % (5/8)`); a small sasaran
        shows the counts only, flagged (`‡ 9/1`); `–` without a figure."""
        if c is None:
            return "–"
        counts = f"{format_number(c.terlayani)}/{format_number(c.sasaran)}"
        if self.kecil(c) or c.capaian is None:
            return f"‡ {counts}"
        return f"{format_number(c.capaian, decimals)} % ({counts})"

    def spreads(self) -> list[Spread]:
        """Per jenis layanan, the sub-area (kecamatan; a province's kab/kota) with the highest and lowest
        capaian; widest spread first. Areas with a small sasaran (`kecil`) are left out: one child in a
        desa of one would decide the spread."""
        out = []
        areas = self.sub_areas()
        for lay in self.layanan:
            rows = [c for w in areas
                    if (c := self.capaian_at(w.kode, lay.kode)) is not None and c.capaian is not None
                    and not self.kecil(c)]
            if len(rows) < 2:
                continue
            best = max(rows, key=lambda c: (c.capaian, c.kode_wilayah))
            worst = min(rows, key=lambda c: (c.capaian, c.kode_wilayah))
            out.append(Spread(lay.kode, best, worst, best.capaian - worst.capaian))
        return sorted(out, key=lambda s: (-s.spread, s.kode_layanan))

    def target(self) -> list[Target]:
        out = []
        for lay in self.layanan:
            c = self.kab_kota(lay.kode)
            cap = c.capaian if c is not None else None
            target = self.target_of(lay)
            gap = cap - target if cap is not None else None
            out.append(Target(lay.kode, target, cap, gap, gap is None or gap < 0, self.opd_of(lay),
                              self.target_model(lay)))
        return out

    def opd_of(self, lay: Layanan) -> str:
        """Who answers for a jenis layanan: the OPD of its bidang; in a province's report, a service of
        the kab/kota SPM is the kab/kota's Dinas, which the province's Dinas oversees."""
        own = self.opd.get(lay.bidang, lay.bidang)
        if self.is_provinsi and lay.tingkat_pemerintahan == "kabupaten_kota":
            return f"Dinas {BIDANG_NAMES.get(lay.bidang, lay.bidang)} kab/kota (dibina {own})"
        return own

    def kosong(self, kode_layanan: str) -> str:
        """Why a jenis layanan has no figure (no capaian row) for the quarter."""
        if kode_layanan in self.sebab:
            return self.sebab[kode_layanan]
        lay = next((x for x in self.layanan if x.kode == kode_layanan), None)
        return SEBAB_KOSONG.get(lay.sumber if lay else "", "Belum ada data untuk triwulan ini.")

    def nama_layanan(self, kode: str) -> str:
        return next((lay.nama for lay in self.layanan if lay.kode == kode), kode)

    def nama_wilayah(self, kode: str) -> str:
        w = self.wilayah.get(kode)
        return w.nama if w is not None else (self.nama_kab_kota if kode == self.kode_kab_kota else kode)

    def indeks_of(self, pemerintahan: str | None) -> list[dict[str, Any]]:
        """Index rows of one SPM (tingkat_pemerintahan): a province's partition holds its own and the
        roll-up of its kab/kota SPM; None: the report's main one (a kab/kota's, a province's own)."""
        if pemerintahan is None:
            pemerintahan = self.indeks_kelompok()[0][0] if self.indeks else "kabupaten_kota"
        return [r for r in self.indeks if r.get("tingkat_pemerintahan", "kabupaten_kota") == pemerintahan]

    def indeks_kelompok(self) -> list[tuple[str, str]]:
        """(tingkat_pemerintahan, heading) of the index groups the report shows, main one first."""
        present = {r.get("tingkat_pemerintahan", "kabupaten_kota") for r in self.indeks}
        if not self.is_provinsi:
            return [("kabupaten_kota", "")]
        groups = [("provinsi", "SPM provinsi (jenis layanan dasar urusan provinsi)"),
                  ("kabupaten_kota", "Gabungan SPM kab/kota yang dimuat")]
        return [g for g in groups if g[0] in present] or groups[1:]

    def indeks_daerah(self, pemerintahan: str | None = None) -> dict[str, Any] | None:
        return next((r for r in self.indeks_of(pemerintahan) if r["tingkat_indeks"] == "daerah"), None)

    def indeks_bidang(self, bidang: str, pemerintahan: str | None = None) -> dict[str, Any] | None:
        return next((r for r in self.indeks_of(pemerintahan)
                     if r["tingkat_indeks"] == "bidang" and r["bidang"] == bidang), None)

    def indeks_layanan_rows(self, pemerintahan: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.indeks_of(pemerintahan) if r["tingkat_indeks"] == "layanan"]

    def indeks_tanpa_nilai(self, pemerintahan: str | None = None) -> list[tuple[str, str]]:
        """(which, why) for the daerah and bidang index of a group that has no nilai."""
        rows = [r for r in self.indeks_of(pemerintahan) if r["tingkat_indeks"] != "layanan" and r["nilai"] is None]
        return [("Daerah" if r["tingkat_indeks"] == "daerah" else f"Bidang {BIDANG_NAMES.get(r['bidang'], r['bidang'])}",
                 self.keterangan(r["keterangan"]) or "belum dapat dihitung") for r in rows]

    def bidang_indeks(self, pemerintahan: str | None = None) -> list[str]:
        """The bidang of one index group, in report order."""
        rows = self.indeks_layanan_rows(pemerintahan)
        return [b for b in self.bidang if any(r["bidang"] == b for r in rows)]

    def indeks_layanan(self, kode_layanan: str) -> dict[str, Any] | None:
        return next((r for r in self.indeks if r["kode_layanan"] == kode_layanan), None)


_aware = aware  # the warehouse's one reading of stored timestamps


def sasaran_kecil() -> float:
    from spm.config import load_yaml

    return float((load_yaml("indeks_spm.yaml").get("tampilan") or {}).get("sasaran_kecil", 10))


def _ids(text: str | None) -> set[int]:
    return {int(x) for x in (text or "").split(",") if x.strip()}


def _wilayah(conn, kode: str) -> dict[str, Wilayah]:
    w = dim_wilayah.c
    rows = conn.execute(sa.select(w.kode, w.nama, w.tingkat, w.kode_induk).where(
        w.berlaku_sampai.is_(None), sa.or_(w.kode == kode, w.kode.like(f"{kode}.%"), w.kode == kode[:2]))).all()
    return {r.kode: Wilayah(r.kode, r.nama, r.tingkat, r.kode_induk) for r in rows}


def _layanan_of(conn, tingkat: str | None = "kabupaten_kota") -> list[Layanan]:
    """Every jenis layanan a report of that level of government shows (None: a province's, its own
    and the kab/kota SPM), in report order, with or without figures: a jenis layanan without data
    is shown as such, never left out (nor its bidang)."""
    from spm.config.katalog_layanan import load_catalog

    l = dim_layanan.c
    catalog = {lay.kode: lay for lay in load_catalog(None)}
    query = sa.select(dim_layanan).order_by(l.urutan)
    if tingkat is not None:
        query = query.where(l.tingkat_pemerintahan == tingkat)
    return [Layanan(r.kode_layanan, r.nama, r.bidang, r.satuan, r.sasaran_uraian, r.pembagian_jenis_kelamin, r.urutan,
                    catalog[r.kode_layanan].sumber if r.kode_layanan in catalog else "", r.tingkat_pemerintahan,
                    catalog[r.kode_layanan].kode_nomenklatur if r.kode_layanan in catalog else None)
            for r in conn.execute(query)]


def _capaian_of(rows) -> dict[tuple[str, str, str], Capaian]:
    return {(r.kode_wilayah, r.jenis_kelamin, r.kode_layanan): Capaian(
        r.kode_wilayah, r.tingkat_wilayah, r.jenis_kelamin, r.kode_layanan, r.sasaran, r.terlayani,
        r.belum_terlayani, r.capaian, r.capaian_dibatasi) for r in rows}


def _source_batches(conn, used: set[int]) -> list[dict[str, Any]]:
    """The etl_batch rows of the batches the figures come from (lineage)."""
    b = etl_batch.c
    return [dict(r._mapping) for r in conn.execute(sa.select(
        b.batch_id, b.source, b.entity, b.kode_wilayah, b.periode, b.checksum, b.status, b.rows_received,
        b.rows_published, b.rows_quarantined, b.finished_at).where(b.batch_id.in_(sorted(used)))
        .order_by(b.batch_id))] if used else []


def _opd_names() -> dict[str, str]:
    from spm.config.peringatan import load_konfigurasi

    cfg = load_konfigurasi()
    return {bidang: cfg.pemilik[owner].nama for bidang, owner in cfg.bidang_pemilik.items() if owner in cfg.pemilik}


def _bidang_of(layanan: list[Layanan]) -> list[str]:
    """The bidang of these jenis layanan, in catalog order."""
    return list(dict.fromkeys(lay.bidang for lay in layanan))


def load_laporan(engine: sa.Engine, kode_kab_kota: str, tahun: int, triwulan: int) -> LaporanData:
    """Everything one kab/kota × quarter report shows; InputError if the quarter has no published capaian."""
    m, ib = mart_capaian_spm.c, mart_indeks_spm.c
    with engine.connect() as conn:
        cap_rows = conn.execute(sa.select(mart_capaian_spm).where(
            m.kode_kab_kota == kode_kab_kota, m.tahun == tahun, m.triwulan == triwulan)).all()
        if not cap_rows:
            raise InputError(f"no mart_capaian_spm rows for kab/kota {kode_kab_kota}, {tahun} triwulan {triwulan}: "
                             "run spm_hitung_capaian for that quarter first")
        mart_batch = {r.batch_id for r in cap_rows}
        computed_at = _aware(conn.execute(sa.select(sa.func.max(etl_batch.c.finished_at)).where(
            etl_batch.c.batch_id.in_(sorted(mart_batch)))).scalar_one()) or datetime(tahun, 1, 1, tzinfo=timezone.utc)
        wilayah = _wilayah(conn, kode_kab_kota)
        layanan = _layanan_of(conn)
        capaian = _capaian_of(cap_rows)
        sebab = sebab_tanpa_capaian(conn, kode_kab_kota, tahun, triwulan,
                                    [lay.kode for lay in layanan if (kode_kab_kota, "semua", lay.kode) not in capaian])
        semester = sorted({r.semester_penduduk for r in cap_rows})
        used = set().union(*(_ids(r.batch_ids) for r in cap_rows))

        tb = mart_terlayani_bulanan.c
        monthly: dict[str, list[int | None]] = {}
        month_rows = conn.execute(sa.select(tb.kode_layanan, tb.bulan, tb.terlayani_baru).where(
            tb.kode_wilayah == kode_kab_kota, tb.jenis_kelamin == "semua", tb.tahun == tahun,
            tb.bulan <= 3 * triwulan)).all()
        per_layanan: dict[str, dict[int, int]] = defaultdict(dict)
        for r in month_rows:
            per_layanan[r.kode_layanan][r.bulan] = r.terlayani_baru
        for lay in layanan:
            months = per_layanan.get(lay.kode)
            if months is None:
                continue  # a snapshot source (Dapodik): no month of first attainment
            monthly[lay.kode] = [months.get(b, 0) if b <= 3 * triwulan else None for b in range(1, 13)]

        indeks = [dict(r._mapping) for r in conn.execute(sa.select(mart_indeks_spm).where(
            ib.kode_kab_kota == kode_kab_kota, ib.tahun == tahun, ib.triwulan == triwulan).order_by(ib.urutan))]
        for r in indeks:
            used |= _ids(r["batch_ids"])
            used.discard(r["batch_id"])
        fm, fa = fact_input_mutu.c, fact_input_anggaran.c
        mutu = [dict(r._mapping) for r in conn.execute(sa.select(fact_input_mutu).where(
            fm.kode_kab_kota == kode_kab_kota, fm.tahun == tahun, fm.triwulan == triwulan)
            .order_by(fm.bidang, fm.baris))]
        anggaran = [dict(r._mapping) for r in conn.execute(sa.select(fact_input_anggaran).where(
            fa.kode_kab_kota == kode_kab_kota, fa.tahun == tahun, fa.triwulan == triwulan)
            .order_by(fa.bidang, fa.baris))]
        used |= {r["batch_id"] for r in mutu} | {r["batch_id"] for r in anggaran}
        penerapan = load_penerapan(conn, kode_kab_kota, tahun, triwulan, mutu + anggaran)
        feeds = feed_status(conn, kode_kab_kota, used, computed_at, _bidang_of(layanan), kode_kab_kota)
        catatan = catatan_mutu(conn, used)
        source_batches = _source_batches(conn, used)
        persetujuan = status_of(conn, kode_kab_kota, tahun, triwulan)

    kab = wilayah.get(kode_kab_kota)
    prov = wilayah.get(kode_kab_kota[:2])
    wilayah = {k: w for k, w in wilayah.items() if w.tingkat not in ("provinsi", "kabupaten_kota")
               and k.startswith(kode_kab_kota + ".")}
    data = LaporanData(
        kode_kab_kota, kab.nama if kab else kode_kab_kota, prov.nama if prov else kode_kab_kota[:2], tahun,
        triwulan, computed_at, ", ".join(semester), layanan, _opd_names(), wilayah, capaian, monthly, indeks, mutu,
        anggaran, feeds, sorted(used), source_batches, sebab=sebab, penerapan=penerapan, catatan_mutu=catatan,
        persetujuan=persetujuan)
    if semester and semester != [f"{tahun - 1}-2"]:
        data.notes.append(f"Sasaran dihitung dari data penduduk semester {', '.join(semester)} karena semester "
                            f"{tahun - 1}-2 belum tersedia.")
    notes, short = denominator_note(source_batches, [lay.kode for lay in layanan])
    data.notes.extend(notes)
    data.sasaran_kurang = short
    return data


def denominator_note(source_batches: list[dict[str, Any]], shown: list[str]) -> tuple[list[str], dict[str, int]]:
    """A note per denominator batch the figures used that had quarantined rows (its sasaran are short
    of those rows), and per jenis layanan it feeds the rows missing, which the outputs mark beside the
    sasaran (DESIGN §9)."""
    from spm.config.katalog_layanan import load_catalog

    from_births = {lay.kode for lay in load_catalog() if lay.sasaran.get("jenis") == "kelahiran_tahun_lalu"}
    out, short = [], {}
    for b in source_batches:
        if b["source"] != "dukcapil" or not b["rows_quarantined"]:
            continue
        births = b["entity"] == "kelahiran"
        fed = [k for k in shown if (k in from_births) == births]
        for k in fed:
            short[k] = short.get(k, 0) + b["rows_quarantined"]
        what = f"kelahiran tahun {b['periode']}" if births else f"penduduk semester {b['periode']}"
        out.append(f"Sasaran {', '.join(fed)} (bertanda *) dihitung tanpa {b['rows_quarantined']} baris data {what} yang "
                   f"dikarantina (batch {b['batch_id']}, dari {b['rows_received']} baris diterima); "
                   "rinciannya di halaman mutu data Dukcapil.")
    return out, short


def available_quarters(engine: sa.Engine, kode_kab_kota: str | None = None) -> list[tuple[str, int, int]]:
    """(kab/kota or province, tahun, triwulan) with published capaian, newest first."""
    m = mart_capaian_spm.c
    q = sa.select(m.kode_kab_kota, m.tahun, m.triwulan).distinct()
    if kode_kab_kota:
        q = q.where(m.kode_kab_kota == kode_kab_kota)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return sorted(((r[0], r[1], r[2]) for r in rows), key=lambda x: (x[0], -x[1], -x[2]))


def trend(engine: sa.Engine, kode_wilayah: str, kode_kab_kota: str) -> dict[str, list[tuple[int, int, float | None]]]:
    """Capaian (raw %) per jenis layanan over every published quarter: kode_layanan -> [(tahun, tw, capaian)]."""
    m = mart_capaian_spm.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(m.kode_layanan, m.tahun, m.triwulan, m.capaian).where(
            m.kode_kab_kota == kode_kab_kota, m.kode_wilayah == kode_wilayah, m.jenis_kelamin == "semua")
            .order_by(m.kode_layanan, m.tahun, m.triwulan)).all()
    out: dict[str, list] = defaultdict(list)
    for r in rows:
        out[r.kode_layanan].append((r.tahun, r.triwulan, r.capaian))
    return dict(out)
