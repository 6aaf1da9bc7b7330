"""A small web dashboard over the published tables (DESIGN §6-§7, §10 `spm dashboard`).

Server-rendered HTML (Starlette + Jinja2), no JavaScript framework and nothing fetched from the
internet: pick kab/kota, year, quarter and bidang; see the SPM index, capaian per jenis layanan, the
drill-down per kecamatan and desa, the trend over quarters and the data-quality status; download the
published workbook, PDF, HTML and CSV of the quarter. Every figure comes from `load_laporan()`, the
same object the workbook and the PDF are drawn from, so the dashboard cannot disagree with them.

Behind a reverse proxy under a sub-path (e.g. https://pemda.go.id/spm/) give the app that prefix as
`root_path`: every link it writes starts with it, and it answers both when the proxy strips the
prefix (`proxy_pass http://127.0.0.1:8050/;`) and when it passes it on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from spm.errors import InputError, SpmError
from spm.reporting.data import BIDANG_NAMES, _aware, available_quarters, load_laporan, trend
from spm.reporting.pendukung import INDEKS, indeks_pendukung
from spm.reporting.umpan import umur_sekarang
from spm.reporting.charts import format_number, capaian_bars, trend_chart
from spm.reporting.lokal import waktu
from spm.reporting.pengesahan import status_dokumen
from spm.reporting.publish import (
    FORMATS, MEDIA, Publication, approval_changed, publication_of, publish_laporan, read_manifest,
)
from spm.reference import is_provinsi

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
ROMAN_NUMERALS = {1: "I", 2: "II", 3: "III", 4: "IV"}
FORMAT_NAMES = {"xlsx": "Workbook e-SPM (.xlsx)", "pdf": "Laporan (PDF)", "html": "Laporan (HTML)",
              "csv": "Data capaian (CSV)", "csv_excel": "Data capaian (CSV untuk Excel berbahasa Indonesia)"}


class PageError(Exception):
    """An answer other than the dashboard page: 400/404/503 with a readable message."""

    def __init__(self, status: int, title: str, message: str, links: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status, self.title, self.message, self.links = status, title, message, links or []


@dataclass(frozen=True)
class Filters:
    """The filters of one request, validated."""
    kode: str
    tahun: int
    triwulan: int
    bidang: str  # "semua" or a bidang
    kecamatan: str | None
    desa: str | None = None  # one desa of the kecamatan, shown in detail


def _wilayah_names(engine: sa.Engine, kode: list[str]) -> dict[str, str]:
    from spm.warehouse.tables import dim_wilayah

    if not kode:
        return {}
    w = dim_wilayah.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(w.kode, w.nama).where(w.kode.in_(kode), w.berlaku_sampai.is_(None))).all()
    return {r.kode: r.nama for r in rows}


def _computed_at(engine: sa.Engine, kode: str, tahun: int, triwulan: int) -> str | None:
    """When the quarter's capaian was computed, as the manifest of its published files records it."""
    from spm.warehouse.tables import etl_batch
    from spm.warehouse.tables_marts import mart_capaian_spm

    m = mart_capaian_spm.c
    batches = sa.select(m.batch_id).where(m.kode_kab_kota == kode, m.tahun == tahun, m.triwulan == triwulan) \
        .distinct().scalar_subquery()
    with engine.connect() as conn:
        t = conn.execute(sa.select(sa.func.max(etl_batch.c.finished_at))
                         .where(etl_batch.c.batch_id.in_(batches))).scalar_one()
    return _aware(t).isoformat() if t is not None else None


class Dashboard:
    """The application state: the warehouse engine, where the published reports live, the templates."""

    def __init__(self, engine: sa.Engine, laporan_root: Path | None = None):
        from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

        self.engine = engine
        self.laporan_root = laporan_root
        self.env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html", "j2"]),
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        from spm.reporting.approval_web import ROLE_NAMES

        self.env.globals["role_names"] = ROLE_NAMES
        self._locks: dict[tuple[str, int, int], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # --- filters ------------------------------------------------------------------------------------

    def options(self) -> tuple[list[tuple[str, int, int]], dict[str, str]]:
        quarters = available_quarters(self.engine)
        return quarters, _wilayah_names(self.engine, sorted({k for k, _, _ in quarters}))

    def choose(self, params: dict[str, str], quarters: list[tuple[str, int, int]], names: dict[str, str]) -> Filters:
        if not quarters:
            raise PageError(404, "Belum ada data", "Belum ada capaian SPM yang diterbitkan di gudang data ini. "
                          "Jalankan spm_hitung_capaian (atau `spm demo`) lebih dulu.")
        kode = (params.get("kode") or "").strip() or quarters[0][0]
        own_quarters = [(t, q) for k, t, q in quarters if k == kode]
        if not own_quarters:
            raise PageError(404, "Kabupaten/kota tidak ditemukan",
                          f"Tidak ada data SPM untuk kabupaten/kota dengan kode {kode!r}.",
                          [(f"{names.get(k, k)} ({k})", "?" + urlencode({"kode": k}))
                           for k in dict.fromkeys(k for k, _, _ in quarters)])
        tahun = _parse_int(params.get("tahun"), "tahun")
        triwulan = _parse_int(params.get("triwulan"), "triwulan")
        if tahun is None:
            tahun = own_quarters[0][0]
        if triwulan is None:
            triwulan = next((q for t, q in own_quarters if t == tahun), None) or own_quarters[0][1]
        if (tahun, triwulan) not in own_quarters:
            raise PageError(404, "Triwulan tidak tersedia",
                          f"Belum ada data SPM {names.get(kode, kode)} untuk tahun {tahun} triwulan {triwulan}. "
                          "Triwulan yang tersedia:",
                          [(f"{t} triwulan {ROMAN_NUMERALS.get(q, q)}", "?" + urlencode({"kode": kode, "tahun": t,
                                                                                  "triwulan": q}))
                           for t, q in own_quarters])
        bidang = (params.get("bidang") or "").strip() or "semua"
        kecamatan = (params.get("kecamatan") or "").strip() or None
        if kecamatan is not None and not kecamatan.startswith(kode + "."):
            kecamatan = None  # left over from another kab/kota in the form: ignore it
        desa = (params.get("desa") or "").strip() or None
        if desa is not None and (kecamatan is None or not desa.startswith(kecamatan + ".")):
            desa = None  # a desa belongs to the kecamatan shown, or is not shown
        return Filters(kode, tahun, triwulan, bidang, kecamatan, desa)

    # --- the page -----------------------------------------------------------------------------------

    def page(self, params: dict[str, str], root: str, visitor=None) -> str:
        quarters, names = self.options()
        p = self.choose(params, quarters, names)
        try:
            if is_provinsi(p.kode):  # a province: its rows, its kab/kota one level down
                from spm.reporting.data_provinsi import load_laporan_provinsi

                data = load_laporan_provinsi(self.engine, p.kode, p.tahun, p.triwulan)
            else:
                data = load_laporan(self.engine, p.kode, p.tahun, p.triwulan)
        except InputError as exc:  # removed between the two queries
            raise PageError(404, "Triwulan tidak tersedia", str(exc)) from None
        if p.bidang != "semua" and p.bidang not in data.bidang:
            raise PageError(404, "Bidang tidak ditemukan", f"Bidang {p.bidang!r} tidak ada dalam data ini.",
                          [(_bidang_name(b), "?" + urlencode(self._query(p, bidang=b))) for b in data.bidang])
        desa = None
        if p.kecamatan is not None:
            kec = data.wilayah.get(p.kecamatan)
            if kec is None or kec not in data.sub_areas():
                what = data.sub_area_name.capitalize()
                raise PageError(404, f"{what} tidak ditemukan",
                              f"{what} dengan kode {p.kecamatan!r} tidak ada di {data.nama_kab_kota}.",
                              [(k.nama, "?" + urlencode(self._query(p, kecamatan=k.kode))) for k in data.sub_areas()])
            desa = data.children(p.kecamatan)
        if p.desa is not None and p.desa not in {w.kode for w in desa or []}:
            raise PageError(404, f"{data.child_name.capitalize()} tidak ditemukan",
                            f"{data.child_name.capitalize()} dengan kode {p.desa!r} tidak ada di "
                            f"{data.nama_wilayah(p.kecamatan)}.",
                            [(w.nama, "?" + urlencode(self._query(p, desa=w.kode))) for w in desa or []])
        bidang = data.bidang if p.bidang == "semua" else [p.bidang]
        layanan = [lay for b in bidang for lay in data.layanan_bidang(b)]
        # A province's kab/kota keep their trend in their own partitions: the province shows its own.
        trend_wilayah = p.kode if data.is_provinsi else (p.desa or p.kecamatan or p.kode)
        series = trend(self.engine, trend_wilayah, p.kode)
        quarter_label = lambda t, q: f"{t} TW {ROMAN_NUMERALS.get(q, q)}"  # noqa: E731
        trend_rows = {lay.kode: {quarter_label(t, q): v for t, q, v in series.get(lay.kode, [])} for lay in layanan}
        trend_columns = [quarter_label(t, q) for t, q in sorted({(t, q) for lay in layanan
                                                                 for t, q, _ in series.get(lay.kode, [])})]
        # The straight line of the services counted over the year (Dapodik's is 100 % every quarter).
        straight = {quarter_label(t, q): 25.0 * q for t, q in sorted({(t, q) for lay in layanan
                                                                       for t, q, _ in series.get(lay.kode, [])})}
        trend_svg = trend_chart({_abbreviation(lay.kode): [(k, trend_rows[lay.kode].get(k)) for k in trend_columns]
                                 for lay in layanan},
                                target=straight if any(data.target_model(lay) == "garis_lurus" for lay in layanan)
                                else None) if trend_columns else ""
        bidang_charts = {b: capaian_bars([(lay.nama, c.capaian if (c := data.kab_kota(lay.kode)) else None)
                                          for lay in data.layanan_bidang(b)], target=data.target_bidang(b))
                         for b in bidang}
        kode_list = list(dict.fromkeys(k for k, _, _ in quarters))
        tahun_list = sorted({t for k, t, _ in quarters if k == p.kode}, reverse=True)
        tw_list = sorted(q for k, t, q in quarters if k == p.kode and t == p.tahun)
        t = self.publication_of(p.kode, p.tahun, p.triwulan)
        downloads = [(j, FORMAT_NAMES[j], f"{root}/unduh/{p.kode}/{p.tahun}/{p.triwulan}/{j}", t.path(j).name)
                     for j in ("xlsx", "pdf", "html", "csv", "csv_excel")]
        return self.env.get_template("dashboard.html.j2").render(
            d=data, p=p, root=root, format_number=format_number, waktu=waktu, roman_numerals=ROMAN_NUMERALS,
            bidang_name=_bidang_name, kode_list=[(k, names.get(k, k)) for k in kode_list], tahun_list=tahun_list,
            tw_list=tw_list, chosen_bidang=bidang, layanan=layanan, bidang_charts=bidang_charts, trend_svg=trend_svg,
            trend_columns=trend_columns, trend_rows=trend_rows, trend_wilayah_name=data.nama_wilayah(trend_wilayah),
            abbreviation=_abbreviation, desa=desa, downloads=downloads,
            targets={t.kode_layanan: t for t in data.target() if t.kode_layanan in {lay.kode for lay in layanan}},
            spreads=data.spreads(), umur_kini=umur_sekarang(self.engine, data, datetime.now(timezone.utc)), pendukung={b: indeks_pendukung(data, b) for b in bidang}, pendukung_indeks=INDEKS,
            query_with=lambda **kw: "?" + urlencode(self._query(p, **kw)),
            visitor=visitor, status_dokumen=status_dokumen(data),
        )

    @staticmethod
    def _query(p: Filters, **changes: Any) -> dict[str, Any]:
        q: dict[str, Any] = {"kode": p.kode, "tahun": p.tahun, "triwulan": p.triwulan, "bidang": p.bidang,
                             "kecamatan": p.kecamatan, "desa": p.desa}
        if "kecamatan" in changes:  # another kecamatan (or none): its desa detail goes
            q["desa"] = None
        q.update(changes)
        return {k: v for k, v in q.items() if v is not None and v != ""}

    def error_page(self, e: PageError, root: str) -> str:
        return self.env.get_template("dashboard_galat.html.j2").render(e=e, root=root)

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(waktu=waktu, roman_numerals=ROMAN_NUMERALS, **context)

    # --- downloads ----------------------------------------------------------------------------------

    def publication_of(self, kode: str, tahun: int, triwulan: int) -> Publication:
        return publication_of(kode, tahun, triwulan, self.laporan_root)

    def published_file(self, kode: str, tahun: int, triwulan: int, jenis: str) -> Path:
        """The published file; built (atomically, by `publish_laporan`) when missing or older than the figures."""
        if jenis not in FORMATS:
            raise PageError(404, "Berkas tidak dikenal",
                            f"Jenis berkas {jenis!r} tidak ada (pilih: {', '.join(FORMATS)}).")
        if (kode, tahun, triwulan) not in set(available_quarters(self.engine, kode)):
            raise PageError(404, "Triwulan tidak tersedia",
                          f"Belum ada data SPM untuk {kode!r} tahun {tahun} triwulan {triwulan}.")
        t = self.publication_of(kode, tahun, triwulan)
        with self._lock_for((kode, tahun, triwulan)):
            if self._needs_publishing(t):
                log.info("publishing %s %s triwulan %s for a download", kode, tahun, triwulan)
                try:
                    publish_laporan(self.engine, kode, tahun, triwulan, self.laporan_root)
                except InputError as exc:
                    raise PageError(404, "Triwulan tidak tersedia", str(exc)) from None
        return t.path(jenis)

    def _needs_publishing(self, t: Publication) -> bool:
        if not t.is_complete():
            return True
        manifest = read_manifest(t) or {}
        if manifest.get("dihitung") != _computed_at(self.engine, t.kode_kab_kota, t.tahun, t.triwulan):
            return True
        return approval_changed(self.engine, t, manifest)  # approved or re-opened since: the files must say so

    def republish(self, kode: str, tahun: int, triwulan: int) -> None:
        """After a verification, approval or re-opening: the files say at once what the quarter now is."""
        t = self.publication_of(kode, tahun, triwulan)
        with self._lock_for((kode, tahun, triwulan)):
            if self._needs_publishing(t):
                publish_laporan(self.engine, kode, tahun, triwulan, self.laporan_root)

    def _lock_for(self, key: tuple[str, int, int]) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())


def _parse_int(text: str | None, label: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise PageError(400, "Pilihan tidak valid", f"{label} harus berupa angka, bukan {text!r}.") from None


def _bidang_name(b: str) -> str:
    return BIDANG_NAMES.get(b, b.replace("_", " ").title())


def _abbreviation(kode_layanan: str) -> str:
    from spm.reporting.laporan import abbreviation

    return abbreviation(kode_layanan)


class _RootPath:
    """Set the sub-path the app is served under (scope["root_path"]), whatever the proxy passes on."""

    def __init__(self, app, root_path: str):
        self.app, self.root_path = app, root_path

    async def __call__(self, scope, receive, send):
        if self.root_path and scope["type"] in ("http", "websocket"):
            scope = dict(scope)
            scope["root_path"] = self.root_path
            if scope["path"] == self.root_path:  # /spm -> /spm/
                scope["path"] = self.root_path + "/"
        await self.app(scope, receive, send)


def normalise_root_path(root_path: str | None) -> str:
    root = (root_path or "").strip()
    if not root or root == "/":
        return ""
    return "/" + root.strip("/")


def create_app(engine: sa.Engine, root_path: str = "", laporan_root: Path | None = None,
               kualitas_root: Path | None = None):
    """The ASGI app. `root_path`: the sub-path behind a reverse proxy (e.g. "/spm"); `laporan_root`: where
    the published reports are (default $SPM_HOME/reports/laporan); `kualitas_root`: the data-quality
    pages `spm kualitas` writes (default $SPM_HOME/reports/kualitas), served read-only under /kualitas/
    so the dashboard links to them (they hold counts and expectation names, no personal data)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from spm.reporting.approval_web import Auth, Gated
    from spm.reporting.kualitas import output_dir

    dash = Dashboard(engine, laporan_root)
    root = normalise_root_path(root_path)

    def _root(request: Request) -> str:
        return (request.scope.get("root_path") or "").rstrip("/")

    def _error(request: Request, e: PageError) -> HTMLResponse:
        return HTMLResponse(dash.error_page(e, _root(request)), status_code=e.status)

    def _warehouse_error(request: Request, exc: Exception) -> HTMLResponse:
        log.error("warehouse error: %s", exc)
        message = str(exc) if isinstance(exc, SpmError) else \
            f"Gudang data tidak dapat dibaca ({type(exc).__name__}). Periksa koneksi spm_warehouse dan log server."
        return _error(request, PageError(503, "Gudang data tidak tersedia", message))

    auth = Auth(engine, dash, _root, _error, _warehouse_error)

    def home(request: Request):
        try:
            visitor, redirect = auth.gate(request)
            if redirect is not None:
                return redirect
            return HTMLResponse(dash.page(dict(request.query_params), _root(request), visitor))
        except PageError as e:
            return _error(request, e)
        except (SpmError, sa.exc.SQLAlchemyError) as exc:
            return _warehouse_error(request, exc)

    def download(request: Request):
        pp = request.path_params
        try:
            if (redirect := auth.gate(request)[1]) is not None:
                return redirect
            tahun, triwulan = _parse_int(pp["tahun"], "tahun"), _parse_int(pp["triwulan"], "triwulan")
            path = dash.published_file(pp["kode"], tahun, triwulan, pp["jenis"])
        except PageError as e:
            return _error(request, e)
        except (SpmError, sa.exc.SQLAlchemyError) as exc:
            return _warehouse_error(request, exc)
        return FileResponse(path, media_type=MEDIA[pp["jenis"]], filename=path.name,
                            content_disposition_type="attachment")

    def health(request: Request):
        return PlainTextResponse("ok\n")

    def not_found(request: Request, exc: Exception):
        return _error(request, PageError(404, "Halaman tidak ditemukan", f"Tidak ada halaman {request.url.path}.",
                                         [("Kembali ke dasbor", _root(request) + "/")]))

    def server_error(request: Request, exc: Exception):
        log.exception("dashboard error")
        return _error(request, PageError(500, "Terjadi kesalahan", "Terjadi kesalahan pada server dasbor; "
                                         "rinciannya ada di log server."))

    routes = [
        Route("/", home),
        Route("/sehat", health),
        Route("/unduh/{kode}/{tahun}/{triwulan}/{jenis}", download),
        *auth.routes(),
        Mount("/kualitas", app=Gated(StaticFiles(directory=str(output_dir(kualitas_root)), html=True,
                                                  check_dir=False), auth.gate, "/kualitas"), name="kualitas"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 500: server_error})
    app.state.dashboard = dash
    return _RootPath(app, root) if root else app


def serve(engine: sa.Engine, host: str = "127.0.0.1", port: int = 8050, root_path: str = "",
          laporan_root: Path | None = None) -> None:
    """Run the dashboard with uvicorn until interrupted."""
    import uvicorn

    app = create_app(engine, root_path, laporan_root)
    # proxy_headers: behind nginx/Apache the client address and scheme come from X-Forwarded-*.
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info", access_log=True)
