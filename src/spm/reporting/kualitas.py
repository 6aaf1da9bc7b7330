"""The data-quality pages: static HTML per source and period under $SPM_HOME/reports/kualitas.

Two sets of pages are written together (`write_pages`, used by `spm kualitas` and by the task
`halaman_kualitas` of `spm_kirim_peringatan`):

- the project's own pages, per source and period: pass rate per expectation over time, quarantined
  rows by reason, freshness, completeness of the kab/kota × entity partitions, the batches;
- Great Expectations Data Docs under `gx/` (`spm.reporting.gx_docs`): GX's own pages for every
  stored validation result (`dq_validation_result`, GX's ExpectationSuiteValidationResult kept at
  validation time, privacy-scrubbed) and for every suite, rendered by GX's renderers. The project's
  index links to them, and each batch of a period page links to its GX result page(s).

They answer different questions: the project's pages follow a source over time and across
partitions with the project's severities; GX's pages show one batch's validation in full (every
expectation with its configuration, observed statistics and counts).

Privacy (DESIGN §4): the project's pages are built from etl_batch counts, dq_result names and counts,
and quarantine.failed_expectations only; never from quarantine.row_data, natural keys or staging rows.
The GX pages are built from results from which failing values, value counts and row indexes were
removed before they were stored (`spm.quality.gx_scrub`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from spm.warehouse.tables import dq_result, etl_batch, quarantine
from spm.warehouse.audit import aware
from spm.warehouse.status import BatchStatus, SETTLED

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
HISTORY_DAYS = 14  # columns of the pass-rate table


def page_filename(periode: str) -> str:
    """A period as a file name (health periods are `<dari>/<sampai>` timestamps)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", periode).strip("_") or "_"


_aware = aware  # the warehouse's one reading of stored timestamps


@dataclass
class QualityPage:
    source: str
    periode: str
    path: Path
    complete_percent: float
    unpublished_partitions: int


def _pass_rates(rows) -> tuple[list[str], list[dict[str, Any]]]:
    """Per entity × expectation × day: runs, passed runs and the share of rows passing."""
    cells: dict[tuple, dict[str, dict]] = defaultdict(dict)
    days = set()
    for r in rows:
        day = _aware(r.checked_at).date().isoformat()
        days.add(day)
        c = cells[(r.entity, r.expectation, r.severity, r.kolom)].setdefault(
            day, {"runs": 0, "passed": 0, "unexpected": 0, "elements": 0, "row_level": False})
        c["runs"] += 1
        c["passed"] += int(bool(r.success))
        if r.element_count is not None and r.unexpected_count is not None:
            c["row_level"] = True
            c["unexpected"] += r.unexpected_count
            c["elements"] += r.element_count
    shown_days = sorted(days)[-HISTORY_DAYS:]
    out = []
    for (entity, expectation, severity, col), by_day in sorted(cells.items(), key=lambda x: tuple(map(str, x[0]))):
        seq = []
        for day in shown_days:
            c = by_day.get(day)
            if c is None:
                seq.append(None)
                continue
            rate = (100.0 * (1 - c["unexpected"] / c["elements"]) if c["row_level"] and c["elements"] else None)
            seq.append({"rate": rate, "passed": c["passed"], "runs": c["runs"],
                        "css_class": "ok" if c["passed"] == c["runs"]
                        else ("gagal" if severity == "critical" else "warn")})
        out.append({"entity": entity, "expectation": expectation, "severity": severity, "kolom": col, "cells": seq})
    return shown_days, out


def _max_age(source: str):
    """Maximum age of a feed from config/peringatan.yaml (the freshness check's own threshold)."""
    from fnmatch import fnmatchcase

    from spm.config.peringatan import load_konfigurasi

    feeds = [u for u in load_konfigurasi().umpan if u.sumber == source]

    def max_age(entity: str) -> float:
        return next((u.maks_umur_jam for u in feeds if fnmatchcase(entity, u.entitas)), 26.0)

    return max_age


def collect(engine: sa.Engine, source: str, periode: str, kode_wilayah: list[str] | None = None,
              as_of: datetime | None = None) -> dict[str, Any]:
    """Everything the page of one source and period shows (counts and names only)."""
    as_of = as_of or datetime.now(timezone.utc)
    b = etl_batch.c
    with engine.connect() as conn:
        batches = conn.execute(sa.select(etl_batch).where(b.source == source, b.periode == periode)
                               .order_by(b.batch_id)).all()
        dq_rows = conn.execute(
            sa.select(dq_result.c.batch_id, dq_result.c.expectation, dq_result.c.severity, dq_result.c.kolom,
                      dq_result.c.success, dq_result.c.element_count, dq_result.c.unexpected_count,
                      dq_result.c.checked_at, etl_batch.c.entity)
            .select_from(dq_result.join(etl_batch, etl_batch.c.batch_id == dq_result.c.batch_id))
            .where(b.source == source, b.periode == periode)).all()
        latest: dict[tuple[str, str], Any] = {}
        for x in batches:
            if x.status != BatchStatus.RUNNING:
                latest[(x.entity, x.kode_wilayah)] = x
        reasons: dict[str, Counter] = defaultdict(Counter)
        latest_ids = {x.batch_id: x.entity for x in latest.values()}
        if latest_ids:
            for batch_id, names, n in conn.execute(
                    sa.select(quarantine.c.batch_id, quarantine.c.failed_expectations, sa.func.count())
                    .where(quarantine.c.batch_id.in_(list(latest_ids)))
                    .group_by(quarantine.c.batch_id, quarantine.c.failed_expectations)):
                for name in names.split(","):
                    if name:
                        reasons[latest_ids[batch_id]][name] += n
        fresh = conn.execute(
            sa.select(b.entity, b.kode_wilayah, sa.func.max(b.finished_at))
            .where(b.source == source, b.status.in_(SETTLED)).group_by(b.entity, b.kode_wilayah)).all()
    entities = sorted({x.entity for x in batches})
    kodes = sorted(set(kode_wilayah or ()) | ({x.kode_wilayah for x in batches} if not kode_wilayah else set()))
    grid = []
    complete = 0
    for kode in kodes:
        cells = []
        for entity in entities:
            x = latest.get((entity, kode))
            status = x.status if x is not None else "tidak ada"
            complete += status in SETTLED
            cells.append({"status": status, "batch_id": x.batch_id if x is not None else None,
                          "css_class": "ok" if status in SETTLED else "gagal"})
        grid.append({"kode": kode, "cells": cells})
    total = len(kodes) * len(entities)
    days, rates = _pass_rates(dq_rows)
    freshness = []
    max_age = _max_age(source)
    for entity, kode, last in sorted(fresh, key=lambda r: (r[0], r[1])):
        if kode_wilayah and kode not in kode_wilayah:
            continue
        last = _aware(last)
        age = (as_of - last).total_seconds() / 3600 if last else None
        freshness.append({"entity": entity, "kode": kode, "last_success": last, "age_hours": age,
                          "max_age_hours": max_age(entity),
                          "css_class": "ok" if age is not None and age <= max_age(entity) else "warn"})
    return {
        "source": source, "periode": periode, "generated_at": as_of, "kab_kota": kodes, "entities": entities,
        "batches": [x._asdict() | {"message": None} for x in batches],  # free text stays out of the page
        "days": days, "pass_rates": rates,
        "quarantine_reasons": {e: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))
                               for e, c in sorted(reasons.items())},
        "freshness": freshness, "grid": grid, "complete": complete, "total": total,
        "complete_percent": 100.0 * complete / total if total else 0.0,
        "unpublished_partitions": sum(1 for x in latest.values() if x.status not in SETTLED),
    }


def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    from spm.reporting.lokal import install

    install(env)  # WIB times, Indonesian statuses, decimal commas
    env.filters["page_filename"] = page_filename
    return env


def output_dir(out: Path | None = None) -> Path:
    from spm.settings import spm_home

    return Path(out) if out else spm_home() / "reports" / "kualitas"


def write_pages(engine: sa.Engine, out: Path | None = None, sources: list[str] | None = None,
                  periode: str | None = None, kode_wilayah: list[str] | None = None,
                  as_of: datetime | None = None) -> list[QualityPage]:
    """Write the page of every source × period present in etl_batch (filtered), with index pages."""
    as_of = as_of or datetime.now(timezone.utc)
    root = output_dir(out)
    env = _env()
    gx_batch: dict[int, list] = {}
    gx_error: BaseException | None = None
    try:
        from spm.reporting.gx_docs import build_docs

        gx_batch = build_docs(engine, root, sources, periode, kode_wilayah, as_of).per_batch()
    except Exception as exc:  # noqa: BLE001 - the project's pages are still written; the error is raised after
        log.exception("GX Data Docs could not be built")
        gx_error = exc
    q = sa.select(etl_batch.c.source, etl_batch.c.periode).distinct()
    if sources:
        q = q.where(etl_batch.c.source.in_(sources))
    if periode:
        q = q.where(etl_batch.c.periode == periode)
    with engine.connect() as conn:
        pairs = sorted(conn.execute(q).all())
    pages: list[QualityPage] = []
    per_source: dict[str, list[QualityPage]] = defaultdict(list)
    for source, per in pairs:
        data = collect(engine, source, per, kode_wilayah, as_of)
        data["gx"] = {x["batch_id"]: gx_batch[x["batch_id"]] for x in data["batches"] if x["batch_id"] in gx_batch}
        path = root / source / f"{page_filename(per)}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template("kualitas.html.j2").render(page_kind="period", **data), encoding="utf-8")
        h = QualityPage(source, per, path, data["complete_percent"], data["unpublished_partitions"])
        pages.append(h)
        per_source[source].append(h)
    for source, items in per_source.items():
        (root / source / "index.html").write_text(env.get_template("kualitas.html.j2").render(
            page_kind="source", source=source, pages=sorted(items, key=lambda h: h.periode, reverse=True),
            generated_at=as_of), encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(env.get_template("kualitas.html.j2").render(
        page_kind="index", sources={s: len(v) for s, v in sorted(per_source.items())},
        unpublished={s: sum(h.unpublished_partitions for h in v) for s, v in per_source.items()}, generated_at=as_of,
        gx_exists=(root / "gx" / "index.html").exists(),
        gx_error=type(gx_error).__name__ if gx_error else None), encoding="utf-8")
    if gx_error is not None:
        raise gx_error
    return pages


def write_all_pages(engine: sa.Engine, args) -> int:
    """`spm kualitas`: write the pages and say where they are."""
    from spm.warehouse.db import require_current_schema

    require_current_schema(engine)
    pages = write_pages(engine, getattr(args, "keluaran", None), getattr(args, "sumber", None),
                          getattr(args, "periode", None), getattr(args, "kode_wilayah", None))
    root = output_dir(getattr(args, "keluaran", None))
    if not pages:
        print(f"no batches match: nothing to report (index written to {root / 'index.html'})")
        return 0
    for h in pages:
        print(f"{h.source:<10} {h.periode:<40} {h.complete_percent:5.1f} % complete, "
              f"{h.unpublished_partitions} partition(s) not published  {h.path}")
    print(f"index: {root / 'index.html'}")
    if (root / "gx" / "index.html").exists():
        print(f"GX Data Docs: {root / 'gx' / 'index.html'}")
    return 0
