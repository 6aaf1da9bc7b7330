"""The environment under which the project runs real Airflow on the embedded default."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from spm.errors import SpmError
from spm.settings import dags_dir, spm_home


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def pseudonym_secret(home: Path) -> str:
    """The demo's HMAC secret (DESIGN §4): generated once, kept under SPM_HOME, never committed."""
    path = home / "pseudonym_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def airflow_env(home: Path | None = None, kode_wilayah: list[str] | None = None) -> dict[str, str]:
    """Environment for `airflow` commands: metadata DB, logs and warehouse all under SPM_HOME."""
    home = home or spm_home()
    env = dict(os.environ)
    env.update({
        "SPM_HOME": str(home),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_dir()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow' / 'airflow.db'}",
    })
    env.setdefault("AIRFLOW_VAR_SPM_PSEUDONYM_SECRET", pseudonym_secret(home))
    if kode_wilayah:
        env["AIRFLOW_VAR_SPM_KODE_WILAYAH"] = json.dumps(kode_wilayah)
    return env


def run_airflow(args: list[str], env: dict[str, str], log_path: Path) -> None:
    """Run one `airflow` command, its output to a log file; fail with the log's tail."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.run([airflow_bin(), *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise SpmError(f"`airflow {' '.join(args)}` failed (exit {proc.returncode}); log {log_path}:\n"
                       + "\n".join(tail))


def dags_test(dag_id: str, logical_date: str, conf: dict | None, env: dict[str, str], log_dir: Path) -> Path:
    """Run a real DAG once with `airflow dags test` and return its log path."""
    args = ["dags", "test", dag_id, logical_date]
    if conf:
        args += ["--conf", json.dumps(conf)]
    log_path = log_dir / f"{dag_id}.log"
    run_airflow(args, env, log_path)
    text = log_path.read_text(errors="replace")
    if "state=success" not in text:
        raise SpmError(f"DAG {dag_id} did not succeed; see {log_path}")
    return log_path
