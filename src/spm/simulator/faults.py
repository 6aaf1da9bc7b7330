"""Faults the simulated sources can show, switchable per run and while running.

`Faults` holds the switches; servers read them on every request, so a test may change them
between two calls. Which request or record a fault hits is decided by hashes of the request URL or
record index, never by chance: the same run hits the same pages and rows again. A URL picked for a
transport fault fails its first `failing_attempts` attempts and then succeeds, so a client that
retries gets through; `FaultLog` counts what was injected so tests can observe it.

Transport faults (all data endpoints): `slow`, `errors` (5xx), `rate_limit` (429 + Retry-After),
`truncate` (a 200 whose JSON body is cut short), `token_expiry` (FHIR tokens die after a number of
uses; `SimulatorServers.expire_tokens()` kills them at once), `missing` (a population semester,
birth year or Dapodik semester answers 404, or an empty table, as if not yet delivered).
Data faults: `transfers` (a learner listed twice in a semester: `mutasi` at the school left,
`aktif` at the new one), `invalid_nik` (learners' and patients' NIK missing or malformed),
`fhir_updates` (the second versions of updated FHIR resources are served instead of the first).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field, fields

import numpy as np

from spm.simulator.determinism import hash_uniform, stream_key

MISSING_MODES = ("404", "empty")
_MISSING_FEED = re.compile(r"^(penduduk:\d{4}-[12]|kelahiran:\d{4}|dapodik:\d{4}[12])$")

NIK_OK, NIK_MISSING, NIK_MALFORMED = 0, 1, 2


@dataclass
class Faults:
    slow_seconds: float = 0.0  # delay before answering a picked data request
    slow_share: float = 1.0  # share of data requests that are slow (when slow_seconds > 0)
    error_share: float = 0.0  # share of data URLs answering `error_status`
    error_status: int = 503
    rate_limit_share: float = 0.0  # share of data URLs answering 429
    retry_after_seconds: int = 1
    truncate_share: float = 0.0  # share of JSON pages answered 200 with a body cut short
    failing_attempts: int = 1  # attempts of a picked URL that fail before it answers normally
    token_expiry_after: int | None = None  # FHIR: a token dies after this many data requests
    transfer_share: float = 0.0  # Dapodik: share of aktif learners also listed `mutasi` elsewhere
    invalid_nik_share: float = 0.0  # share of learner rows and patients with a missing/malformed NIK
    fhir_updates: bool = False  # serve the second version of updated FHIR resources
    missing_feeds: set[str] = field(default_factory=set)  # e.g. {"penduduk:2024-2", "dapodik:20241"}
    missing_mode: str = "404"  # "404" or "empty"
    # Dapodik `results` and FHIR `Bundle.total` announce this many rows more (or, negative, fewer)
    # than the listing holds: a source whose count and rows disagree.
    announced_total_offset: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self):
        for name in ("slow_share", "error_share", "rate_limit_share", "truncate_share", "transfer_share",
                     "invalid_nik_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"fault {name} = {value!r} must be a share between 0 and 1")
        if self.slow_seconds < 0 or self.retry_after_seconds < 0 or self.failing_attempts < 1:
            raise ValueError("slow_seconds and retry_after_seconds must be >= 0, failing_attempts >= 1")
        if not 500 <= self.error_status <= 599:
            raise ValueError(f"error_status {self.error_status!r} must be a 5xx status")
        if self.token_expiry_after is not None and self.token_expiry_after < 1:
            raise ValueError("token_expiry_after must be at least 1")
        if self.missing_mode not in MISSING_MODES:
            raise ValueError(f"missing_mode {self.missing_mode!r} must be one of {', '.join(MISSING_MODES)}")
        self.missing_feeds = set(self.missing_feeds)
        for feed in self.missing_feeds:
            if not _MISSING_FEED.match(feed):
                raise ValueError(
                    f"missing feed {feed!r} is not penduduk:YYYY-S, kelahiran:YYYY or dapodik:YYYYS"
                )

    def set(self, **changes):
        """Change switches at run time (validated; unknown names are an error)."""
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown fault switch(es): {', '.join(sorted(unknown))}")
        old = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            self.validate()
        except ValueError:
            for name, value in old.items():
                setattr(self, name, value)
            raise

    def clear(self):
        """Every switch back to its default: a source that behaves."""
        self.set(**vars(Faults()))

    def feed_missing(self, feed: str) -> bool:
        return feed in self.missing_feeds


# Command-line fault names -> the switch they set (value given as NAME=VALUE, or NAME alone).
FAULT_SWITCHES = {
    "slow": "slow_seconds",
    "slow_share": "slow_share",
    "errors": "error_share",
    "error_status": "error_status",
    "rate_limit": "rate_limit_share",
    "retry_after": "retry_after_seconds",
    "truncate": "truncate_share",
    "failing_attempts": "failing_attempts",
    "token_expiry": "token_expiry_after",
    "transfers": "transfer_share",
    "invalid_nik": "invalid_nik_share",
    "fhir_updates": "fhir_updates",
    "missing": "missing_feeds",
    "missing_mode": "missing_mode",
}


def parse_fault(text: str) -> tuple[str, object]:
    """`errors=0.1`, `fhir_updates`, `missing=penduduk:2024-2` -> (switch, value)."""
    name, _, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if name not in FAULT_SWITCHES:
        raise ValueError(f"unknown fault {name!r} (known: {', '.join(FAULT_SWITCHES)})")
    switch = FAULT_SWITCHES[name]
    if switch == "fhir_updates":
        if value not in ("", "1", "true", "on", "0", "false", "off"):
            raise ValueError(f"fault fhir_updates takes on/off, not {value!r}")
        return switch, value in ("", "1", "true", "on")
    if not value:
        raise ValueError(f"fault {name} needs a value: {name}=VALUE")
    if switch == "missing_feeds":
        return switch, {v.strip() for v in value.split(",") if v.strip()}
    if switch == "missing_mode":
        return switch, value
    try:
        number = float(value) if switch.endswith(("share", "seconds")) and switch != "retry_after_seconds" else int(value)
    except ValueError:
        raise ValueError(f"fault {name} needs a number, not {value!r}") from None
    return switch, number


class FaultLog:
    """Thread-safe counts of what servers did: requests, and each fault injected."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._attempts: Counter[tuple[str, str]] = Counter()

    def count(self, what: str, n: int = 1):
        with self._lock:
            self.counts[what] += n

    def attempt(self, fault: str, url: str) -> int:
        """Number of this attempt of `url` under `fault` (1 for the first)."""
        with self._lock:
            self._attempts[(fault, url)] += 1
            return self._attempts[(fault, url)]

    def __getitem__(self, what: str) -> int:
        with self._lock:
            return self.counts[what]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


def url_picked(seed: int, fault: str, url: str, share: float) -> bool:
    """Whether a fault hits this URL (path and query): the same answer every time."""
    if share <= 0:
        return False
    return bool(hash_uniform(stream_key(seed, "fault", fault, url), 0) < share)


def nik_fault(seed: int, scope: str, index, share: float) -> np.ndarray:
    """Per record: NIK_OK, NIK_MISSING or NIK_MALFORMED under the `invalid_nik` fault.

    `scope` names the record set (e.g. "learner:32.71:20241" or "patient:32.71"), `index` the
    records (person or patient numbers); half of the hit records lose the NIK, half get a broken one.
    """
    u = hash_uniform(stream_key(seed, "nik", scope), index)
    return np.where(u < share / 2, NIK_MISSING, np.where(u < share, NIK_MALFORMED, NIK_OK))




def malformed_nik(nik: str, index: int) -> str:
    """A NIK as badly typed in real data: a digit short, or a letter among the digits."""
    return nik[:-1] if index % 2 else nik[:6] + "O" + nik[7:]
