"""Source system connections (`spm_dapodik`, `spm_dukcapil`, `spm_satusehat`), resolved at run time."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from spm.errors import ConfigError


@dataclass(frozen=True)
class SourceConnection:
    conn_id: str
    base_url: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict = field(default_factory=dict)

    def require_password(self, what: str) -> str:
        if not self.password:
            raise ConfigError(f"connection {self.conn_id!r} has no {what} (put it in the connection's password)")
        return self.password

    def extra_number(self, key: str, default: float, minimum: float, kind=int):
        """A numeric setting from the connection's extra (e.g. `paralel`, `timeout`), checked."""
        value = (self.extra or {}).get(key, default)
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"connection {self.conn_id!r}: extra {key}={value!r} is not a number") from None
        if number < minimum:
            raise ConfigError(f"connection {self.conn_id!r}: extra {key}={value!r} must be at least {minimum}")
        return number


def _base_url(conn_id: str, host: str | None, port: int | None, schema: str | None) -> str:
    if not host:
        raise ConfigError(f"connection {conn_id!r} has no host (the source's base URL)")
    if host.startswith(("http://", "https://")):
        url = host.rstrip("/")
        if port and urlsplit(url).port is None:
            url += f":{port}"
        return url
    scheme = schema if schema in ("http", "https") else "http"
    return f"{scheme}://{host}{f':{port}' if port else ''}".rstrip("/")


def parse_connection(conn_id: str, text: str) -> SourceConnection:
    """An AIRFLOW_CONN_* value (URI or JSON) as a SourceConnection."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"connection {conn_id!r}: JSON form is not valid JSON ({exc})") from None
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra or "{}")
        return SourceConnection(conn_id, _base_url(conn_id, data.get("host"), data.get("port"), data.get("schema")),
                                data.get("login"), data.get("password"), extra)
    parts = urlsplit(text)
    scheme = "https" if parts.scheme in ("https",) else "http"
    host = parts.hostname
    base = _base_url(conn_id, host, parts.port, scheme) + (parts.path.rstrip("/") if parts.path not in ("", "/") else "")
    return SourceConnection(conn_id, base, unquote(parts.username) if parts.username else None,
                            unquote(parts.password) if parts.password else None, {})


def get_connection(conn_id: str) -> SourceConnection:
    """From Airflow (inside a task: env, secrets backends, metadata DB), else from AIRFLOW_CONN_<ID>."""
    env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    try:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

        try:
            conn = Connection.get(conn_id)
        except (AirflowNotFoundException, AirflowRuntimeError, LookupError):
            conn = None
        except Exception:  # outside a task the SDK has no supervisor to ask
            conn = None
    except ImportError:  # pragma: no cover
        conn = None
    if conn is not None:
        extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
        return SourceConnection(conn_id, _base_url(conn_id, conn.host, conn.port, conn.schema),
                                conn.login, conn.password, extra or {})
    if env:
        return parse_connection(conn_id, env)
    raise ConfigError(
        f"connection {conn_id!r} is not defined: add it in Airflow (Admin > Connections) or set AIRFLOW_CONN_{conn_id.upper()}"
    )
