#!/usr/bin/env bash
# Creates the two databases of the SPM docker-compose stack, each with its own login role:
#
#   airflow        Airflow metadata DB (+ Celery result backend), owned by role  airflow
#   spm_warehouse  the SPM warehouse (staging, core, marts, audit), owned by role spm
#
# Mounted into /docker-entrypoint-initdb.d of the postgres image, so it runs once, when the data
# volume is empty, as the superuser given by POSTGRES_USER. Passwords come from the environment
# (AIRFLOW_DB_PASSWORD, SPM_WAREHOUSE_PASSWORD; see docker-compose.yml). Safe to run again by hand:
# existing roles and databases are kept (their passwords are reset to the given ones).
set -euo pipefail

: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD must be set}"
: "${SPM_WAREHOUSE_PASSWORD:?SPM_WAREHOUSE_PASSWORD must be set}"
AIRFLOW_DB_NAME="${AIRFLOW_DB_NAME:-airflow}"
AIRFLOW_DB_USER="${AIRFLOW_DB_USER:-airflow}"
SPM_WAREHOUSE_DB="${SPM_WAREHOUSE_DB:-spm_warehouse}"
SPM_WAREHOUSE_USER="${SPM_WAREHOUSE_USER:-spm}"

# psql variables (-v) are quoted by psql itself (:'name' literal, :"name" identifier), so
# passwords with quotes or spaces cannot break the SQL. \gexec runs the generated statement.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v af_db="$AIRFLOW_DB_NAME" -v af_user="$AIRFLOW_DB_USER" -v af_pw="$AIRFLOW_DB_PASSWORD" \
    -v wh_db="$SPM_WAREHOUSE_DB" -v wh_user="$SPM_WAREHOUSE_USER" -v wh_pw="$SPM_WAREHOUSE_PASSWORD" \
    <<'EOSQL'
SELECT format('CREATE ROLE %I LOGIN', :'af_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'af_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'af_user', :'af_pw') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'wh_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'wh_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'wh_user', :'wh_pw') \gexec

-- Airflow metadata database.
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'af_db', :'af_user', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'af_db') \gexec
-- SPM warehouse database.
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'wh_db', :'wh_user', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'wh_db') \gexec

-- Keep the two apart: only each owner (and the superuser) may connect to its database.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'af_db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'wh_db') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'af_db', :'af_user') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'wh_db', :'wh_user') \gexec
EOSQL

# PostgreSQL 15+ gives the public schema to the database owner already; say it explicitly so the
# warehouse role can create its schemas and tables on older servers too.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$SPM_WAREHOUSE_DB" \
    -v wh_user="$SPM_WAREHOUSE_USER" <<'EOSQL'
SELECT format('ALTER SCHEMA public OWNER TO %I', :'wh_user') \gexec
EOSQL
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$AIRFLOW_DB_NAME" \
    -v af_user="$AIRFLOW_DB_USER" <<'EOSQL'
SELECT format('ALTER SCHEMA public OWNER TO %I', :'af_user') \gexec
EOSQL

echo "created databases ${AIRFLOW_DB_NAME} (owner ${AIRFLOW_DB_USER}) and ${SPM_WAREHOUSE_DB} (owner ${SPM_WAREHOUSE_USER})"
