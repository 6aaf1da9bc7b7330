"""Who signs the quarter's report: the head of each bidang's OPD for its sheet, and the Setda's
Bagian (kab/kota) or Biro (provinsi) Tata Pemerintahan, which coordinates and files it in e-SPM
(spm-domain §2.5). Names, NIP and date are left as lines to fill by hand: the warehouse holds no
officials' names."""

from __future__ import annotations

from spm.reporting.data import LaporanData

TEMPAT_TANGGAL = "...................., ...................."
NAMA = "(........................................)"
NIP = "NIP. ........................................"


def kepala_opd(data: LaporanData, bidang: str) -> str:
    opd = data.opd.get(bidang, bidang)
    return f"Kepala {opd}" if data.is_provinsi or data.nama_kab_kota in opd else f"Kepala {opd} {data.nama_kab_kota}"


def koordinator(data: LaporanData) -> str:
    unit = "Biro Tata Pemerintahan Sekretariat Daerah" if data.is_provinsi \
        else "Bagian Tata Pemerintahan Sekretariat Daerah"
    return f"Kepala {unit} {data.nama_kab_kota}"


def penandatangan(data: LaporanData) -> list[str]:
    """Every signatory of the whole report, the coordinator last."""
    return [kepala_opd(data, b) for b in data.bidang] + [koordinator(data)]


def status_dokumen(data: LaporanData) -> tuple[str, str]:
    """("DRAF" | "FINAL", the sentence printed under the title): whether the quarter was approved in
    the dashboard (spm.warehouse.persetujuan), with its revision, who and when, and each bidang's
    verification."""
    from spm.reporting.lokal import waktu

    s = data.persetujuan
    done = "; ".join(f"{b} diverifikasi {v[0]} {waktu(v[1])}" for b, v in sorted((s.verifikasi if s else {}).items()))
    verified = f" ({done})" if done else ""
    if s is None or not s.terkunci:
        rev = f" revisi {s.revisi}" if s is not None and s.revisi > 1 else ""
        return "DRAF", f"DRAF{rev} — belum disetujui Bagian Tata Pemerintahan; angka dapat berubah.{verified}"
    return "FINAL", f"FINAL revisi {s.revisi} — disetujui {s.disetujui_oleh} {waktu(s.disetujui_at)}{verified}."
