import pytest

from spm.errors import ConfigError
from spm.settings import airflow_conn_to_sqlalchemy, normalise_url, warehouse_url


def test_postgres_uri_connection_becomes_psycopg_url():
    url = airflow_conn_to_sqlalchemy("postgres://spm:s%40cret@db.pemda.go.id:5433/warehouse")
    assert url == "postgresql+psycopg://spm:s%40cret@db.pemda.go.id:5433/warehouse"


def test_json_connection_form():
    url = airflow_conn_to_sqlalchemy(
        '{"conn_type": "postgres", "host": "db", "login": "spm", "password": "p w", "port": 5432, "schema": "gudang"}'
    )
    assert url == "postgresql+psycopg://spm:p%20w@db:5432/gudang"


def test_sqlite_connection_keeps_absolute_path():
    assert airflow_conn_to_sqlalchemy("sqlite:////srv/spm/warehouse.db") == "sqlite:////srv/spm/warehouse.db"


def test_unsupported_connection_type_is_named():
    with pytest.raises(ConfigError, match="mysql"):
        airflow_conn_to_sqlalchemy("mysql://u@h/db")


def test_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("SPM_HOME", str(tmp_path))
    monkeypatch.delenv("SPM_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SPM_WAREHOUSE", raising=False)
    assert warehouse_url() == f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_SPM_WAREHOUSE", "postgresql://a@b/c")
    assert warehouse_url() == "postgresql+psycopg://a@b/c"
    monkeypatch.setenv("SPM_WAREHOUSE_URL", "sqlite:////x.db")
    assert warehouse_url() == "sqlite:////x.db"
    assert warehouse_url("postgres://e@f/g") == "postgresql+psycopg://e@f/g"


def test_normalise_url_leaves_sqlite_alone():
    assert normalise_url("sqlite:///a.db") == "sqlite:///a.db"
