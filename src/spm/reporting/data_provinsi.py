"""What a province's quarterly SPM report shows (DESIGN §7 "Provinsi rows"), as the same `LaporanData`
the kab/kota reports use, so every output draws it the same way.

The province's areas are its kab/kota (all of them, loaded or not, so the Biro sees which are
missing) and the kecamatan of those loaded; its figures are the provinsi rows of mart_capaian_spm,
the kab/kota rows of every kab/kota of the province (their own partitions for the kab/kota SPM, the
province's partition for its own layanan) and the kecamatan rows beside them; the index is the
province's, and each kab/kota's daerah index is read for the side-by-side table. Every layanan whose
row covers only part of the province is said so (`cakupan`, and a note).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import sqlalchemy as sa

from spm.errors import InputError
from spm.reporting.penerapan import load_penerapan
from spm.reporting.umpan import catatan_mutu, feed_status
from spm.reporting.data import (
    BIDANG_NAMES, LaporanData, _bidang_of, _capaian_of, _ids, _layanan_of, _source_batches, _wilayah,
    denominator_note,
)
from spm.warehouse.audit import aware
from spm.warehouse.persetujuan import status_of
from spm.warehouse.tables import etl_batch
from spm.warehouse.tables_marts import mart_capaian_spm, mart_terlayani_bulanan
from spm.warehouse.tables_opd import fact_input_anggaran, fact_input_mutu, mart_indeks_spm


def _rows(conn, kode_provinsi: str, tahun: int, triwulan: int):
    """The provinsi rows, and the kab/kota and kecamatan rows of the province, of every partition."""
    m = mart_capaian_spm.c
    return conn.execute(sa.select(mart_capaian_spm).where(
        m.tahun == tahun, m.triwulan == triwulan,
        sa.or_(m.kode_wilayah == kode_provinsi,
               sa.and_(m.kode_wilayah.like(f"{kode_provinsi}.%"),
                       m.tingkat_wilayah.in_(("kabupaten_kota", "kecamatan")))))).all()


def load_laporan_provinsi(engine: sa.Engine, kode_provinsi: str, tahun: int, triwulan: int) -> LaporanData:
    """Everything one province × quarter report shows; InputError if the quarter has no provinsi row."""
    ib = mart_indeks_spm.c
    with engine.connect() as conn:
        rows = _rows(conn, kode_provinsi, tahun, triwulan)
        own = [r for r in rows if r.kode_wilayah == kode_provinsi]
        if not own:
            raise InputError(f"no provinsi rows of mart_capaian_spm for {kode_provinsi}, {tahun} triwulan {triwulan}: "
                             "run spm_hitung_capaian over two or more of its kab/kota first")
        computed_at = aware(conn.execute(sa.select(sa.func.max(etl_batch.c.finished_at)).where(
            etl_batch.c.batch_id.in_(sorted({r.batch_id for r in own})))).scalar_one()) \
            or datetime(tahun, 1, 1, tzinfo=timezone.utc)
        present = {r.kode_layanan for r in own}
        layanan = _layanan_of(conn, None)  # its own and the kab/kota SPM, with or without figures
        capaian = _capaian_of(r for r in rows if r.kode_layanan in present)
        cakupan = {r.kode_layanan: (r.kab_kota_dimuat, r.kab_kota_total) for r in own if r.jenis_kelamin == "semua"}
        used = set().union(*(_ids(r.batch_ids) for r in own))
        loaded = sorted({r.kode_wilayah for r in rows if r.tingkat_wilayah == "kabupaten_kota"})

        tb = mart_terlayani_bulanan.c
        per_layanan: dict[str, dict[int, int]] = defaultdict(dict)
        for r in conn.execute(sa.select(tb.kode_layanan, tb.bulan, tb.terlayani_baru).where(
                tb.kode_wilayah == kode_provinsi, tb.jenis_kelamin == "semua", tb.tahun == tahun,
                tb.bulan <= 3 * triwulan)):
            per_layanan[r.kode_layanan][r.bulan] = r.terlayani_baru
        monthly = {lay.kode: [per_layanan[lay.kode].get(b, 0) if b <= 3 * triwulan else None for b in range(1, 13)]
                   for lay in layanan if lay.kode in per_layanan}

        indeks = [dict(r._mapping) for r in conn.execute(sa.select(mart_indeks_spm).where(
            ib.kode_kab_kota == kode_provinsi, ib.tahun == tahun, ib.triwulan == triwulan).order_by(ib.urutan))]
        for r in indeks:
            used |= _ids(r["batch_ids"])
            used.discard(r["batch_id"])
        indeks_kab_kota = {r.kode_wilayah: dict(r._mapping) for r in conn.execute(sa.select(mart_indeks_spm).where(
            ib.kode_wilayah.like(f"{kode_provinsi}.%"), ib.tingkat_indeks == "daerah", ib.tahun == tahun,
            ib.triwulan == triwulan))}
        fm, fa = fact_input_mutu.c, fact_input_anggaran.c  # the province's own OPD inputs
        mutu = [dict(r._mapping) for r in conn.execute(sa.select(fact_input_mutu).where(
            fm.kode_kab_kota == kode_provinsi, fm.tahun == tahun, fm.triwulan == triwulan).order_by(fm.bidang, fm.baris))]
        anggaran = [dict(r._mapping) for r in conn.execute(sa.select(fact_input_anggaran).where(
            fa.kode_kab_kota == kode_provinsi, fa.tahun == tahun, fa.triwulan == triwulan)
            .order_by(fa.bidang, fa.baris))]
        penerapan = load_penerapan(conn, kode_provinsi, tahun, triwulan, mutu + anggaran, "provinsi")
        feeds = feed_status(conn, loaded, used, computed_at,
                            _bidang_of([lay for lay in layanan if lay.tingkat_pemerintahan == "provinsi"]), kode_provinsi)
        catatan = catatan_mutu(conn, used)
        source_batches = _source_batches(conn, used)
        wilayah = _wilayah(conn, kode_provinsi)
        persetujuan = status_of(conn, kode_provinsi, tahun, triwulan)

    prov = wilayah.get(kode_provinsi)
    nama = prov.nama if prov else kode_provinsi
    areas = {k: w for k, w in wilayah.items() if w.tingkat == "kabupaten_kota"
             or (w.tingkat == "kecamatan" and k[:5] in loaded)}
    semester = sorted({r.semester_penduduk for r in own} - {"-"})  # "-": rows entered by the OPD
    data = LaporanData(
        kode_provinsi, f"Provinsi {nama}", nama, tahun, triwulan, computed_at, ", ".join(semester), layanan,
        {bidang: f"Dinas {name} Provinsi {nama}" for bidang, name in BIDANG_NAMES.items()}, areas, capaian, monthly,
        indeks, mutu, anggaran, feeds, sorted(used), source_batches, tingkat="provinsi", cakupan=cakupan,
        indeks_kab_kota=indeks_kab_kota, penerapan=penerapan, catatan_mutu=catatan,
        persetujuan=persetujuan)
    total = max((t for _, t in cakupan.values()), default=0)
    names = [areas[k].nama if k in areas else k for k in loaded]
    partial = [lay.nama for lay in layanan if data.partial(lay.kode)]
    data.notes.append(f"Angka provinsi dihitung dari {len(loaded)} dari {total} kab/kota yang datanya telah dimuat "
                      f"({', '.join(names)}); kab/kota lain belum masuk.")
    if partial:
        data.notes.append("Hanya sebagian provinsi (bertanda †): " + "; ".join(partial) + ". Sasaran dan terlayani "
                          "mencakup kab/kota yang dimuat saja; orang yang terlayani di dua kab/kota dihitung sekali.")
    notes, short = denominator_note(source_batches, [lay.kode for lay in layanan])
    data.notes.extend(notes)
    data.sasaran_kurang = short
    return data
