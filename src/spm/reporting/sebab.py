"""Why a jenis layanan of a report has no figure for the quarter, in the reader's words (issue 20:
missing data is said plainly, never left out, never in internal terms)."""

from __future__ import annotations

import sqlalchemy as sa

# Why a jenis layanan of the report has no figure for the quarter, in the reader's words, by source.
SEBAB_KOSONG = {
    "dapodik": "Belum ada data: data Dapodik (peserta didik) untuk semester yang dipakai triwulan ini belum masuk.",
    "satusehat": "Belum ada data: data SATUSEHAT (kunjungan, pemeriksaan, diagnosis) belum masuk untuk triwulan ini.",
    "opd": "Belum ada data: Dinas belum mengisi lembar penerima buku kerja OPD untuk triwulan ini.",
}


def sebab_tanpa_capaian(conn, kode: str, tahun: int, triwulan: int, kode_layanan: list[str]) -> dict[str, str]:
    """Why each of these jenis layanan has no capaian row for a kab/kota's quarter, from what the
    warehouse holds (the conditions spm.indicators.capaian skips a layanan on), in the reader's words."""
    from spm.config.katalog_layanan import load_catalog
    from spm.indicators.capaian import dapodik_semester
    from spm.warehouse.tables import fact_kelahiran, fact_pasien, fact_peserta_didik

    catalog = {lay.kode: lay for lay in load_catalog(None)}
    semester = dapodik_semester(tahun, triwulan)
    fk, pd, fp = fact_kelahiran.c, fact_peserta_didik.c, fact_pasien.c
    births = conn.execute(sa.select(fk.kode_desa).where(fk.kode_kab_kota == kode, fk.tahun == tahun - 1).limit(1)).first()
    learners = conn.execute(sa.select(pd.person_key).where(pd.kode_kab_kota == kode, pd.semester_id == semester)
                            .limit(1)).first()
    patients = conn.execute(sa.select(fp.pasien_id).where(fp.kode_kab_kota == kode).limit(1)).first()
    out = {}
    for kode_layanan in kode_layanan:
        lay = catalog.get(kode_layanan)
        if lay is None:
            continue
        if lay.sasaran.get("jenis") == "kelahiran_tahun_lalu" and births is None:
            out[kode_layanan] = (f"Belum ada data: kelahiran tahun {tahun - 1} dari Dukcapil belum masuk (sasaran "
                                 "layanan ini dihitung dari kelahiran tahun sebelumnya).")
        elif lay.sumber == "dapodik" and learners is None:
            out[kode_layanan] = (f"Belum ada data: Dapodik semester {semester // 10}/{semester % 10} (semester yang "
                                 "dipakai triwulan ini) belum masuk.")
        elif lay.sumber == "satusehat" and patients is None:
            out[kode_layanan] = f"Belum ada data: data SATUSEHAT dari server {kode} belum masuk."
    return out
