"""Great Expectations' own validation result, privacy-scrubbed, for the warehouse and the GX Data Docs.

A batch validated with `result_format` COMPLETE (`spm.quality.gx_runner`) gives an
`ExpectationSuiteValidationResult` that lists the failing values, their counts and the failing rows'
index values: personal data when the column holds a NIK, a name or a birth date (DESIGN §4). What
is kept (`scrub`) is GX's own JSON form (`to_json_dict()`) with, per expectation:

- kept: `success`, the expectation configuration (type, kwargs with the suite parameters filled in,
  meta with the project's name and severity, id), the result's counts and percents (`element_count`,
  `missing_count`, `missing_percent`, `unexpected_count`, `unexpected_percent`,
  `unexpected_percent_total`, `unexpected_percent_nonmissing`), and `observed_value` when it is a
  statistic (a number from a table or aggregate expectation other than min / max / median /
  quantiles / most common value) or a table's column names;
- removed: `partial_unexpected_list`, `unexpected_list`, `partial_unexpected_counts`,
  `partial_unexpected_index_list`, `unexpected_index_list`, `unexpected_index_query`, `details`,
  any other result key, observed values that could be a raw value (replaced by `DISEMBUNYIKAN`),
  exception tracebacks; exception messages keep their text with quoted strings and long digit runs
  masked. Floats are kept to 12 significant digits (a mean such as 0.7242921013412816 would
  otherwise show a run of 16 digits, the shape of a NIK, to anyone scanning for them).

The suite-level statistics and meta (GX version, run id, validation time, batch markers, the data
asset) stay; batch parameters and identifiers (the DataFrame) keep only GX's placeholder. The scrub
works on the dict form, so it can be applied to any stored or freshly serialised result, and is
idempotent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

DISEMBUNYIKAN = "[disembunyikan: nilai data tidak disimpan]"

KEPT_RESULT_KEYS = (
    "element_count", "missing_count", "missing_percent", "unexpected_count", "unexpected_percent",
    "unexpected_percent_total", "unexpected_percent_nonmissing", "observed_value",
)
# Observed values that are (or may be) one of the batch's own values, not a statistic.
RAW_VALUE_TYPES = frozenset({
    "expect_column_min_to_be_between", "expect_column_max_to_be_between", "expect_column_median_to_be_between",
    "expect_column_quantile_values_to_be_between", "expect_column_most_common_value_to_be_in_set",
})
# Observed values that are column names of the batch's schema.
COLUMN_NAME_TYPES = frozenset({
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list",
})
KEPT_META_KEYS = (
    "great_expectations_version", "batch_spec", "batch_markers", "active_batch_definition", "validation_id",
    "checkpoint_id", "run_id", "validation_time", "batch_parameters", "expectation_suite_name",
)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_DIGITS = re.compile(r"\d{5,}")


def _placeholder(value: Any) -> Any:
    """GX writes a DataFrame batch parameter as `<DATAFRAME>`; anything else is replaced."""
    if isinstance(value, str) and re.fullmatch(r"<[A-Z_]+>", value):
        return value
    return "<DISEMBUNYIKAN>"


def scrub_observed(expectation_type: str, value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # a NumPy scalar (a pandas sum or count) is a number like any other
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if expectation_type in RAW_VALUE_TYPES:
            return DISEMBUNYIKAN
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if expectation_type in COLUMN_NAME_TYPES and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return DISEMBUNYIKAN


def scrub_message(message: Any) -> str | None:
    if not message:
        return None
    text = _DIGITS.sub("…", _QUOTED.sub("'…'", str(message)))
    return text[:500]


def _meta(meta: dict[str, Any]) -> dict[str, Any]:
    out = {k: meta[k] for k in KEPT_META_KEYS if k in meta}
    if isinstance(out.get("batch_parameters"), dict):
        out["batch_parameters"] = {k: _placeholder(v) for k, v in out["batch_parameters"].items()}
    if isinstance(out.get("batch_spec"), dict):
        out["batch_spec"] = {k: _placeholder(v) if k == "batch_data" else v for k, v in out["batch_spec"].items()
                             if k in ("batch_data", "data_asset_name", "reader_method")}
    abd = out.get("active_batch_definition")
    if isinstance(abd, dict) and isinstance(abd.get("batch_identifiers"), dict):
        out["active_batch_definition"] = {**abd, "batch_identifiers": {
            k: _placeholder(v) for k, v in abd["batch_identifiers"].items()}}
    return out


def _expectation_result(r: dict[str, Any]) -> dict[str, Any]:
    cfg = r.get("expectation_config") or {}
    etype = cfg.get("type") or cfg.get("expectation_type") or ""
    res = r.get("result") or {}
    kept = {k: res[k] for k in KEPT_RESULT_KEYS if k in res and k != "observed_value"}
    if "observed_value" in res:
        kept["observed_value"] = scrub_observed(etype, res["observed_value"])
    exc = r.get("exception_info") or {}
    if "raised_exception" not in exc and exc:  # several exceptions keyed by metric id
        raised = any(isinstance(v, dict) and v.get("raised_exception") for v in exc.values())
        message = "; ".join(str(v.get("exception_message")) for v in exc.values()
                            if isinstance(v, dict) and v.get("exception_message"))
    else:
        raised, message = bool(exc.get("raised_exception")), exc.get("exception_message")
    return {
        "success": r.get("success"),
        "expectation_config": cfg,
        "result": kept,
        "meta": {k: v for k, v in (r.get("meta") or {}).items() if isinstance(v, (str, int, float, bool))},
        "exception_info": {"raised_exception": raised, "exception_traceback": None,
                           "exception_message": scrub_message(message)},
    }


def _rounded(value: Any) -> Any:
    """Floats to 12 significant digits: GX's 0.7242921013412816 would look like a 16-digit NIK to a scanner."""
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def scrub(result: dict[str, Any]) -> dict[str, Any]:
    """The scrubbed copy of a validation result in its `to_json_dict()` form (see the module doc)."""
    return _rounded({
        "success": result.get("success"),
        "suite_name": result.get("suite_name"),
        "suite_parameters": result.get("suite_parameters") or {},
        "statistics": result.get("statistics") or {},
        "meta": _meta(result.get("meta") or {}),
        "id": result.get("id"),
        "results": [_expectation_result(r) for r in result.get("results") or []],
    })


def from_gx(result) -> dict[str, Any]:
    """Scrub a live `ExpectationSuiteValidationResult` without serialising its failing-value lists.

    GX's `to_json_dict()` deep-copies the whole result, which with COMPLETE results of a large batch
    means every failing value; here each expectation's result is cut down first, then GX serialises
    the (small) copy, and the JSON form is scrubbed once more."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    kecil = []
    for r in result.results:
        cfg = r.expectation_config
        etype = cfg.type if cfg is not None else ""
        res = r.result or {}
        cut = {k: res[k] for k in KEPT_RESULT_KEYS if k in res and k != "observed_value"}
        if "observed_value" in res:
            cut["observed_value"] = scrub_observed(etype, _plain(res["observed_value"]))
        kecil.append(ExpectationValidationResult(
            success=r.success, expectation_config=cfg, result=cut, meta=r.meta,
            exception_info=r.exception_info))
    copy = ExpectationSuiteValidationResult(
        success=result.success, results=kecil, suite_name=result.suite_name,
        suite_parameters=result.suite_parameters, statistics=result.statistics, meta=result.meta,
        batch_id=getattr(result, "batch_id", None), id=result.id)
    return scrub(json.loads(json.dumps(copy.to_json_dict(), default=str)))


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            return value.item()
        except (ValueError, TypeError):
            return str(value)
    return value
