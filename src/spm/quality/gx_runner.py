"""Run a versioned GX suite (`expectations/<name>.json`) on a batch held as a DataFrame.

GX is called inside our own tasks (DESIGN §9). A pandas batch with `result_format` COMPLETE and
`unexpected_index_column_names` lists every failing row id, which the quarantine needs. Each
expectation's `meta.severity` is `critical` (stops the batch) or `warning` (quarantines the
failing rows, or flags the batch when the expectation is not row-level); `meta.name` is the short
name written to `dq_result` and `quarantine`. Only row ids and counts leave this module: never the
failing values, which may be personal data. GX's own result object leaves it only privacy-scrubbed
(`ValidationReport.gx_result`, see `spm.quality.gx_scrub`), for the GX Data Docs.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from spm.errors import ConfigError
from spm.settings import expectations_dir

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "warning")
ROW_ID = "row_id"


@dataclass(frozen=True)
class ExpectationOutcome:
    name: str
    expectation_type: str
    kolom: str | None
    severity: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    observed_value: str | None
    failed_row_ids: tuple[int, ...] = ()
    error: str | None = None


@dataclass
class ValidationReport:
    suite: str
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    # GX's ExpectationSuiteValidationResult.to_json_dict(), scrubbed of failing values (spm.quality.gx_scrub);
    # stored in dq_validation_result for the GX Data Docs. None if it could not be produced.
    gx_result: dict[str, Any] | None = None

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == "critical" and not o.success]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.severity == "warning" and not o.success]

    def rows_to_quarantine(self) -> dict[int, list[str]]:
        """Row id -> names of the warning expectations it failed."""
        out: dict[int, list[str]] = {}
        for o in self.warnings:
            for rid in o.failed_row_ids:
                out.setdefault(rid, []).append(o.name)
        return out

    def summary(self) -> str:
        return summary(self.suite, self.outcomes)


def summary(suite: str, outcomes) -> str:
    """`<suite>: n/m passed; failed: name (severity, count), ...` of any expectation outcomes."""
    failed = [f"{o.name} ({o.severity}, {o.unexpected_count if o.unexpected_count is not None else 'batch'})"
              for o in outcomes if not o.success]
    return f"{suite}: {len(outcomes) - len(failed)}/{len(outcomes)} passed" + (
        f"; failed: {', '.join(failed)}" if failed else "")


def load_suite_file(name: str) -> dict[str, Any]:
    path = expectations_dir() / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"expectation suite {path} is missing") from None
    except ValueError as exc:
        raise ConfigError(f"expectation suite {path} is not valid JSON: {exc}") from None
    for i, exp in enumerate(data.get("expectations", []), start=1):
        meta = exp.get("meta") or {}
        if meta.get("severity") not in SEVERITIES:
            raise ConfigError(f"{path.name}: expectation {i} ({exp.get('type')}) needs meta.severity in {SEVERITIES}")
        if not meta.get("name"):
            raise ConfigError(f"{path.name}: expectation {i} ({exp.get('type')}) needs meta.name")
    _apply_severities(name, data)
    return data


def _apply_severities(suite: str, data: dict[str, Any]) -> None:
    """kualitas.yaml `keparahan.<suite>.<expectation name>` overrides the suite's meta.severity, so
    a site decides whether a plausibility gate stops the batch or only warns."""
    from spm.config import load_yaml

    overrides = load_yaml("kualitas.yaml").get("keparahan") or {}
    if not isinstance(overrides, dict):
        raise ConfigError("kualitas.yaml: keparahan must map suites to {expectation name: severity}")
    for named in overrides:
        if not (expectations_dir() / f"{named}.json").is_file():
            raise ConfigError(f"kualitas.yaml: keparahan names suite {named!r}, which does not exist")
    chosen = overrides.get(suite) or {}
    by_name = {(e.get("meta") or {}).get("name"): e for e in data.get("expectations", [])}
    for exp_name, severity in chosen.items():
        if exp_name not in by_name:
            raise ConfigError(f"kualitas.yaml: keparahan.{suite}.{exp_name}: no such expectation in {suite}.json")
        if severity not in SEVERITIES:
            raise ConfigError(f"kualitas.yaml: keparahan.{suite}.{exp_name} is {severity!r}, not one of {SEVERITIES}")
        by_name[exp_name]["meta"]["severity"] = severity


@lru_cache(maxsize=1)
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    from great_expectations.execution_engine import pandas_execution_engine

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = {"globally": False}
    # GX hashes every in-memory batch below this size into a batch marker that nothing here reads
    # (and the Data Docs copy drops): a fifth of the time of validating a health chunk. 0 skips it.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return ctx


def validation_definition(suite_name: str):
    """Get-or-create the data source, asset, batch definition, suite and validation definition (the
    suite as its file says now). ~50 ms: a batch validated in chunks makes it once (SuiteRunner)."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    ctx = _context()
    try:  # get-or-create: add_or_update would drop the other suites' assets, and their definitions with them
        source = ctx.data_sources.get("spm_batches")
    except LookupError:
        source = ctx.data_sources.add_pandas("spm_batches")
    try:
        asset = source.get_asset(suite_name)
    except LookupError:
        asset = source.add_dataframe_asset(suite_name)
    try:
        batch_def = asset.get_batch_definition("batch")
    except (KeyError, LookupError):
        batch_def = asset.add_batch_definition_whole_dataframe("batch")
    data = load_suite_file(suite_name)
    suite = gx.ExpectationSuite(
        name=suite_name,
        expectations=[ExpectationConfiguration(**e).to_domain_obj() for e in data["expectations"]],
        meta=data.get("meta") or {},
    )
    try:
        ctx.suites.delete(suite_name)
    except Exception:  # noqa: BLE001 - absent suite
        pass
    suite = ctx.suites.add(suite)
    vd_name = f"{suite_name}_validation"
    try:
        ctx.validation_definitions.delete(vd_name)
    except Exception:  # noqa: BLE001 - absent definition
        pass
    return ctx.validation_definitions.add(gx.ValidationDefinition(data=batch_def, suite=suite, name=vd_name))


class SuiteRunner:
    """Validates the chunks of one batch with one validation definition (validation_definition,
    ~50 ms), made at the first chunk. If the process made the same suite's definition again since
    (another batch of that type), GX refuses the older one as stale: it is made again, once."""

    def __init__(self, suite_name: str) -> None:
        self.suite_name = suite_name
        self._definition = None

    def validate(self, frame, parameters: dict[str, Any] | None = None) -> ValidationReport:
        from great_expectations.exceptions.resource_freshness import ResourceFreshnessAggregateError

        if self._definition is None:
            self._definition = validation_definition(self.suite_name)
        try:
            return validate_frame(self.suite_name, frame, parameters, self._definition)
        except ResourceFreshnessAggregateError:
            self._definition = validation_definition(self.suite_name)
            return validate_frame(self.suite_name, frame, parameters, self._definition)


def validate_frame(suite_name: str, frame, parameters: dict[str, Any] | None = None,
                   definition=None) -> ValidationReport:
    """Validate `frame` (which must have an integer `row_id` column) against a suite, with
    `definition` (validation_definition(suite_name)) when given, else one made now."""
    if ROW_ID not in frame.columns:
        raise ValueError(f"frame for {suite_name} needs a {ROW_ID!r} column")
    vd = definition if definition is not None else validation_definition(suite_name)
    result = vd.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters or {},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID]},
    )
    from spm.quality.gx_scrub import scrub_message, scrub_observed

    report = ValidationReport(suite_name)
    try:
        from spm.quality.gx_scrub import from_gx

        report.gx_result = from_gx(result)
    except Exception:  # noqa: BLE001 - the Data Docs copy must never stop a validation
        log.warning("GX validation result of %s not kept for the Data Docs", suite_name, exc_info=True)
    for r in result.results:
        cfg = r.expectation_config
        meta = cfg.meta or {}
        res = r.result or {}
        index_list = res.get("unexpected_index_list") or []
        row_ids = tuple(int(item[ROW_ID]) for item in index_list if isinstance(item, dict) and ROW_ID in item)
        exc_info = r.exception_info or {}
        error = exc_info.get("exception_message") if exc_info.get("raised_exception") else None
        observed = res.get("observed_value")
        report.outcomes.append(ExpectationOutcome(
            name=meta["name"],
            expectation_type=cfg.type,
            kolom=cfg.kwargs.get("column"),
            severity=meta["severity"],
            success=bool(r.success) and error is None,
            element_count=_int(res.get("element_count")),
            unexpected_count=_int(res.get("unexpected_count")),
            unexpected_percent=_float(res.get("unexpected_percent")),
            # Same scrub as GX's stored result: a min, max or most common value may be a NIK or a name.
            observed_value=None if observed is None else _jsonable(scrub_observed(cfg.type, observed)),
            failed_row_ids=row_ids,
            error=scrub_message(error),
        ))
    return report


def _int(v):
    return None if v is None else int(v)


def _float(v):
    return None if v is None else float(v)


def _jsonable(v) -> str:
    return json.dumps(v, default=lambda o: o.item() if hasattr(o, "item") else str(o), ensure_ascii=False)
