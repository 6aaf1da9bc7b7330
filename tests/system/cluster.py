"""A real Airflow on this machine for the system test: api-server, scheduler, dag-processor,
triggerer and (for Celery) two workers on Redis, with a PostgreSQL metadata DB.

Every process is started here, in its own process group, logs to its own file under the cluster's
home, and is stopped here by PID (SIGTERM to the group, then SIGKILL). Nothing of it outlives the
test. The settings are those of docker-compose.yml (same executor, async URL, execution API URL,
JWT secret shared by every component), with local addresses.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.ports import free_port

PROJECT = Path(__file__).resolve().parents[2]
TERMINAL = {"success", "failed"}



def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def sqlalchemy_url(url: str, database: str) -> str:
    """`url` on another database, with the psycopg 3 driver Airflow and the warehouse use."""
    u = sa.engine.make_url(url).set(drivername="postgresql+psycopg", database=database)
    return u.render_as_string(hide_password=False)


def _admin(admin_url: str) -> sa.Engine:
    return sa.create_engine(sqlalchemy_url(admin_url, sa.engine.make_url(admin_url).database or "postgres"),
                            isolation_level="AUTOCOMMIT")


def drop_database(admin_url: str, name: str) -> None:
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                             "AND pid <> pg_backend_pid()"), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def fresh_database(admin_url: str, name: str) -> str:
    """Drop and create database `name`; its URL."""
    drop_database(admin_url, name)
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sqlalchemy_url(admin_url, name)


@dataclass
class Cluster:
    executor: str  # "CeleryExecutor" or "LocalExecutor"
    home: Path
    metadata_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    redis_db: int = 7
    workers: tuple[str, ...] = ("worker-a", "worker-b")
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.api_port = free_port()
        airflow_home = self.home / "airflow"
        airflow_home.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.home / "processes"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
        env.update({
            "AIRFLOW_HOME": str(airflow_home),
            "SPM_HOME": str(self.home),
            "SPM_PROJECT_DIR": str(PROJECT),
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CORE__FERNET_KEY": "",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.metadata_url,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # The worker that ran a task is recorded as its hostname (both workers share this machine).
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "system_hostname.hostname",
            "PYTHONPATH": str(Path(__file__).parent),
            "PYTHONUNBUFFERED": "1",
        })
        if self.executor == "CeleryExecutor":
            env.update({
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{self.redis_db}",
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.metadata_url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            })
        else:
            env["AIRFLOW__CORE__PARALLELISM"] = "4"
        env.update(self.extra_env)
        self.env = env

    # --- commands --------------------------------------------------------------------------------

    def run(self, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> str:
        proc = subprocess.run([airflow_bin(), *args], env={**self.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"`airflow {' '.join(args)}` failed ({proc.returncode}):\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc.stdout

    def spm(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run([str(Path(sys.executable).with_name("spm")), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"`spm {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.log_dir / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen([airflow_bin(), *args], env={**self.env, **(env or {})}, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def start(self) -> "Cluster":
        self.run("db", "migrate", timeout=600)
        self._start("api-server", ["api-server", "--port", str(self.api_port), "--host", "127.0.0.1"])
        self._start("dag-processor", ["dag-processor"])
        self._start("triggerer", ["triggerer"])
        if self.executor == "CeleryExecutor":
            for worker in self.workers:
                self._start(worker, ["celery", "worker", "--concurrency", "2", "--celery-hostname", f"{worker}@%h"],
                            env={"SPM_SYSTEM_WORKER": worker})
        self._start("scheduler", ["scheduler"], env={"SPM_SYSTEM_WORKER": "scheduler"})
        self._wait_api()
        return self

    def _wait_api(self, timeout: float = 180) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health", timeout=5):
                    return
            except OSError:
                time.sleep(2)
        raise TimeoutError(f"api-server not answering after {timeout:.0f}s; log {self.log_dir / 'api-server.log'}")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-30:]
                raise RuntimeError(f"airflow {name} exited ({proc.returncode}):\n" + "\n".join(tail))

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # what the group left behind (task processes)
            except ProcessLookupError:
                pass
            proc.wait()
        self.procs.clear()

    # --- the metadata DB -------------------------------------------------------------------------

    def metadata(self) -> sa.Engine:
        if not hasattr(self, "_metadata"):
            self._metadata = sa.create_engine(self.metadata_url, pool_pre_ping=True)
        return self._metadata

    def wait_parsed(self, dag_ids: list[str], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with self.metadata().connect() as conn:
                found = {r[0] for r in conn.execute(sa.text("SELECT dag_id FROM dag WHERE is_stale IS NOT TRUE"))}
                errors = conn.execute(sa.text("SELECT filename, stacktrace FROM import_error")).all()
            if errors:
                raise AssertionError("DAG import errors: " + "; ".join(f"{f}: {s[-500:]}" for f, s in errors))
            if set(dag_ids) <= found:
                return
            time.sleep(2)
        raise TimeoutError(f"DAGs not parsed after {timeout:.0f}s: {sorted(set(dag_ids) - found)}")

    def trigger(self, dag_id: str, conf: dict | None, run_id: str) -> str:
        args = ["dags", "trigger", dag_id, "--run-id", run_id]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        self.run(*args)
        return run_id

    def runs(self) -> list[dict]:
        with self.metadata().connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(
                "SELECT dag_id, run_id, state, run_type, conf, start_date, end_date FROM dag_run ORDER BY id"))]

    def task_instances(self) -> list[dict]:
        with self.metadata().connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(
                "SELECT dag_id, run_id, task_id, map_index, state, try_number, hostname, start_date, end_date "
                "FROM task_instance ORDER BY start_date"))]

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with self.metadata().connect() as conn:
                state = conn.execute(sa.text("SELECT state FROM dag_run WHERE dag_id = :d AND run_id = :r"),
                                     {"d": dag_id, "r": run_id}).scalar_one_or_none()
            if state in TERMINAL:
                return {"dag_id": dag_id, "run_id": run_id, "state": state}
            time.sleep(3)
        raise TimeoutError(f"{dag_id} {run_id} not finished after {timeout:.0f}s\n" + self.excerpt())

    def wait_quiet(self, timeout: float, settle: float = 20) -> None:
        """Until no DAG run is queued or running for `settle` seconds (Asset-triggered runs included)."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            self.check_alive()
            with self.metadata().connect() as conn:
                busy = conn.execute(sa.text(
                    "SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running')")).scalar_one()
                pending = conn.execute(sa.text("SELECT count(*) FROM asset_dag_run_queue")).scalar_one()
            if busy or pending:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return
            time.sleep(3)
        raise TimeoutError(f"DAG runs still busy after {timeout:.0f}s\n" + self.excerpt())

    def task_log(self, ti: dict, lines: int = 12) -> str:
        base = self.home / "airflow" / "logs" / f"dag_id={ti['dag_id']}" / f"run_id={ti['run_id']}" / \
            f"task_id={ti['task_id']}"
        if ti["map_index"] is not None and ti["map_index"] >= 0:
            base = base / f"map_index={ti['map_index']}"
        files = sorted(base.glob("attempt=*.log")) if base.exists() else []
        if not files:
            return f"(no log under {base})"
        text = files[-1].read_text(errors="replace").splitlines()
        errors = [line for line in text if '"level":"error"' in line or '"level":"warning"' in line]
        return "\n".join(line[:1500] for line in (errors or text)[-lines:])

    def excerpt(self) -> str:
        """The failed or retried task instances with their log tails, for an assertion message."""
        bad = [ti for ti in self.task_instances()
               if ti["state"] in ("failed", "up_for_retry", "upstream_failed") or (ti["try_number"] or 0) > 1]
        parts = []
        for ti in bad[:5]:
            parts.append(f"--- {ti['dag_id']} {ti['run_id']} {ti['task_id']}[{ti['map_index']}] {ti['state']} "
                         f"try {ti['try_number']} on {ti['hostname']}\n{self.task_log(ti)}")
        return "\n".join(parts)
