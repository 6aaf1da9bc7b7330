from datetime import date

import pytest

from spm.errors import ConfigError
from spm.privacy import nik_valid, person_key, pseudonym_secret


def test_person_key_is_keyed_and_stable():
    a = person_key(b"rahasia-uji-0123456789", "3271014506150001")
    assert a == person_key(b"rahasia-uji-0123456789", "3271014506150001")
    assert a != person_key(b"rahasia-lain-0123456789", "3271014506150001")
    assert len(a) == 64 and "3271014506150001" not in a
    assert person_key(b"rahasia-uji-0123456789", "1234567890", "nisn") != person_key(
        b"rahasia-uji-0123456789", "1234567890")


@pytest.mark.parametrize("nik,birth,female,ok", [
    ("3271014506150001", date(2015, 6, 5), True, True),     # woman: day 05 + 40
    ("3271010506150001", date(2015, 6, 5), False, True),
    ("3271010506150001", date(2015, 6, 5), True, False),    # sex disagrees
    ("3271010506150001", date(2015, 6, 6), None, False),    # birth date disagrees
    ("327101050615000", None, None, False),                 # 15 digits
    ("32710105061500X1", None, None, False),
    ("0071010506150001", None, None, False),                # no such province
    ("3271013213150001", None, None, False),                # month 13
    ("3271017206150001", None, None, False),                # day 32 (women: 72)
    (None, None, None, False),
])
def test_nik_validity(nik, birth, female, ok):
    assert nik_valid(nik, birth, female) is ok


def test_secret_comes_from_the_variable(monkeypatch):
    monkeypatch.delenv("SPM_PSEUDONYM_SECRET", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_SPM_PSEUDONYM_SECRET", "x" * 32)
    assert pseudonym_secret() == b"x" * 32
    monkeypatch.setenv("AIRFLOW_VAR_SPM_PSEUDONYM_SECRET", "short")
    with pytest.raises(ConfigError, match="too short"):
        pseudonym_secret()
