"""Pseudonymisation at ingest (DESIGN §4): NIK never leaves the ingest step in clear.

`person_key = HMAC-SHA256(secret, nik)`, hex. The same secret across sources is what lets the
project count a person once; it comes from the Airflow Variable `spm_pseudonym_secret` (or
`SPM_PSEUDONYM_SECRET`), and the demo generates one under SPM_HOME.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import date

from spm.errors import ConfigError

VARIABLE = "spm_pseudonym_secret"
_NIK = re.compile(r"^\d{16}$")


def pseudonym_secret() -> bytes:
    """The HMAC secret, read at run time (never at DAG parse time)."""
    value = os.environ.get("SPM_PSEUDONYM_SECRET") or os.environ.get("AIRFLOW_VAR_" + VARIABLE.upper())
    if not value:
        try:
            from airflow.sdk import Variable

            value = Variable.get(VARIABLE, default=None)
        except Exception:  # noqa: BLE001 - outside a task the SDK cannot answer
            value = None
    if not value:
        raise ConfigError(f"no pseudonymisation secret: set the Airflow Variable {VARIABLE} (or SPM_PSEUDONYM_SECRET)")
    if len(value) < 16:
        raise ConfigError(f"the Variable {VARIABLE} is too short to be a secret (at least 16 characters)")
    return value.encode()


def person_key(secret: bytes, identifier: str, namespace: str = "nik") -> str:
    """HMAC-SHA256 of an identifier. Keys of other identifiers (NISN, source ids) get a namespace so
    they can never collide with a NIK's key."""
    message = identifier if namespace == "nik" else f"{namespace}:{identifier}"
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def nik_valid(nik: str | None, birth_date: date | None = None, female: bool | None = None) -> bool:
    """16 digits, a plausible region part and a birth-date part (women: day + 40) that is a real
    date and, when the birth date is known, agrees with it."""
    if not nik or not _NIK.match(nik):
        return False
    prov, kab = int(nik[0:2]), int(nik[2:4])
    if not (11 <= prov <= 99) or kab == 0:
        return False
    day, month, year2 = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    is_female = day > 40
    if is_female:
        day -= 40
    try:
        date(2000 + year2, month, day)  # any century: only the day/month combination is checked here
    except ValueError:
        if not (month == 2 and day == 29):  # 29 Feb of a 19xx leap year
            return False
    if birth_date is not None and (birth_date.day, birth_date.month, birth_date.year % 100) != (day, month, year2):
        return False
    if female is not None and female != is_female:
        return False
    return True
