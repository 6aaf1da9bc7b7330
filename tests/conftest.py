"""Shared fixtures: an isolated SPM_HOME and Airflow home, and warehouses on SQLite and PostgreSQL.

PostgreSQL tests read the server URL from SPM_TEST_POSTGRES_URL (`.ci/run` sets it). Without it
they skip, except under CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="spm-tests-"))

# Before anything imports Airflow: its home, metadata DB and DAG folder are the test session's own.
os.environ["SPM_HOME"] = str(_SESSION_HOME)
os.environ["AIRFLOW_HOME"] = str(_SESSION_HOME / "airflow")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_SESSION_HOME / 'airflow' / 'airflow.db'}"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["SPM_RETRY_DELAY_SECONDS"] = "1"
os.environ["AIRFLOW_VAR_SPM_PSEUDONYM_SECRET"] = "test-secret-not-for-production-0123456789"
os.environ.pop("SPM_WAREHOUSE_URL", None)
os.environ.pop("AIRFLOW_CONN_SPM_WAREHOUSE", None)

POSTGRES_ENV = "SPM_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_ENV} is not set: CI must run the PostgreSQL tests, not skip them")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    from spm.settings import normalise_url

    admin_url = normalise_url(postgres_admin_url())
    name = f"spm_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc.orig}")
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse_url(request):
    """The same test on both engines."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
def engine(warehouse_url):
    """A warehouse at the schema head (on SQLite a copy of one migrated once: tests/warehouses.py)."""
    import sqlalchemy as sa

    from spm.warehouse.db import get_engine, upgrade

    from tests.warehouses import sqlite_at_head

    url = sa.engine.make_url(warehouse_url)
    if url.get_backend_name() == "sqlite":
        sqlite_at_head(url.database)
    eng = get_engine(warehouse_url)
    upgrade(eng)  # a no-op at the head: keeps the check that the copy is current
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def airflow_db():
    """The Airflow metadata DB of the test session, migrated once."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        capture_output=True, text=True, env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return _SESSION_HOME / "airflow"


DAGS = PROJECT / "dags"  # the folder the scheduler reads (AIRFLOW__CORE__DAGS_FOLDER above)


def parse_dags():
    """The DagBag of the dags folder, parsed as Airflow's DAG processor parses it."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def load_dag(dag_id: str):
    """The DAG `dag_id`, parsed afresh from the dags folder on every call: a test may change the object
    it gets, and a second run in the same test gets the DAG as deployed."""
    bag = parse_dags()
    assert dag_id in bag.dags, f"no DAG {dag_id} in {DAGS}; import errors: {bag.import_errors}"
    return bag.dags[dag_id]


@pytest.fixture
def dag_of(airflow_db):
    """dag_of("spm_muat_wilayah"): that DAG freshly parsed from the dags folder (load_dag), with the
    session's Airflow metadata DB migrated, ready for dag.test()."""
    return load_dag


@pytest.fixture
def break_once(monkeypatch):
    """break_once("pkg.module.attr", exc): the attribute raises `exc` on its first call, then works
    as before (an error injected into one step of one file's load)."""
    import importlib

    def install(path: str, exc: BaseException) -> None:
        module_name, attr = path.rsplit(".", 1)
        module = importlib.import_module(module_name)
        real, calls = getattr(module, attr), []

        def broken(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise exc
            return real(*args, **kwargs)

        monkeypatch.setattr(module, attr, broken)

    return install


@pytest.fixture
def site_config(tmp_path, monkeypatch):
    """site_config({"kualitas.yaml": {...}}): a site configuration folder (SPM_CONFIG_DIR) holding
    these overrides, as a deployment would."""
    import yaml

    folder = tmp_path / "site-config"

    def write(files: dict) -> Path:
        folder.mkdir(exist_ok=True)
        for name, data in files.items():
            (folder / name).write_text(yaml.safe_dump(data), encoding="utf-8")
        monkeypatch.setenv("SPM_CONFIG_DIR", str(folder))
        return folder

    return write
