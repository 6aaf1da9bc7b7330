"""Dashboard accounts: scrypt-hashed passwords, server-side sessions that expire, a CSRF token per session.

Why the dashboard's own accounts and not Airflow's auth: the people who verify and approve (Kepala
OPD, Bagian Tata Pemerintahan) are not Airflow operators and must not get a login to the scheduler's
UI; the dashboard runs apart from Airflow (its own process, port and proxy path) and keeps working
when the scheduler's web server is down or upgraded. Accounts are made by the data team with
`spm pengguna tambah` (no self-registration).

A session is a random 32-byte token in an HttpOnly, SameSite=Strict cookie; the warehouse keeps only
its sha256, the account and the expiry (default 8 hours, `SPM_DASBOR_SESI_JAM`). Every form that
changes something carries the session's CSRF token, compared in constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from spm.errors import InputError
from spm.warehouse.audit import aware, now
from spm.warehouse.persetujuan import Akun
from spm.warehouse.tables_persetujuan import PERAN, pengguna, sesi_dasbor

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
MIN_PASSWORD = 10
COOKIE = "spm_sesi"
DEFAULT_SESSION_HOURS = 8.0
KODE_DAERAH = re.compile(r"\d{2}(\.\d{2})?")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(key)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(key))


def _akun(row) -> Akun:
    return Akun(row.username, row.nama, row.peran, row.kode_wilayah, row.bidang)


def add_user(engine: sa.Engine, username: str, nama: str, peran: str, password: str,
             kode_wilayah: str | None = None, bidang: str | None = None) -> Akun:
    """Create or replace an account (replacing resets the password and ends its sessions)."""
    username = (username or "").strip()
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InputError(f"username {username!r}: 1-64 huruf, angka, titik, garis bawah atau tanda hubung")
    if peran not in PERAN:
        raise InputError(f"peran {peran!r}: harus salah satu dari {', '.join(PERAN)}")
    if peran == "verifikator" and not bidang:
        raise InputError("verifikator perlu --bidang (bidang yang diverifikasinya, mis. pendidikan)")
    if peran != "verifikator" and bidang:
        raise InputError(f"--bidang hanya untuk verifikator, bukan {peran}")
    if kode_wilayah and not KODE_DAERAH.fullmatch(kode_wilayah):
        raise InputError(f"--kode-wilayah {kode_wilayah!r}: kode provinsi (32) atau kab/kota (32.71)")
    if bidang:
        from spm.warehouse.tables import dim_layanan

        with engine.connect() as conn:
            known = set(conn.execute(sa.select(dim_layanan.c.bidang).distinct()).scalars())
        if bidang not in known:
            raise InputError(f"--bidang {bidang!r}: harus salah satu dari {', '.join(sorted(known)) or '(dim_layanan kosong)'}")
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"kata sandi paling sedikit {MIN_PASSWORD} karakter")
    values = dict(nama=nama or username, peran=peran, kode_wilayah=kode_wilayah or None, bidang=bidang or None,
                  kata_sandi_hash=hash_password(password), aktif=True)
    with engine.begin() as conn:
        conn.execute(sa.delete(sesi_dasbor).where(sesi_dasbor.c.username == username))
        if conn.execute(sa.update(pengguna).where(pengguna.c.username == username).values(**values)).rowcount == 0:
            conn.execute(sa.insert(pengguna).values(username=username, dibuat_at=now(), **values))
    return Akun(username, values["nama"], peran, values["kode_wilayah"], values["bidang"])


def deactivate_user(engine: sa.Engine, username: str) -> bool:
    with engine.begin() as conn:
        conn.execute(sa.delete(sesi_dasbor).where(sesi_dasbor.c.username == username))
        return conn.execute(sa.update(pengguna).where(pengguna.c.username == username)
                            .values(aktif=False)).rowcount > 0


def any_user(engine: sa.Engine) -> bool:
    """Whether accounts exist: until the first is made the dashboard is open read-only (no approving)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(pengguna.c.username).limit(1)).first() is not None


def session_hours() -> float:
    raw = os.environ.get("SPM_DASBOR_SESI_JAM", "")
    try:
        hours = float(raw) if raw.strip() else DEFAULT_SESSION_HOURS
    except ValueError:
        raise InputError(f"SPM_DASBOR_SESI_JAM={raw!r}: jumlah jam, mis. 8") from None
    if not 0 < hours <= 24 * 7:
        raise InputError(f"SPM_DASBOR_SESI_JAM={raw!r}: antara 0 dan 168 jam")
    return hours


@functools.cache
def _dummy_hash() -> str:
    """A hash of no one's password, checked when the name is unknown: the same time as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(engine: sa.Engine, username: str, password: str, at: datetime | None = None) -> str | None:
    """A new session token for right credentials of an active account, else None (same answer for a
    wrong name and a wrong password)."""
    at = at or now()
    with engine.begin() as conn:
        row = conn.execute(sa.select(pengguna).where(pengguna.c.username == (username or "").strip())).first()
        # One scrypt whatever the account: an unknown or inactive name answers in the time of a wrong password.
        matches = check_password(password or "", row.kata_sandi_hash if row is not None else _dummy_hash())
        if row is None or not row.aktif or not matches:
            return None
        conn.execute(sa.delete(sesi_dasbor).where(sesi_dasbor.c.kedaluwarsa_at < at))
        token = secrets.token_urlsafe(32)
        conn.execute(sa.insert(sesi_dasbor).values(
            token_hash=_digest(token), username=row.username, csrf=secrets.token_urlsafe(32), dibuat_at=at,
            kedaluwarsa_at=at + timedelta(hours=session_hours())))
    return token


def session(engine: sa.Engine, token: str | None, at: datetime | None = None) -> tuple[Akun, str] | None:
    """(account, csrf token) of a live session, or None when missing, expired or the account is off."""
    if not token:
        return None
    at = at or now()
    s, u = sesi_dasbor.c, pengguna.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(pengguna, s.csrf, s.kedaluwarsa_at).join(
            sesi_dasbor, s.username == u.username).where(s.token_hash == _digest(token))).first()
    if row is None or not row.aktif or aware(row.kedaluwarsa_at) <= at:
        return None
    return _akun(row), row.csrf


def logout(engine: sa.Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(sa.delete(sesi_dasbor).where(sesi_dasbor.c.token_hash == _digest(token)))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def list_users(engine: sa.Engine) -> list[dict]:
    """Every account without its password hash, for `spm pengguna daftar`."""
    u = pengguna.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(u.username, u.nama, u.peran, u.kode_wilayah, u.bidang, u.aktif)
                            .order_by(u.username)).all()
    return [dict(r._mapping) for r in rows]
