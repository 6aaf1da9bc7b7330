"""Great Expectations Data Docs, rendered from the validation results kept in the warehouse.

Every validated batch keeps GX's own `ExpectationSuiteValidationResult` (privacy-scrubbed, see
`spm.quality.gx_scrub`) in `dq_validation_result`. This module renders them with GX's own renderers
(`ValidationResultsPageRenderer`, `ExpectationSuitePageRenderer`, `DefaultJinjaPageView`) into the
layout of a GX file site, under `$SPM_HOME/reports/kualitas/gx/`:

    gx/index.html                                   the list of validation results (this project's page)
    gx/expectations/<suite>.html                    each suite, from expectations/<suite>.json
    gx/validations/<suite>/batch_<id>/<run time>/<kab/kota>_<periode>.html   one per stored result

so the links GX puts in its pages (home, the suite of a result) work. No Data Context is needed:
the results come from the warehouse, not from a GX store (the pipeline's context is ephemeral).
Two things are added at render time, never stored: the run name (`batch <id>`) and two columns with
each expectation's project name and severity (`meta.name`, `meta.severity`) in GX's result table
(suite pages carry them as notes).

Offline: GX's page templates load Bootstrap, jQuery, Font Awesome, Vega and the GX logo from CDNs.
Those references are removed and replaced by a small inline stylesheet and script (layout, tables,
status icons as characters, collapsible sections, "show failed only"), so the pages open from disk
without internet and make no outside request. The result is plainer than GX's styling; the content
is GX's.

The whole folder is built in a temporary folder beside it and swapped in by renaming, so a reader
never sees a half-built site; a rebuild of the same results gives the same pages.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from spm.warehouse.tables import etl_batch
from spm.warehouse.tables_dq import dq_validation_result

log = logging.getLogger(__name__)

GX_DIR = "gx"
MAX_RESULTS = 2000  # validation result pages per build, the most recent first
_LEFTOVER_MAX_AGE_SECONDS = 3600  # temporary folders of crashed builds older than this are removed


@dataclass(frozen=True)
class GxPage:
    """One stored validation result as a page; `bagian` is the dq_validation_result column (the chunk)."""

    batch_id: int
    suite: str
    bagian: int
    source: str
    entity: str
    kode_wilayah: str
    periode: str
    status: str
    success: bool
    evaluated_expectations: int | None
    successful_expectations: int | None
    checked_at: datetime
    href: str  # relative to the gx folder


@dataclass
class GxDocs:
    root: Path
    pages: list[GxPage]
    total: int  # stored results matching the filter (pages are limited to MAX_RESULTS)
    suites: list[str]

    def per_batch(self) -> dict[int, list[GxPage]]:
        out: dict[int, list[GxPage]] = {}
        for h in self.pages:
            out.setdefault(h.batch_id, []).append(h)
        return out


OFFLINE_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#212529;line-height:1.45;font-size:15px}
a{color:#0b5cad}
.row{display:flex;flex-wrap:wrap;margin:0}
.col-12,.col-sm-12,.col-xs-12{flex:0 0 100%;max-width:100%}
.col-6{flex:0 0 50%;max-width:50%}
@media (min-width:768px){.col-md-2{flex:0 0 18%;max-width:18%}.col-md-10{flex:0 0 82%;max-width:82%}
 .d-md-inline-flex{display:inline-flex!important}.d-md-block{display:block!important}}
.container-fluid{padding:1rem 1.5rem}
.d-none{display:none}.d-flex{display:flex}.float-left{float:left}.mr-auto{margin-right:auto}
.navbar{display:flex;align-items:center;padding:.5rem 1rem;border-bottom:1px solid #dee2e6;background:#fff;height:auto!important}
.ge-logo{font-weight:600;font-size:1.1rem;color:#333}
.breadcrumb{display:flex;list-style:none;margin:0 0 0 1rem;padding:0}
.breadcrumb-item+.breadcrumb-item::before{content:"/";padding:0 .5rem;color:#6c757d}
.sticky{position:sticky;top:0}
.nav{list-style:none;padding:0;margin:0}.nav-link{display:block;padding:.15rem .5rem;font-size:.9em}
.card{border:1px solid #dee2e6;border-radius:4px;margin-bottom:1rem;background:#fff}
.card-header{padding:.5rem .75rem;background:#f5f5f5;border-bottom:1px solid #dee2e6}
.card-body{padding:.75rem}
.table{border-collapse:collapse;width:100%;margin-bottom:.75rem}
.table td,.table th{border-top:1px solid #dee2e6;padding:.3rem .5rem;vertical-align:top;text-align:left}
.table-responsive{overflow-x:auto}
.badge{display:inline-block;padding:.05em .4em;font-size:85%;border-radius:3px;background:#e9ecef;color:#222;font-family:ui-monospace,monospace}
.badge-primary{background:#dbe9f8}
.alert{padding:.4rem .75rem;border-radius:4px;margin:.5rem 0}.alert-secondary{background:#eef0f2}
.text-success{color:#1e7e34}.text-danger{color:#c82333}.text-warning{color:#b8860b}.text-info{color:#117a8b}
.btn{display:inline-block;padding:.25rem .6rem;margin:.15rem 0;border:1px solid #0b5cad;border-radius:4px;background:#0b5cad;color:#fff;cursor:pointer;text-decoration:none;font-size:.9em}
.collapse:not(.show){display:none}
.fas{font-style:normal}
.fa-check-circle::before{content:"\\2714"}.fa-times::before,.fa-times-circle::before{content:"\\2718"}
.fa-exclamation-triangle::before{content:"\\26A0"}.fa-question-circle::before{content:"?"}
.fa-comment::before{content:"\\2709"}
.lead{font-size:1.1em}.h6{font-size:1em;font-weight:600}
.spm-luring{background:#fff8e1;border-bottom:1px solid #f0d98c;padding:.3rem 1rem;font-size:.85em}
"""

OFFLINE_JS = """
document.addEventListener('click', function (e) {
  var a = e.target.closest('[data-toggle="collapse"]');
  if (!a) return;
  var sel = a.getAttribute('data-target') || a.getAttribute('href');
  var el = sel && sel.charAt(0) === '#' ? document.getElementById(sel.slice(1)) : null;
  if (el) { e.preventDefault(); el.classList.toggle('show'); }
});
function spmTampil(show) {
  var d = show ? '' : 'none';
  document.querySelectorAll('.hide-succeeded-validation-target-child').forEach(function (e) { e.parentElement.style.display = d; });
  document.querySelectorAll('.hide-succeeded-validation-target').forEach(function (e) { e.style.display = d; });
  document.querySelectorAll('.hide-succeeded-validations-column-section-target-child').forEach(function (e) {
    var el = e.parentElement.parentElement; el.style.display = d;
    if (el.id) document.querySelectorAll('a[href$="' + el.id + '"]').forEach(function (a) { a.style.display = d; });
  });
}
function showAllValidations() { spmTampil(true); }
function hideSucceededValidations() { spmTampil(false); }
"""

_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.I)
_EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)
_EXTERNAL_IMG = re.compile(r"<img\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>", re.I | re.S)
_INLINE_SCRIPT = re.compile(r"<script>(?:(?!</script>).)*?ge-walkthrough-modal(?:(?!</script>).)*</script>", re.S)
# GX's footer asks readers to subscribe to its newsletter (a link out of an offline, internal page).
_FOOTER = re.compile(r"<footer\b.*?</footer>", re.I | re.S)
_EXTERNAL_ANCHOR = re.compile(r"<a\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>(.*?)</a>", re.I | re.S)
_RANDOM_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CACHE_BUSTER = re.compile(r"\?d=\d{8}T\d{6}\.\d+Z")


def offline_html(html: str) -> str:
    """Make a GX page self-contained: no CDN stylesheet, script or image; a local fallback instead."""
    html = _EXTERNAL_LINK.sub("", html)
    html = _EXTERNAL_SCRIPT.sub("", html)
    html = _EXTERNAL_IMG.sub('<span class="ge-logo">Great Expectations Data Docs</span>', html)
    html = _INLINE_SCRIPT.sub("", html)
    html = _FOOTER.sub("", html)
    html = _EXTERNAL_ANCHOR.sub(lambda m: m.group(1), html)  # any other link out: its text only
    html = _CACHE_BUSTER.sub("", html)
    html = html.replace("</head>", f"<style>{OFFLINE_CSS}</style>\n</head>", 1)
    banner = ('<div class="spm-luring">Halaman ini dibuat oleh Great Expectations dari hasil validasi yang '
              'disimpan di gudang data, tanpa nilai data (tanpa NIK, nama atau baris). '
              'Tampilan disederhanakan agar terbuka tanpa internet.</div>')
    html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, html, count=1)
    html = html.replace("</body>", f"<script>{OFFLINE_JS}</script>\n</body>", 1)
    # GX gives collapsible blocks random ids; stable ones make a rebuild give the same bytes.
    ids: dict[str, str] = {}
    return _RANDOM_ID.sub(lambda m: ids.setdefault(m.group(0), f"spm-{len(ids):04d}"), html)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "_"


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


def _with_run_name(d: dict[str, Any], batch_id: int, part: int, checked_at: datetime) -> dict[str, Any]:
    """Render-time addition: the run name (`batch <id>`), which GX uses as the page title."""
    meta = dict(d.get("meta") or {})
    run = dict(meta.get("run_id") or {})
    run["run_name"] = f"batch {batch_id}" + (f" bagian {part}" if part else "")
    run["run_time"] = run.get("run_time") or _aware(checked_at).isoformat()
    meta["run_id"] = run
    return {**d, "meta": meta}


def _result_table_class():
    from great_expectations.render.renderer.content_block import ValidationResultsTableContentBlockRenderer

    class SpmValidationResultsTable(ValidationResultsTableContentBlockRenderer):
        """GX's validation table with two more columns: the expectation's project name and severity (meta).

        GX 1.x has no kwargs-level `meta_properties_to_render` any more (the Expectation models refuse
        unknown kwargs), so the columns are added by wrapping GX's own row function."""

        @classmethod
        def _process_content_block(cls, content_block, has_failed_evr, render_object=None) -> None:
            super()._process_content_block(content_block, has_failed_evr, render_object)
            content_block.header_row = [*content_block.header_row, "Nama", "Tingkat"]

        @classmethod
        def _get_content_block_fn(cls, expectation_type, expectation_config=None):
            fn = super()._get_content_block_fn(expectation_type=expectation_type,
                                                expectation_config=expectation_config)
            if fn is None:
                return None

            def row_fn(configuration=None, result=None, runtime_configuration=None, **kwargs):
                rows = fn(configuration=configuration, result=result, runtime_configuration=runtime_configuration,
                          **kwargs)
                cfg = getattr(result, "expectation_config", None) or configuration
                meta = (getattr(cfg, "meta", None) or {}) if cfg is not None else {}
                if isinstance(rows, list):
                    for row in rows:
                        if isinstance(row, list):
                            row.extend([str(meta.get("name", "-")), str(meta.get("severity", "-"))])
                return rows

            return row_fn

    return SpmValidationResultsTable


_TABLE_CLASS: Any = None


def _result_page_renderer():
    """GX's ValidationResultsPageRenderer with the project's table (see SpmValidationResultsTable)."""
    global _TABLE_CLASS
    from great_expectations.render.renderer import ValidationResultsPageRenderer

    if _TABLE_CLASS is None:
        _TABLE_CLASS = _result_table_class()
        globals()["SpmValidationResultsTable"] = _TABLE_CLASS  # GX loads the class by module and name
    return ValidationResultsPageRenderer(run_info_at_end=True, column_section_renderer={
        "class_name": "ValidationResultsColumnSectionRenderer",
        "module_name": "great_expectations.render.renderer.column_section_renderer",
        "table_renderer": {"class_name": "SpmValidationResultsTable", "module_name": __name__},
    })


def render_result(d: dict[str, Any], batch_id: int, part: int, checked_at: datetime) -> str:
    """One stored validation result as a GX Data Docs page (HTML)."""
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema
    from great_expectations.render.view import DefaultJinjaPageView

    from spm.quality.gx_scrub import scrub

    evr = expectationSuiteValidationResultSchema.load(_with_run_name(scrub(d), batch_id, part, checked_at))
    document = _result_page_renderer().render(evr)
    return offline_html(DefaultJinjaPageView().render(document))


def render_suite(suite: str, sample: dict[str, Any] | None = None) -> str:
    """The suite page, from expectations/<suite>.json (else from the configurations of a stored result)."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.render.renderer import ExpectationSuitePageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    from spm.errors import ConfigError
    from spm.quality.gx_runner import load_suite_file

    try:
        data = load_suite_file(suite)
        configs = data["expectations"]
        meta = data.get("meta") or {}
    except ConfigError:
        if sample is None:
            raise
        configs = [{k: v for k, v in r["expectation_config"].items() if k in ("type", "kwargs", "meta")}
                   for r in sample.get("results") or []]
        for c in configs:
            c["kwargs"] = {k: v for k, v in c["kwargs"].items() if k != "batch_id"}
        meta = {}
    expectations = []
    for e in configs:
        m = e.get("meta") or {}
        note = f"**{m.get('name', '')}** — {m.get('severity', '')}" + (f": {m['uraian']}" if m.get("uraian") else "")
        expectations.append(ExpectationConfiguration(**{**e, "notes": note}).to_domain_obj())
    doc = ExpectationSuitePageRenderer().render(ExpectationSuite(name=suite, expectations=expectations, meta=meta))
    return offline_html(DefaultJinjaPageView().render(doc))


def _remove_leftovers(root: Path) -> None:
    now = time.time()
    for p in root.glob(".gx-*"):
        try:
            if p.is_dir() and now - p.stat().st_mtime > _LEFTOVER_MAX_AGE_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def build_docs(engine: sa.Engine, root: Path, sources: list[str] | None = None, periode: str | None = None,
           kode_wilayah: list[str] | None = None, as_of: datetime | None = None, limit: int = MAX_RESULTS) -> GxDocs:
    """Build `<root>/gx` from dq_validation_result (filtered like the project's pages), atomically."""
    import jinja2

    from spm.reporting.kualitas import TEMPLATE_DIR

    as_of = as_of or datetime.now(timezone.utc)
    t, b = dq_validation_result.c, etl_batch.c
    where = []
    if sources:
        where.append(b.source.in_(sources))
    if periode:
        where.append(b.periode == periode)
    if kode_wilayah:
        where.append(b.kode_wilayah.in_(kode_wilayah))
    joined = dq_validation_result.join(etl_batch, b.batch_id == t.batch_id)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(joined).where(*where)).scalar_one()
        rows = conn.execute(
            sa.select(t.batch_id, t.suite, t.bagian, t.success, t.result_json, t.checked_at, b.source, b.entity,
                      b.kode_wilayah, b.periode, b.status)
            .select_from(joined).where(*where)
            .order_by(t.checked_at.desc(), t.batch_id.desc(), t.suite, t.bagian).limit(limit)).all()

    root.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(root)
    tmp = Path(tempfile.mkdtemp(prefix=".gx-baru-", dir=root))
    try:
        os.chmod(tmp, 0o755)
        pages: list[GxPage] = []
        samples: dict[str, dict] = {}
        for r in rows:
            d = json.loads(r.result_json)
            samples.setdefault(r.suite, d)
            checked = _aware(r.checked_at)
            rel = (Path("validations") / _safe_name(r.suite) / f"batch_{r.batch_id}"
                   / checked.strftime("%Y%m%dT%H%M%S.%fZ")
                   / (f"{_safe_name(r.kode_wilayah)}_{_safe_name(r.periode)}"
                      f"{f'_bagian_{r.bagian}' if r.bagian else ''}.html"))
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_result(d, r.batch_id, r.bagian, checked), encoding="utf-8")
            stats = d.get("statistics") or {}
            pages.append(GxPage(
                r.batch_id, r.suite, r.bagian, r.source, r.entity, r.kode_wilayah, r.periode, r.status,
                bool(r.success), stats.get("evaluated_expectations"), stats.get("successful_expectations"),
                checked, rel.as_posix()))
        (tmp / "expectations").mkdir()
        for suite in sorted(samples):
            (tmp / "expectations" / f"{_safe_name(suite)}.html").write_text(render_suite(suite, samples[suite]),
                                                                            encoding="utf-8")
        images = tmp / "static" / "images"
        images.mkdir(parents=True)
        import great_expectations

        favicon = Path(great_expectations.__file__).parent / "render" / "view" / "static" / "images" / "favicon.ico"
        if favicon.exists():
            shutil.copyfile(favicon, images / "favicon.ico")
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                                 trim_blocks=True, lstrip_blocks=True)
        from spm.reporting.lokal import install

        install(env)  # WIB times, Indonesian statuses, decimal commas
        (tmp / "index.html").write_text(env.get_template("gx_indeks.html.j2").render(
            pages=pages, total=total, limit=limit, suites=sorted(samples), generated_at=as_of), encoding="utf-8")
        target = root / GX_DIR
        old = None
        if target.exists():
            old = root / f".gx-lama-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    log.info("GX Data Docs: %d validation result page(s) of %d under %s", len(pages), total, target)
    return GxDocs(target, pages, total, sorted(samples))
