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
