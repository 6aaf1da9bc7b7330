"""The readable quarterly report: one Jinja template rendered to HTML, and the same HTML to PDF
(WeasyPrint: no browser and no internet needed)."""

from __future__ import annotations

from pathlib import Path

from spm.reporting.data import BIDANG_NAMES, LaporanData
from spm.reporting.charts import format_number, capaian_bars
from spm.reporting.lokal import waktu
from spm.reporting.pendukung import indeks_pendukung
from spm.reporting.penerapan import bulan_selesai, status_tahapan, tahapan_kolom
from spm.reporting.pengesahan import NAMA, NIP, TEMPAT_TANGGAL, penandatangan, status_dokumen
from spm.reporting.workbook import ROMAN_NUMERALS, period_title

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def abbreviation(kode_layanan: str) -> str:
    """A short column header: pend_dasar -> DASAR, kes_usia_produktif -> USIA PRODUKTIF."""
    return kode_layanan.split("_", 1)[-1].replace("_", " ").upper()


def sel_cetak(data: LaporanData):
    """A drill-down cell for print: the percentage and the ‡ flag kept whole (no-break spaces), so only
    the counts may wrap onto a second line when a wide table would pass the A4 page."""
    return lambda c: data.sel(c).replace(" %", "\u00a0%").replace("‡ ", "‡\u00a0")


def render_html(data: LaporanData) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    bidang_charts = {
        b: capaian_bars([(lay.nama, c.capaian if (c := data.kab_kota(lay.kode)) else None)
                           for lay in data.layanan_bidang(b)], target=data.target_bidang(b))
        for b in data.bidang}
    return env.get_template("laporan.html.j2").render(
        d=data, format_number=format_number, waktu=waktu, roman_numerals=ROMAN_NUMERALS, bidang_names=BIDANG_NAMES,
        period_title=period_title(data), bidang_charts=bidang_charts, targets=data.target(), spreads=data.spreads(),
        abbreviations={lay.kode: abbreviation(lay.kode) for lay in data.layanan},
        tahapan_kolom=tahapan_kolom(), status_tahapan=status_tahapan, bulan_selesai=bulan_selesai,
        sel=sel_cetak(data), penandatangan=penandatangan(data), pendukung={b: indeks_pendukung(data, b) for b in data.bidang}, ttd={"tempat_tanggal": TEMPAT_TANGGAL, "nama": NAMA, "nip": NIP},
        status_dokumen=status_dokumen(data))


def write_pdf(html: str, path: Path) -> None:
    import logging

    from weasyprint import HTML

    # WeasyPrint logs every CSS property it ignores at WARNING; none of them changes a figure.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    HTML(string=html, base_url=str(TEMPLATE_DIR)).write_pdf(path)
