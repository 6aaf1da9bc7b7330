"""Where things live: the state folder, the project folder, and the warehouse URL.

Resolution order for the warehouse (DESIGN §10): an explicit URL, `SPM_WAREHOUSE_URL`, the
`spm_warehouse` Airflow connection given as `AIRFLOW_CONN_SPM_WAREHOUSE`, then the default SQLite
file under `SPM_HOME`. Inside Airflow tasks `warehouse_url_from_airflow()` also looks in the
metadata DB's connections.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from spm.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
WAREHOUSE_CONN_ID = "spm_warehouse"


def project_dir() -> Path | None:
    """The checkout the package runs from (editable install), or `SPM_PROJECT_DIR`; None when installed."""
    env = os.environ.get("SPM_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    candidate = PACKAGE_DIR.parents[1]  # src/spm -> checkout
    if (candidate / "pyproject.toml").is_file() and (candidate / "src" / "spm").is_dir():
        return candidate
    return None


def resource_dir(name: str) -> Path:
    """A folder shipped inside the package (package data): `sql`, `expectations`, `dags`,
    `templates`. The checkout's top-level folders of the same names link to these, so an editable
    and a plain `pip install .` read the same files."""
    path = PACKAGE_DIR / name
    if not path.is_dir():
        raise ConfigError(f"package folder {path} is missing: reinstall the spm-pipeline package")
    return path


def spm_home() -> Path:
    """The state folder: Airflow home, default warehouse, inboxes, reports, simulator data."""
    env = os.environ.get("SPM_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return (project_dir() or Path.cwd()) / ".spm"


def sql_dir() -> Path:
    return resource_dir("sql")


def expectations_dir() -> Path:
    return resource_dir("expectations")


def dags_dir() -> Path:
    return resource_dir("dags")


def default_warehouse_url() -> str:
    return f"sqlite:///{spm_home() / 'warehouse.db'}"


def airflow_conn_to_sqlalchemy(uri_or_json: str, conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """Turn an Airflow connection (URI or JSON form of AIRFLOW_CONN_*) into a SQLAlchemy URL."""
    text = uri_or_json.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"connection {conn_id!r}: JSON form is not valid JSON ({exc})") from exc
        return _url_from_parts(
            conn_id,
            data.get("conn_type", ""),
            data.get("host") or "",
            data.get("login"),
            data.get("password"),
            data.get("port"),
            data.get("schema") or "",
            data.get("extra") or {},
        )
    parts = urlsplit(text)
    if not parts.scheme:
        raise ConfigError(f"connection {conn_id!r}: {text!r} is not a URI (expected e.g. postgresql://user@host/db)")
    if parts.scheme.startswith("sqlite"):
        # Airflow writes sqlite connections as sqlite:////abs/path; keep that form.
        return "sqlite:" + text.split(":", 1)[1]
    return _url_from_parts(
        conn_id,
        parts.scheme,
        parts.hostname or "",
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        parts.port,
        parts.path.lstrip("/"),
        {},
    )


def _url_from_parts(conn_id, conn_type, host, login, password, port, schema, extra) -> str:
    conn_type = (conn_type or "").lower().replace("-", "_")
    if conn_type in ("sqlite",):
        path = host or schema
        if not path:
            raise ConfigError(f"connection {conn_id!r}: a sqlite connection needs the file path as host")
        return f"sqlite:///{path}"
    if conn_type in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        auth = ""
        if login:
            auth = quote(login, safe="")
            if password:
                auth += ":" + quote(password, safe="")
            auth += "@"
        hostport = host or "localhost"
        if port:
            hostport += f":{port}"
        return f"postgresql+psycopg://{auth}{hostport}/{schema}"
    raise ConfigError(
        f"connection {conn_id!r}: type {conn_type!r} is not supported for the warehouse (use postgres or sqlite)"
    )


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever the spelling of the URL."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def warehouse_url(explicit: str | None = None) -> str:
    if explicit:
        return normalise_url(explicit)
    env = os.environ.get("SPM_WAREHOUSE_URL")
    if env:
        return normalise_url(env)
    conn = os.environ.get("AIRFLOW_CONN_" + WAREHOUSE_CONN_ID.upper())
    if conn:
        return airflow_conn_to_sqlalchemy(conn)
    return default_warehouse_url()


def warehouse_url_from_airflow() -> str:
    """Inside a task: the `spm_warehouse` connection if Airflow knows it, else the default chain."""
    if os.environ.get("SPM_WAREHOUSE_URL"):
        return warehouse_url()
    try:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

        try:
            conn = Connection.get(WAREHOUSE_CONN_ID)
        except (AirflowNotFoundException, AirflowRuntimeError, LookupError):
            conn = None
    except ImportError:  # pragma: no cover - package used without Airflow
        conn = None
    if conn is None:
        return warehouse_url()
    return _url_from_parts(
        WAREHOUSE_CONN_ID, conn.conn_type, conn.host or "", conn.login, conn.password, conn.port,
        conn.schema or "", {},
    )
