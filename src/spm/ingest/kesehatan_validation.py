"""Validation of a health window's batches: the GX suite over chunked frames, tallies summed over the
chunks (a column mean over the whole batch), quarantine of rows failing warning expectations, the
verdict of a batch (dq_result, critical expectations, the quarantine gate), and the suite
parameters from kualitas.yaml. The stream (spm.ingest.kesehatan_stream) validates chunks as they
download; `validate_batch` is the path of a batch validated from staging afterwards."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from spm.config import load_yaml
from spm.errors import ConfigError
from spm.ingest.kesehatan_spec import PASIEN, SPECS, Window, validate_chunk_rows
from spm.ingest.wap import BatchOutcome, EntitySpec, _plain, record_verdict, verdict
from spm.warehouse.dq_results import write_dq_results
from spm.warehouse.audit import now
from spm.warehouse.bulk import insert_rows
from spm.warehouse.tables import dim_wilayah, quarantine

log = logging.getLogger(__name__)

def dedup_batch(conn: sa.Connection, spec: EntitySpec, batch_id: int) -> int:
    """Keep one staged row per resource id: the newest meta.lastUpdated (a row without one loses),
    then the last received. Returns the number of rows dropped."""
    t = spec.staging
    id_col = spec.natural_key[0]
    o = t.alias("o")
    newer = sa.or_(
        o.c.last_updated > t.c.last_updated,
        sa.and_(t.c.last_updated.is_(None), o.c.last_updated.is_not(None)),
        sa.and_(o.c.last_updated == t.c.last_updated, o.c.row_id > t.c.row_id),
        sa.and_(o.c.last_updated.is_(None), t.c.last_updated.is_(None), o.c.row_id > t.c.row_id),
    )
    superseded = sa.exists().where(o.c.batch_id == batch_id, o.c[id_col] == t.c[id_col], newer)
    return conn.execute(sa.delete(t).where(t.c.batch_id == batch_id, t.c[id_col].is_not(None), superseded)).rowcount


def chunk_query(spec: EntitySpec, w: Window, batch_id: int) -> sa.Select:
    """The validation frame's columns: the staged ones, and for patients whether the desa exists,
    resolved by a join (a value set of every desa would be far costlier for GX than a boolean).
    A clinical resource's patient is not checked: a reference to a patient not loaded yet is valid
    data (a late arrival), published and counted once the patient arrives (spm.ingest.kesehatan_references)."""
    t = spec.staging
    cols = [t.c.row_id, *(t.c[c] for c in spec.columns)]
    if spec is PASIEN:
        # A current desa anywhere in the country (a patient may live outside the hub's kab/kota). The
        # join is on the code alone so that it probes dim_wilayah's primary key (SQLite would otherwise
        # scan every desa through the tingkat index for each patient).
        d = dim_wilayah
        desa = sa.and_(d.c.kode == t.c.kode_desa, d.c.berlaku_sampai.is_(None))
        return (sa.select(*cols, (d.c.tingkat == "desa_kelurahan").label("desa_dikenal"))
                .select_from(t.outerjoin(d, desa)).where(t.c.batch_id == batch_id))
    return sa.select(*cols).where(t.c.batch_id == batch_id)


LOINC_VALUE = "nilai_loinc_"  # a derived column: `nilai` of the rows whose `kode` is that LOINC code
DATETIME_COLUMNS = ("last_updated", "tanggal_mulai", "tanggal_efektif", "tanggal_onset")


def frame_of(rows: list, columns: list[str], per_row: Iterable[str] = ()):
    """The validation frame of rows `(row_id, *columns)`. Text columns other than `per_row` (those
    holding a value per row: the resource's own id, the person key) become categoricals: GX's checks
    of a chunk then test each distinct value once (null, length, set, regex), a third less time for
    the same results."""
    import pandas as pd
    from pandas.api.types import infer_dtype

    # Plain tuples: a list of SQLAlchemy Rows makes pandas probe every row for mapping keys.
    frame = pd.DataFrame([tuple(r) for r in rows] if rows and not isinstance(rows[0], tuple) else rows,
                         columns=columns, dtype=object)
    per_row = set(per_row)
    out = {}
    for c in columns:
        values = frame[c]
        if c in DATETIME_COLUMNS:
            # SQLite gives naive UTC, PostgreSQL and the flattened rows aware: one dtype for the window comparisons.
            out[c] = pd.to_datetime(values, utc=True)
        elif c == "desa_dikenal":
            out[c] = values.astype(bool)
        elif c == "tanggal_lahir":
            out[c] = pd.to_datetime(values).dt.tz_localize("UTC")
        elif c == "row_id":
            out[c] = values.astype("int64")
        elif c not in per_row and infer_dtype(values.to_numpy(), skipna=True) == "string":
            # Categories in order of appearance: Categorical(values) would sort them, a third of the cost.
            codes, uniques = pd.factorize(values.to_numpy())
            out[c] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(uniques, dtype="str")))
        else:
            out[c] = values.infer_objects()  # what the DataFrame constructor would have made of it
    return pd.DataFrame(out)


def per_row_columns(spec: EntitySpec) -> tuple[str, ...]:
    """A type's text columns that hold a value per row (no gain as categoricals)."""
    return (spec.natural_key[0], *(("person_key",) if "person_key" in spec.columns else ()))


def loinc_value_columns(suite: str) -> dict[str, str]:
    """The suite's derived columns `nilai_loinc_<code>` -> their LOINC code (`nilai_loinc_29463_7` -> `29463-7`)."""
    from spm.quality.gx_runner import load_suite_file

    columns = {e["kwargs"].get("column") for e in load_suite_file(suite)["expectations"]}
    return {c: c[len(LOINC_VALUE):].replace("_", "-") for c in sorted(c for c in columns if isinstance(c, str))
            if c.startswith(LOINC_VALUE)}


def add_derived(spec: EntitySpec, frame) -> None:
    """Add the columns the suite checks beside the staged ones: per bounded LOINC code, `nilai` where `kode`
    is that code, else null. GX then checks each bound in one pass over one column, where a
    `row_condition` made it filter the whole chunk again per code (a third of the validation time)."""
    import numpy as np
    import pandas as pd

    derived = loinc_value_columns(spec.suite)
    if not derived:
        return
    codes, uniques = pd.factorize(frame["kode"])
    position = {code: i for i, code in enumerate(uniques.tolist())}
    nilai = frame["nilai"].astype("float64")
    for column, code in derived.items():
        i = position.get(code)
        frame[column] = nilai.where(codes == i) if i is not None else np.nan


@dataclass
class _Tally:
    """One expectation's outcome summed over the chunks of a batch."""
    name: str
    expectation_type: str
    kolom: str | None
    severity: str
    success: bool = True
    element_count: int | None = 0
    unexpected_count: int | None = 0
    observed_value: str | None = None
    error: str | None = None

    def add(self, o) -> None:
        self.success = self.success and o.success
        self.element_count = None if self.element_count is None or o.element_count is None else \
            self.element_count + o.element_count
        self.unexpected_count = None if self.unexpected_count is None or o.unexpected_count is None else \
            self.unexpected_count + o.unexpected_count
        self.observed_value = o.observed_value if not o.success or self.observed_value is None else self.observed_value
        self.error = self.error or o.error

    @property
    def unexpected_percent(self) -> float | None:
        if self.unexpected_count is None or not self.element_count:
            return None if self.unexpected_count is None else 0.0
        return 100.0 * self.unexpected_count / self.element_count


MEAN = "expect_column_mean_to_be_between"


def _mean_bounds(suite: str, parameters: dict[str, Any]) -> dict[str, tuple]:
    """meta.name -> (min, max, strict_min, strict_max) of the suite's column-mean expectations."""
    from spm.quality.gx_runner import load_suite_file

    def value(v):
        return parameters.get(v["$PARAMETER"]) if isinstance(v, dict) and "$PARAMETER" in v else v

    return {e["meta"]["name"]: (value(e["kwargs"].get("min_value")), value(e["kwargs"].get("max_value")),
                                bool(e["kwargs"].get("strict_min")), bool(e["kwargs"].get("strict_max")))
            for e in load_suite_file(suite)["expectations"] if e["type"] == MEAN}


class BatchResults:
    """A batch's expectation outcomes over its chunks. Row-level counts add up; a column mean is the
    mean over the whole batch (the chunks' means weighted by their non-null values), checked
    against the suite's bounds, so the size of a chunk never changes a verdict."""

    def __init__(self, spec: EntitySpec, parameters: dict[str, Any], keep_gx: bool = True) -> None:
        self.spec = spec
        self.keep_gx = keep_gx
        self.tallies: dict[str, _Tally] = {}
        self.failed_ids: dict[str, list[int]] = {}
        self.means: dict[str, list[float]] = {}  # name -> [sum, count]
        self.bounds = _mean_bounds(spec.suite, parameters)
        self.quarantined = self.received = 0
        self.checked_at = now()
        self.gx: list[dict[str, Any] | None] = []  # GX's own result per chunk, scrubbed (the GX Data Docs)

    def add(self, report, frame) -> dict[int, list[str]]:
        """Absorb one chunk's report; the chunk's rows to quarantine."""
        from spm.quality.gx_scrub import scrub

        self.received += len(frame)
        if self.keep_gx:
            self.gx.append(scrub(report.gx_result) if report.gx_result is not None else None)
        for o in report.outcomes:
            tally = self.tallies.setdefault(o.name, _Tally(o.name, o.expectation_type, o.kolom, o.severity))
            if o.expectation_type == MEAN and o.name in self.bounds and o.error is None and o.observed_value:
                count = int(frame[o.kolom].notna().sum())
                part = self.means.setdefault(o.name, [0.0, 0])
                part[0] += float(json.loads(o.observed_value)) * count
                part[1] += count
            tally.add(o)
            if not o.success and len(self.failed_ids.setdefault(o.name, [])) < 200:
                self.failed_ids[o.name].extend(o.failed_row_ids[:200 - len(self.failed_ids[o.name])])
        bad = report.rows_to_quarantine()
        self.quarantined += len(bad)
        return bad

    def _final_means(self) -> None:
        for name, (total, count) in self.means.items():
            tally = self.tallies[name]
            if tally.error is not None or not count:
                continue
            mean = total / count
            lo, hi, strict_lo, strict_hi = self.bounds[name]
            ok = ((lo is None or (mean > lo if strict_lo else mean >= lo))
                  and (hi is None or (mean < hi if strict_hi else mean <= hi)))
            tally.success, tally.observed_value = ok, json.dumps(mean)

    def to_dict(self) -> dict[str, Any]:
        self._final_means()
        return {"tallies": [dict(t.__dict__) for t in self.tallies.values()], "failed_ids": self.failed_ids,
                "quarantined": self.quarantined, "received": self.received,
                "checked_at": self.checked_at.isoformat(), **({"gx": self.gx} if self.keep_gx else {})}


def validate_batch(engine: sa.Engine, spec: EntitySpec, w: Window, batch_id: int, parameters: dict[str, Any],
                   dropped_before: int = 0) -> BatchOutcome:
    """Run the entity's suite over the staged batch in chunks; store dq_result and quarantine; mark
    `lolos`; decide whether the batch may be published (like spm.ingest.wap.validate, chunked).
    The path of a batch the stream could not validate; `dropped_before` older versions were
    already left out while streaming."""
    from spm.quality.gx_runner import SuiteRunner

    with engine.begin() as conn:
        duplicates = dedup_batch(conn, spec, batch_id) + dropped_before
    query = chunk_query(spec, w, batch_id)
    columns = [c.name for c in query.selected_columns]
    results = BatchResults(spec, parameters)
    suite = SuiteRunner(spec.suite)  # one GX validation definition for every chunk (~50 ms each saved)
    last = -1
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query.where(spec.staging.c.row_id > last).order_by(spec.staging.c.row_id)
                                .limit(validate_chunk_rows())).all()
        if not rows:
            break
        last = rows[-1][0]
        frame = frame_of(rows, columns, per_row_columns(spec))
        del rows
        add_derived(spec, frame)
        report = suite.validate(frame, parameters)
        bad = results.add(report, frame)
        if bad:
            _quarantine(engine, spec, batch_id, frame, bad, results.checked_at)
    with engine.begin() as conn:
        conn.execute(sa.update(spec.staging).where(spec.staging.c.batch_id == batch_id,
                                                   spec.staging.c.lolos.is_(None)).values(lolos=True))
    return conclude(engine, spec, batch_id, {**results.to_dict(), "duplicates": duplicates})


def conclude(engine: sa.Engine, spec: EntitySpec, batch_id: int, results: dict[str, Any]) -> BatchOutcome:
    """Store a batch's dq_result rows (and GX's own results) and decide whether it may be published."""
    tallies = [_Tally(**t) for t in results["tallies"]]
    failed_ids = results["failed_ids"]
    quarantined, received, duplicates = results["quarantined"], results["received"], results["duplicates"]
    checked_at = datetime.fromisoformat(results["checked_at"])
    with engine.begin() as conn:
        # A batch validated from staging brings GX's results (one page per chunk); a streamed batch
        # stored each chunk's result as it went.
        write_dq_results(conn, batch_id, spec.suite, tallies, checked_at, results.get("gx", ...), failed_ids=failed_ids,
                         chunks_of=validate_chunk_rows())
        status, message = verdict(spec.suite, tallies, quarantined, received)
        record_verdict(conn, batch_id, status, rows_quarantined=quarantined, rows_duplicate=duplicates,
                       message=message)
    log.info("batch %s (%s) %s: %s", batch_id, spec.entity, status, message)
    return BatchOutcome(batch_id, status, message, received + duplicates, 0, quarantined)


QUARANTINE_COLUMNS = ("batch_id", "natural_key", "failed_expectations", "row_data", "quarantined_at")


def quarantine_rows(spec: EntitySpec, batch_id: int, frame, bad: dict[int, list[str]],
                     checked_at: datetime) -> Iterable[tuple]:
    # The LOINC value columns repeat `nilai`; desa_dikenal stays, as it says why a patient was quarantined.
    records = frame.drop(columns=list(loinc_value_columns(spec.suite))).set_index("row_id", drop=False)
    id_col = spec.natural_key[0]
    for rid, names in sorted(bad.items()):
        # Staged columns hold no NIK or name: the row is safe to keep as it is.
        rec = {k: _json_value(v) for k, v in records.loc[rid].to_dict().items()}
        yield (batch_id, "" if rec.get(id_col) is None else str(rec[id_col]), ",".join(names), rec, checked_at)


def _quarantine(engine: sa.Engine, spec: EntitySpec, batch_id: int, frame, bad: dict[int, list[str]],
                checked_at: datetime) -> None:
    t = spec.staging
    with engine.begin() as conn:
        insert_rows(conn, quarantine, QUARANTINE_COLUMNS, quarantine_rows(spec, batch_id, frame, bad, checked_at))
        ids = list(bad)
        for i in range(0, len(ids), 500):
            conn.execute(sa.update(t).where(t.c.batch_id == batch_id, t.c.row_id.in_(ids[i:i + 500]))
                         .values(lolos=False))


def _json_value(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def kesehatan_config() -> dict[str, Any]:
    cfg = load_yaml("kualitas.yaml").get("kesehatan")
    if not isinstance(cfg, dict):
        raise ConfigError("kualitas.yaml has no `kesehatan:` section (nik_valid_min_persen, batas_fisiologis)")
    return cfg


def observation_bounds(cfg: dict[str, Any] | None = None) -> dict[str, float]:
    """Suite parameters `loinc_<code>_min` / `_maks` (`29463-7` -> `loinc_29463_7_min`) from kualitas.yaml kesehatan.batas_fisiologis."""
    cfg = cfg if cfg is not None else kesehatan_config()
    bounds = cfg.get("batas_fisiologis")
    if not isinstance(bounds, dict) or not bounds:
        raise ConfigError("kualitas.yaml: kesehatan.batas_fisiologis (LOINC code -> {min, maks}) is missing")
    params: dict[str, float] = {}
    for code, b in bounds.items():
        try:
            lo, hi = float(b["min"]), float(b["maks"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"kualitas.yaml: kesehatan.batas_fisiologis.{code} needs numbers min and maks") from None
        if lo >= hi:
            raise ConfigError(f"kualitas.yaml: kesehatan.batas_fisiologis.{code}: min {lo} is not below maks {hi}")
        name = "loinc_" + str(code).replace("-", "_")  # GX parameter names are identifiers
        params[f"{name}_min"], params[f"{name}_maks"] = lo, hi
    return params


def _suite_parameters(suite: str) -> set[str]:
    from spm.quality.gx_runner import load_suite_file

    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if set(node) == {"$PARAMETER"}:
                found.add(node["$PARAMETER"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(load_suite_file(suite)["expectations"])
    return found


def validation_parameters(entity: str, w: Window) -> dict[str, Any]:
    import pandas as pd

    cfg = kesehatan_config()
    params: dict[str, Any] = {"dari": pd.Timestamp(w.dari).tz_convert("UTC"),
                              "sampai": pd.Timestamp(w.sampai).tz_convert("UTC")}
    if entity == "pasien":
        try:
            value = float(cfg["nik_valid_min_persen"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError("kualitas.yaml: kesehatan.nik_valid_min_persen (a percentage) is missing or not a "
                              "number") from None
        if not 0 <= value <= 100:
            raise ConfigError(f"kualitas.yaml: kesehatan.nik_valid_min_persen {value} is not between 0 and 100")
        params["nik_valid_min"] = value / 100.0
    if entity == "observasi":
        params.update(observation_bounds(cfg))
    needed = _suite_parameters(SPECS[entity].suite)
    missing = sorted(needed - set(params))
    if missing:
        raise ConfigError(f"expectations/{SPECS[entity].suite}.json needs parameter(s) {', '.join(missing)}: add "
                          "them to kualitas.yaml kesehatan.batas_fisiologis (LOINC code -> {min, maks})")
    unused = sorted(k for k in params if k not in needed and k not in ("dari", "sampai"))
    if unused:
        raise ConfigError(f"kualitas.yaml kesehatan: {', '.join(unused)} is not checked by expectations/"
                          f"{SPECS[entity].suite}.json (add an expectation for the code, or remove the bound)")
    return params
