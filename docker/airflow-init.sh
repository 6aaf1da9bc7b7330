#!/usr/bin/env bash
# One-shot initialisation of the SPM docker-compose stack (service `airflow-init`).
#
# Phase 1 runs with `entrypoint: /bin/bash`, before any `airflow` command: every Airflow process reads
# the shared JWT secret and Fernet key through AIRFLOW__API_AUTH__JWT_SECRET_CMD and
# AIRFLOW__CORE__FERNET_KEY_CMD (`cat $SPM_SECRETS_DIR/...`), and the airflow CLI refuses to start while
# those files are missing, so they are written here with plain shell tools. Phase 2 re-enters through
# the image's own /entrypoint (arbitrary-UID set-up, waits for the metadata DB) and runs:
#   - `airflow db migrate` (metadata database `airflow`);
#   - the admin password of Airflow 3's simple auth manager;
#   - `spm db upgrade` and `spm wilayah load` (warehouse database `spm_warehouse`);
#   - the Airflow Variables spm_kode_wilayah and spm_pseudonym_secret (DESIGN §10).
# Every step is idempotent: `docker compose up` runs it again on each start.
set -euo pipefail

: "${SPM_HOME:?SPM_HOME must be set}"
SECRETS_DIR="${SPM_SECRETS_DIR:?SPM_SECRETS_DIR must be set}"

log() { printf '[airflow-init] %s\n' "$*"; }

# Group 0 keeps everything usable for any AIRFLOW_UID (the image runs every user with GID 0).
umask 0007

if [[ "${1:-}" != "--phase2" ]]; then
    mkdir -p "$SPM_HOME" "$SECRETS_DIR"

    # write_secret NAME VALUE: a value from .env wins; else keep the file; else generate one.
    write_secret() {
        local name="$1" given="$2" file="$SECRETS_DIR/$1"
        if [[ -n "$given" ]]; then
            printf '%s' "$given" > "$file.tmp" && mv "$file.tmp" "$file"
            log "secret $name taken from .env"
        elif [[ ! -s "$file" ]]; then
            case "$name" in
                # A Fernet key is 32 random bytes, URL-safe base64 (44 characters with padding).
                fernet_key) head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n' > "$file.tmp" ;;
                *) head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n=' > "$file.tmp" ;;
            esac
            mv "$file.tmp" "$file"
            log "secret $name generated in $file (back up the spm-secrets volume)"
        fi
        chmod 0640 "$file"
    }
    write_secret jwt_secret "${SPM_INIT_JWT_SECRET:-}"
    write_secret fernet_key "${SPM_INIT_FERNET_KEY:-}"

    # SPM_AIRFLOW_ENTRYPOINT only exists for tests/test_docker_compose.py.
    exec "${SPM_AIRFLOW_ENTRYPOINT:-/entrypoint}" bash "$0" --phase2
fi

log "airflow $(airflow version 2>/dev/null | tail -n 1)"
log "migrating the Airflow metadata database"
airflow db migrate

# Simple auth manager (Airflow 3's default): users come from AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS,
# passwords from this JSON file. Without AIRFLOW_ADMIN_PASSWORD (.env) the api-server generates one on
# first start and prints it in its log (and keeps it in the file).
passwords_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"
if [[ -n "${SPM_INIT_ADMIN_PASSWORD:-}" ]]; then
    SPM_INIT_ADMIN_USERNAME="${SPM_INIT_ADMIN_USERNAME:-admin}" python - "$passwords_file" <<'PY'
import json, os, sys
path = sys.argv[1]
try:
    with open(path) as f:
        data = json.loads(f.read().strip() or "{}")
except FileNotFoundError:
    data = {}
data[os.environ["SPM_INIT_ADMIN_USERNAME"]] = os.environ["SPM_INIT_ADMIN_PASSWORD"]
with open(path + ".tmp", "w") as f:
    f.write(json.dumps(data) + "\n")
os.replace(path + ".tmp", path)
PY
    chmod 0640 "$passwords_file"
    log "admin password for '${SPM_INIT_ADMIN_USERNAME:-admin}' taken from .env"
fi

log "creating or upgrading the SPM warehouse"
spm db upgrade
spm wilayah load

if [[ -n "${SPM_KODE_WILAYAH:-}" ]]; then
    python -c 'import json, sys; v = json.loads(sys.argv[1]); assert isinstance(v, list) and v, "not a non-empty JSON list"' \
        "$SPM_KODE_WILAYAH" \
        || { log "SPM_KODE_WILAYAH must be a JSON list of kab/kota codes, e.g. [\"32.71\"]"; exit 1; }
    airflow variables set spm_kode_wilayah "$SPM_KODE_WILAYAH" >/dev/null
    log "Variable spm_kode_wilayah = $SPM_KODE_WILAYAH"
elif ! airflow variables get spm_kode_wilayah >/dev/null 2>&1; then
    log "WARNING: Variable spm_kode_wilayah is not set: set SPM_KODE_WILAYAH in .env (e.g. [\"32.71\"]) or in the UI"
fi

# The pseudonym secret links a person across sources and years: changing it breaks that link.
if [[ -n "${SPM_PSEUDONYM_SECRET:-}" ]]; then
    airflow variables set spm_pseudonym_secret "$SPM_PSEUDONYM_SECRET" >/dev/null
    log "Variable spm_pseudonym_secret taken from .env"
elif ! airflow variables get spm_pseudonym_secret >/dev/null 2>&1; then
    airflow variables set spm_pseudonym_secret \
        "$(python -c 'import secrets; print(secrets.token_hex(32))')" >/dev/null
    log "Variable spm_pseudonym_secret generated (stored encrypted in the metadata DB; back it up:"
    log "  docker compose run --rm airflow-cli airflow variables get spm_pseudonym_secret)"
fi

log "done"
