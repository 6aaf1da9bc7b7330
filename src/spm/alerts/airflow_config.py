"""Airflow Variables and Connections named by the alert config, read at send time (never at parse time)."""

from __future__ import annotations

import json
import os

from spm.sources.connections import SourceConnection, get_connection


def get_variable(name: str) -> str | None:
    """A Variable from Airflow (inside a task: secrets backends, env, metadata DB), else AIRFLOW_VAR_<NAME>."""
    try:
        from airflow.sdk import Variable

        value = Variable.get(name, default=None)
        if value is not None:
            return str(value)
    except ImportError:  # pragma: no cover - package used without Airflow
        pass
    except Exception:  # outside a task the SDK has no supervisor to ask; the environment still works
        pass
    return os.environ.get(f"AIRFLOW_VAR_{name.upper()}")


def get_list_variable(name: str) -> list[str]:
    """A Variable holding a JSON list or a comma/semicolon-separated list."""
    raw = get_variable(name)
    if not raw:
        return []
    text = raw.strip()
    if text.startswith("["):
        return [str(x).strip() for x in json.loads(text) if str(x).strip()]
    return [x.strip() for x in text.replace(";", ",").split(",") if x.strip()]


def find_connection(conn_id: str) -> SourceConnection | None:
    """The connection, or None when it is not defined (the channel is then skipped)."""
    from spm.errors import ConfigError

    try:
        return get_connection(conn_id)
    except ConfigError:
        return None


def connection_fields(conn_id: str) -> dict | None:
    """host, login, password and extra of a connection whose host may be empty (Telegram's default API)."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
        if conn is not None:
            return {"host": conn.host or "", "login": conn.login, "password": conn.password,
                    "extra": conn.extra_dejson or {}}
    except Exception:  # not defined in Airflow, or outside a task: try the environment
        pass
    env = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not env:
        return None
    text = env.strip()
    if text.startswith("{"):
        data = json.loads(text)
        extra = data.get("extra") or {}
        return {"host": data.get("host") or "", "login": data.get("login"), "password": data.get("password"),
                "extra": json.loads(extra) if isinstance(extra, str) else extra}
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(text)
    host = f"{parts.scheme if parts.scheme in ('http', 'https') else 'https'}://{parts.hostname}" if parts.hostname else ""
    if host and parts.port:
        host += f":{parts.port}"
    return {"host": host, "login": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None, "extra": {}}
